"""Supporting operations tagged `teams`: create, find, read and delete teams, add and
remove members."""

from __future__ import annotations

from typing import Any

from handlers import deps, versions, views
from handlers.errors import BadRequest, Conflict, NotFound
from handlers.profiles import org_access_metadata
from handlers.store import (
    AlreadyMember,
    NameTaken,
    NotAMember,
    PatternTooLong,
    TeamNotFound,
    UserNotFound,
)
from handlers.store.db import INT64_MAX

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


def get_team_by_id(team_id: int, accesscontrol: str | None = None) -> JSON:
    who = deps.caller()
    try:
        found = deps.store().get_team(who.org_id, team_id, who.user_id)
    except TeamNotFound:
        raise NotFound("Team not found") from None
    return views.team(found, access=_team_metadata(accesscontrol))


def _team_metadata(accesscontrol: str | None) -> dict[str, bool] | None:
    actions = org_access_metadata(accesscontrol, deps.app_context().spec.org_admin_team_actions)
    return actions or None  # Grafana's nil map: "accessControl": null


def delete_team_by_id(team_id: int) -> JSON:
    who = deps.caller()
    try:
        deps.store().delete_team(who.org_id, team_id)
    except TeamNotFound:
        raise versions.error("team-delete-not-found-message") from None
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


TEAMS_PAGE_SIZE = 1000


def search_teams(
    query: str | None = None,
    name: str | None = None,
    perpage: int = TEAMS_PAGE_SIZE,
    page: int = 1,
    accesscontrol: str | None = None,
) -> JSON:
    # Grafana: zero or less means 1000, a page below 1 means 1.
    per_page = perpage if perpage > 0 else TEAMS_PAGE_SIZE
    page = max(page, 1)
    offset = per_page * (page - 1)
    who = deps.caller()
    try:
        total, teams = deps.store().search_teams(
            who.org_id,
            query=query or "",
            name=name or "",
            limit=per_page,
            offset=min(offset, INT64_MAX),
        )
    except PatternTooLong:  # beyond the database's limit: the client's fault, not a 500
        raise BadRequest() from None
    return {
        "totalCount": total,
        "teams": [views.team(t, access=_team_metadata(accesscontrol)) for t in teams],
        "page": page,
        "perPage": per_page,
    }


def remove_team_member(team_id: int, user_id: int) -> JSON:
    who = deps.caller()
    try:
        deps.store().remove_team_member(who.org_id, team_id, user_id)
    except TeamNotFound:
        raise NotFound("Team not found") from None
    except NotAMember:
        raise NotFound("Team member not found") from None
    return views.message("Team Member removed")


def get_team_members(team_id: int) -> list[JSON]:
    who = deps.caller()
    return [views.team_member(m) for m in deps.store().team_members(who.org_id, team_id)]
