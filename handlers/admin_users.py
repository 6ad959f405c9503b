"""Supporting operations tagged `admin_users`: create, delete, reset, promote, disable users."""

from __future__ import annotations

from typing import Any

from handlers import deps, sessions, versions, views
from handlers.errors import ApiError, BadRequest, NotFound, PreconditionFailed
from handlers.passwords import encode_password, random_string, too_short
from handlers.store import LastAdmin, LoginConflict, OrgNotFound, UserNotFound

JSON = dict[str, Any]


def _password_policy(password: str) -> None:
    if too_short(password):
        raise BadRequest(
            "New password is too short", message_id="password.password-policy-too-short"
        )


def admin_create_user(body: JSON) -> JSON:
    login, email = str(body.get("login") or ""), str(body.get("email") or "")
    password = str(body.get("password") or "")
    if not password:
        raise BadRequest()
    if not (login or email):
        raise BadRequest(
            "Need to specify either username or email", message_id="user.empty-username-and-email"
        )
    _password_policy(password)
    salt = random_string(10)
    try:
        user = deps.store().create_user(
            login=login,
            email=email,
            name=str(body.get("name") or ""),
            password_hash=encode_password(password, salt),
            salt=salt,
            org_id=body.get("orgId") or None,
        )
    except OrgNotFound:
        raise BadRequest("organization not found") from None
    except LoginConflict:
        raise PreconditionFailed(
            f"User with email '{email}' or username '{login}' already exists"
        ) from None
    return {"id": user.id, "uid": user.uid, "message": "User created"}


def admin_delete_user(user_id: int) -> JSON:
    try:
        deps.store().delete_user(user_id)
    except UserNotFound:
        raise NotFound("user not found") from None
    return views.message("User deleted")


def admin_update_user_password(user_id: int, body: JSON) -> JSON:
    password = str(body.get("password") or "")
    if not password:
        raise BadRequest()
    _password_policy(password)
    store = deps.store()
    try:
        user = store.get_user(user_id)
    except UserNotFound:
        raise versions.error("password-unknown-user-message") from None
    store.set_password(user.id, encode_password(password, user.salt))
    # As in Grafana: a reset lifts the lockout and ends every session of the user.
    store.reset_failed_logins(user.login)
    store.revoke_all_sessions(user.id)
    return views.message("User password updated")


def admin_update_user_permissions(user_id: int, body: JSON) -> JSON:
    try:
        deps.store().set_grafana_admin(user_id, bool(body.get("isGrafanaAdmin")))
    except UserNotFound:
        if versions.holds("permissions-unknown-user-200"):
            return views.message(versions.answer("permissions-unknown-user-200").message or "")
        raise versions.error("permissions-unknown-user-200") from None
    except LastAdmin:
        raise BadRequest("cannot remove last grafana admin") from None
    return views.message("User permissions updated")


def _set_disabled(user_id: int, disabled: bool) -> None:
    store = deps.store()
    if store.is_external(user_id):  # Grafana leaves that to the identity provider
        raise ApiError(f"Could not {'disable' if disabled else 'enable'} external user")
    try:
        store.set_disabled(user_id, disabled)
    except UserNotFound:
        raise NotFound("user not found") from None


def admin_disable_user(user_id: int) -> JSON:
    _set_disabled(user_id, True)
    return views.message("User disabled")


def admin_enable_user(user_id: int) -> JSON:
    _set_disabled(user_id, False)
    return views.message("User enabled")


def admin_logout_user(user_id: int) -> JSON:
    store = deps.store()
    _existing(user_id)
    if user_id == deps.caller().user_id:
        raise BadRequest("You cannot logout yourself")
    store.revoke_all_sessions(user_id)
    return views.message("User logged out")


def admin_get_user_auth_tokens(user_id: int) -> list[JSON]:
    _existing(user_id)
    return sessions.sessions_of(user_id)


def admin_revoke_user_auth_token(user_id: int, body: JSON) -> JSON:
    _existing(user_id)
    return sessions.revoke_session(user_id, body)


def _existing(user_id: int) -> None:
    """Grafana reads the user first: an unknown one is 404 "User not found"."""
    try:
        deps.store().get_user(user_id)
    except UserNotFound:
        raise NotFound("User not found") from None
