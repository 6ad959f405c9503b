"""Supporting operations tagged `login`: form login (session cookie) and logout."""

from __future__ import annotations

import secrets
from typing import Any

from connexion import request
from starlette.responses import JSONResponse, RedirectResponse, Response

from handlers import deps, pages
from handlers.auth import DAY, client_ip, session_user, user_identity, verify_password
from handlers.errors import BadRequest
from handlers.passwords import keyed_hash

JSON = dict[str, Any]


def get_login_page() -> Response:
    """The login form; a browser whose session is still valid is sent on to the home page
    instead, as Grafana's login view does."""
    ctx = deps.app_context()
    cookie = request.cookies.get(ctx.settings.cookie_name)
    found = session_user(ctx, cookie) if cookie else None
    if found is not None and not found[1].is_disabled:
        return RedirectResponse("/", status_code=302)
    return pages.login_page()


def login(body: JSON) -> Response:
    user_name, password = str(body.get("user") or ""), str(body.get("password") or "")
    if not (user_name and password):
        raise BadRequest("bad login data", message_id="form-auth.invalid")
    ctx = deps.app_context()
    ip = client_ip(request)
    user = verify_password(ctx, user_name, password, ip)
    user_identity(ctx, user)  # refuses disabled users, updates last-seen
    token = secrets.token_hex(16)
    now = ctx.store.db.clock.seconds()
    ctx.store.create_session(
        user.id,
        keyed_hash(token, ctx.settings.secret_key),
        user_agent=request.headers.get("user-agent", ""),
        client_ip=ip,
        now=now,
    )
    max_age = ctx.settings.login_max_lifetime_days * DAY
    response = JSONResponse({"message": "Logged in", "redirectUrl": "/"})
    response.set_cookie(
        ctx.settings.cookie_name, token, max_age=max_age, path="/", httponly=True, samesite="lax"
    )
    response.set_cookie(
        "grafana_session_expiry", str(now + max_age), max_age=max_age, path="/", samesite="lax"
    )
    return response


def logout() -> Response:
    ctx = deps.app_context()
    cookie = request.cookies.get(ctx.settings.cookie_name)
    if cookie:
        ctx.store.delete_session_by_hash(keyed_hash(cookie, ctx.settings.secret_key))
    response = RedirectResponse("/login", status_code=302)
    response.delete_cookie(ctx.settings.cookie_name, path="/", httponly=True, samesite="lax")
    response.delete_cookie("grafana_session_expiry", path="/", samesite="lax")
    return response
