"""Reading and updating one user's profile: shared by the `users` and `signed_in_user` tags."""

from __future__ import annotations

from typing import Any

from handlers import deps, versions, views
from handlers.errors import BadRequest, Conflict, Forbidden, NotFound
from handlers.store import LoginConflict, UserNotFound
from handlers.store.models import User

JSON = dict[str, Any]
# What Go's strconv.ParseBool reads as true (Grafana's QueryBool); anything else is false.
GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def profile(user_id: int, accesscontrol: str | None = None) -> JSON:
    store = deps.store()
    try:
        user = store.get_user(user_id)
    except UserNotFound:
        raise NotFound("user not found") from None
    return profile_of(user, accesscontrol)


def profile_of(user: User, accesscontrol: str | None = None) -> JSON:
    body = views.user_profile(user, is_external=bool(user.auth_labels))
    if accesscontrol in GO_TRUE:
        actions = access_metadata()
        if actions:  # Grafana leaves the field out when the caller holds nothing on the user
            body["accessControl"] = actions
    return body


def access_metadata() -> dict[str, bool]:
    """The actions the caller holds on any user (x-grafana-access-metadata): a Grafana
    Admin's global user permissions; none for anyone else."""
    if not deps.caller().is_admin:
        return {}
    return dict.fromkeys(deps.app_context().spec.admin_user_actions, True)


def org_access_metadata(accesscontrol: str | None, actions: tuple[str, ...]) -> dict[str, bool]:
    """`accessControl` for each team or org user when asked for (x-grafana-access-metadata):
    the org Admin's actions on them; the callers these operations admit hold exactly those
    (they are org Admins, or Grafana Admins on an org's users)."""
    if accesscontrol not in GO_TRUE:
        return {}
    return dict.fromkeys(actions, True)


def apply_update(user_id: int, body: JSON) -> JSON:
    """Grafana's update rules, shared by PUT /api/users/{id} and PUT /api/user."""
    store = deps.store()
    login = str(body.get("login") or "").strip()
    email = str(body.get("email") or "").strip()
    if store.is_external(user_id):
        raise Forbidden("Cannot update external User")
    if not (login or email):
        raise BadRequest(
            "Need to specify either username or email", message_id="user.empty-username-and-email"
        )
    try:
        store.update_user(
            user_id,
            login=login or email,
            email=email,
            name=str(body.get("name") or ""),
            theme=str(body.get("theme") or ""),
        )
    except UserNotFound:
        raise NotFound("user not found") from None
    except LoginConflict:
        if versions.holds("update-conflict-500"):
            raise versions.error("update-conflict-500") from None
        raise Conflict("Update would result in user login conflict") from None
    return views.message("User updated")
