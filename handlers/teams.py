"""Supporting operations tagged `teams`: create, read and delete teams, add members."""

from __future__ import annotations

from typing import Any

from handlers import deps, views
from handlers.errors import BadRequest, Conflict, NotFound
from handlers.store import AlreadyMember, NameTaken, TeamNotFound, UserNotFound

JSON = dict[str, Any]


def create_team(body: JSON) -> JSON:
    who = deps.caller()
    try:
        team_id, uid = deps.store().create_team(
            who.org_id,
            str(body["name"]),
            str(body.get("email") or ""),
            creator_id=who.user_id if who.is_user else None,
        )
    except NameTaken:
        raise Conflict("Team name taken") from None
    return {"teamId": team_id, "uid": uid, "message": "Team created"}


def get_team_by_id(team_id: int) -> JSON:
    who = deps.caller()
    try:
        return views.team(deps.store().get_team(who.org_id, team_id, who.user_id))
    except TeamNotFound:
        raise NotFound("Team not found") from None


def delete_team_by_id(team_id: int) -> JSON:
    who = deps.caller()
    try:
        deps.store().delete_team(who.org_id, team_id)
    except TeamNotFound:
        raise NotFound("Failed to delete Team. ID not found") from None
    return views.message("Team deleted")


def add_team_member(team_id: int, body: JSON) -> JSON:
    who = deps.caller()
    if not body["userId"]:  # Grafana's binding:"Required" refuses a zero id
        raise BadRequest()
    store = deps.store()
    try:
        user = store.get_user(int(body["userId"]))
        store.add_team_member(who.org_id, team_id, user.id)
    except UserNotFound:
        raise NotFound("User not found") from None
    except TeamNotFound:
        raise NotFound("Team not found") from None
    except AlreadyMember:
        raise BadRequest("User is already added to this team") from None
    return views.message("Member added to Team")
