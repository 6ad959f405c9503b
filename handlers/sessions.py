"""A user's login sessions, listed and revoked: for the caller's own (/api/user) and, by a
Grafana Admin, for any user's (/api/admin/users/{user_id})."""

from __future__ import annotations

from typing import Any

from handlers import deps, views
from handlers.errors import BadRequest, NotFound
from handlers.store import TokenNotFound

JSON = dict[str, Any]
DAY = 24 * 3600


def _session_window() -> dict[str, int]:
    now, settings = deps.clock().seconds(), deps.settings()
    return {
        "created_after": now - settings.login_max_lifetime_days * DAY,
        "seen_after": now - settings.login_max_inactive_days * DAY,
    }


def sessions_of(user_id: int) -> list[JSON]:
    """A user's live sessions; `isActive` marks the one carrying this request."""
    tokens = deps.store().list_sessions(user_id, **_session_window())
    return [views.auth_token(t, current_session=deps.caller().session_id) for t in tokens]


def revoke_session(user_id: int, body: JSON) -> JSON:
    """End the user's session `authTokenId`; never the one carrying this request."""
    store = deps.store()
    try:
        token = store.get_session(user_id, int(body.get("authTokenId") or 0))
    except TokenNotFound:
        raise NotFound("User auth token not found") from None
    if token.id == deps.caller().session_id:
        raise BadRequest("Cannot revoke active user auth token")
    store.delete_session(token.id)
    return views.message("User auth token revoked")
