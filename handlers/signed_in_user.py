"""Operations tagged `signed_in_user`: the caller's own profile, orgs, teams, stars, sessions."""

from __future__ import annotations

import contextlib
from typing import Any

from handlers import deps, sessions, versions, views
from handlers.errors import BadRequest, Forbidden, NotFound, Unauthorized
from handlers.passwords import encode_password, password_matches, too_short
from handlers.profiles import apply_update, profile, profile_of
from handlers.store import DashboardNotFound, NotAMember

JSON = dict[str, Any]


def get_signed_in_user(accesscontrol: str | None = None) -> JSON:
    who = deps.caller()
    if who.is_user:
        # The row authentication just read (one read per request instead of two).
        if who.user is not None:
            return profile_of(who.user, accesscontrol)
        return profile(who.user_id, accesscontrol)
    # Newer Grafana answers a service account with a minimal, id-less profile.
    return {
        "id": 0,
        "uid": f"service-account:{who.user_id}",
        "email": "",
        "name": who.login,
        "login": who.login,
        "theme": "",
        "orgId": who.org_id,
        "isGrafanaAdmin": False,
        "isDisabled": False,
        "isExternal": False,
        "isExternallySynced": False,
        "isGrafanaAdminExternallySynced": False,
        "authLabels": None,
        "updatedAt": "0001-01-01T00:00:00Z",
        "createdAt": "0001-01-01T00:00:00Z",
        "avatarUrl": "",
    }


def update_signed_in_user(body: JSON) -> JSON:
    return apply_update(deps.caller().user_id, body)


def change_user_password(body: JSON) -> JSON:
    who = deps.caller()
    store = deps.store()
    if store.is_external(who.user_id):
        raise Forbidden("Cannot update external User")
    user = store.get_user(who.user_id)
    if not password_matches(str(body.get("oldPassword", "")), user.salt, user.password):
        if versions.holds("old-password-401"):
            raise versions.error("old-password-401")
        raise BadRequest("Invalid old password", message_id="user.password-missmatch")
    new = str(body.get("newPassword", ""))
    if too_short(new):
        if versions.holds("short-password-500"):
            raise versions.error("short-password-500")
        raise BadRequest(
            "New password is too short", message_id="password.password-policy-too-short"
        )
    store.set_password(who.user_id, encode_password(new, user.salt))
    return views.message("User password changed")


def user_set_using_org(org_id: int) -> JSON:
    who = deps.caller()
    try:
        deps.store().set_active_org(who.user_id, org_id)
    except NotAMember:
        raise Unauthorized("Not a valid organization") from None
    return views.message("Active organization changed")


def get_signed_in_user_org_list() -> list[JSON]:
    return [views.user_org(m) for m in deps.store().user_orgs(deps.caller().user_id)]


def get_signed_in_user_team_list() -> list[JSON]:
    who = deps.caller()
    return [views.team(t) for t in deps.store().user_teams(who.user_id, who.org_id)]


def _dashboard_id(dashboard_id: int) -> int:
    if dashboard_id <= 0:
        raise BadRequest("Missing dashboard id")
    return dashboard_id


def star_dashboard(dashboard_id: int) -> JSON:
    # The deprecated by-id route never checked that the dashboard exists.
    who = deps.caller()
    deps.store().star(who.user_id, _dashboard_id(dashboard_id), who.org_id)
    return views.message("Dashboard starred!")


def unstar_dashboard(dashboard_id: int) -> JSON:
    deps.store().unstar(deps.caller().user_id, _dashboard_id(dashboard_id))
    return views.message("Dashboard unstarred")


def star_dashboard_by_uid(dashboard_uid: str) -> JSON:
    who = deps.caller()
    store = deps.store()
    try:
        dashboard = store.get_dashboard(who.org_id, dashboard_uid)
    except DashboardNotFound:
        raise NotFound("Dashboard not found") from None
    store.star(who.user_id, dashboard.id, who.org_id)
    return views.message("Dashboard starred!")


def unstar_dashboard_by_uid(dashboard_uid: str) -> JSON:
    who = deps.caller()
    store = deps.store()
    # Unstarring what is not starred (or not there at all) is not an error.
    with contextlib.suppress(DashboardNotFound):
        store.unstar(who.user_id, store.get_dashboard(who.org_id, dashboard_uid).id)
    return views.message("Dashboard unstarred")


def get_stars() -> list[str]:
    who = deps.caller()
    return deps.store().starred_uids(who.user_id, who.org_id)


def get_user_auth_tokens() -> list[JSON]:
    return sessions.sessions_of(deps.caller().user_id)


def revoke_user_auth_token(body: JSON) -> JSON:
    return sessions.revoke_session(deps.caller().user_id, body)
