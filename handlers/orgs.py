"""Supporting operations tagged `orgs`: create and delete orgs, add members."""

from __future__ import annotations

from typing import Any

from contract import ORG_ROLES
from handlers import deps, views
from handlers.errors import BadRequest, Conflict, Forbidden, NotFound
from handlers.store import AlreadyMember, NameTaken, OrgNotFound, UserNotFound

JSON = dict[str, Any]


def create_org(body: JSON) -> JSON:
    # allow_org_create is off by default in Grafana: only Grafana Admins create orgs.
    who = deps.caller()
    try:
        org_id = deps.store().create_org(str(body["name"]), creator_id=who.user_id)
    except NameTaken:
        raise Conflict("Organization name taken") from None
    return {"orgId": org_id, "message": "Organization created"}


def delete_org_by_id(org_id: int) -> JSON:
    who = deps.caller()
    if org_id == who.org_id:
        raise BadRequest("Can not delete org for current user")
    try:
        deps.store().delete_org(org_id)
    except OrgNotFound:
        raise NotFound("Failed to delete organization. ID not found") from None
    return views.message("Organization deleted")


def add_org_user(org_id: int, body: JSON) -> JSON:
    who, store = deps.caller(), deps.store()
    role = str(body["role"])
    # Grafana compares with the caller's role where they are, not in the target org.
    if not who.is_admin and ORG_ROLES.index(role) > ORG_ROLES.index(who.org_role):
        raise Forbidden("Cannot assign a role higher than user's role")
    try:
        user = store.find_user(str(body["loginOrEmail"]))
        store.add_org_user(org_id, user.id, role)
    except UserNotFound:
        raise NotFound("User not found") from None
    except OrgNotFound:
        raise NotFound("Organization not found") from None
    except AlreadyMember:
        raise Conflict("User is already member of this organization", userId=user.id) from None
    return views.message("User added to organization", userId=user.id)
