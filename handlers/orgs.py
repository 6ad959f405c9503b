"""Supporting operations tagged `orgs`: list, find, create and delete orgs; list, add,
re-role and remove their members."""

from __future__ import annotations

from typing import Any

from contract import ORG_ROLES
from handlers import deps, versions, views
from handlers.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound
from handlers.profiles import org_access_metadata
from handlers.store import (
    AlreadyMember,
    LastAdmin,
    NameTaken,
    NotAMember,
    OrgNotFound,
    UserNotFound,
)
from handlers.store.db import INT64_MAX

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
        raise versions.error("delete-active-org-message")
    if org_id < 0 and versions.holds("delete-negative-org-500"):
        raise versions.error("delete-negative-org-500")
    try:
        deps.store().delete_org(org_id)
    except OrgNotFound:
        raise NotFound("Failed to delete organization. ID not found") from None
    return views.message("Organization deleted")


def _may_assign(role: str) -> None:
    """Grafana compares with the caller's role where they are, not in the target org."""
    who = deps.caller()
    if not who.is_admin and ORG_ROLES.index(role) > ORG_ROLES.index(who.org_role):
        raise Forbidden("Cannot assign a role higher than user's role")


def add_org_user(org_id: int, body: JSON) -> JSON:
    store = deps.store()
    role = str(body["role"])
    _may_assign(role)
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


ORGS_PAGE_SIZE = 1000


def search_orgs(
    query: str | None = None,
    name: str | None = None,
    perpage: int = ORGS_PAGE_SIZE,
    page: int = 0,
) -> list[JSON]:
    # Grafana: zero or less means 1000; the offset is perpage * page (page counts from 0).
    limit = perpage if perpage > 0 else ORGS_PAGE_SIZE
    offset = limit * max(page, 0)
    if offset > INT64_MAX:
        return []
    found = deps.store().search_orgs(query=query or "", name=name or "", limit=limit, offset=offset)
    return [{"id": org_id, "name": org_name} for org_id, org_name in found]


def get_org_by_name(org_name: str) -> JSON:
    try:
        org_id, found = deps.store().org_by_name(org_name)
    except OrgNotFound:
        raise NotFound("Organization not found") from None
    address = dict.fromkeys(("address1", "address2", "city", "zipCode", "state", "country"), "")
    return {"id": org_id, "name": found, "address": address}


def get_org_users(org_id: int, accesscontrol: str | None = None) -> list[JSON]:
    now = deps.clock().now()
    actions = deps.app_context().spec.org_admin_org_user_actions
    access = org_access_metadata(accesscontrol, actions)
    return [
        views.org_user(member, now=now, access=access)
        for member in deps.store().org_members(org_id)
    ]


def update_org_user(org_id: int, user_id: int, body: JSON) -> JSON:
    role = str(body["role"])
    _may_assign(role)
    try:
        deps.store().update_org_user(org_id, user_id, role)
    except NotAMember:
        raise ApiError("Failed update org user") from None
    except LastAdmin:
        raise BadRequest("Cannot change role so that there is no organization admin left") from None
    return views.message("Organization user updated")


def remove_org_user(org_id: int, user_id: int) -> JSON:
    try:
        deps.store().remove_org_user(org_id, user_id)
    except UserNotFound:
        raise ApiError("Failed to remove user from organization") from None
    except LastAdmin:
        raise BadRequest("Cannot remove last organization admin") from None
    return views.message("User removed from organization")
