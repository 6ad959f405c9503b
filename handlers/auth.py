"""Security functions for the spec's three schemes: basic, bearer token, session cookie.

Each returns {"sub": login, "identity": Identity} to accept, or raises Unauthorized with
Grafana's message. They run on the event loop, and so does the check itself until it would
write or hash a password; then it runs on a worker thread (handlers/inline.py).
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC
from typing import Any

from starlette.datastructures import QueryParams

from handlers import deps
from handlers.errors import Unauthorized
from handlers.passwords import keyed_hash, password_matches
from handlers.store.models import Identity, SessionToken, User
from handlers.versions import is_int64

LOCKOUT_WINDOW = 5 * 60
LAST_SEEN_INTERVAL = 15 * 60
SESSION_TOUCH_INTERVAL = 10 * 60
DAY = 24 * 3600


def bad_credentials() -> Unauthorized:
    return Unauthorized("Invalid username or password", message_id="password-auth.failed")


def address_blocked() -> Unauthorized:
    """Too many failed passwords from one client address (per-IP protection)."""
    return Unauthorized(
        "Login temporarily blocked", message_id="passwordless.invalid.login-attempt"
    )


def bad_api_key() -> Unauthorized:
    return Unauthorized("Invalid API key", message_id="api-key.invalid")


@functools.cache
def _header_key(name: str) -> bytes:
    """A header name as ASGI gives it: lower case, bytes."""
    return name.lower().encode("latin-1")


def _header(scope: Any, name: bytes) -> str:
    """A request header's first value, as Starlette's Headers reads it (latin-1; '' when
    absent), from the ASGI scope without building a Headers object. `name`: lower case."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def client_ip(request: Any) -> str:
    scope = request.scope
    forwarded = _header(scope, b"x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    client = scope.get("client")
    return str(client[0]) if client else ""


def requested_org(ctx: deps.AppContext, request: Any) -> int:
    """The organization a request asks to run in (0: none), as Grafana's authn service
    reads it: the query parameter when it is an integer above 0, else the header (any Go
    int64; the first value of each; text that is no integer asks for none)."""
    if request is None:
        return 0
    scope = request.scope
    selection = ctx.spec.org_selection
    query: bytes = scope.get("query_string", b"")
    # Parsed only when the name may be there (as written, or %-escaped).
    if query and (_header_key(selection.query) in query.lower() or b"%" in query):
        values = QueryParams(query).getlist(selection.query)
        if values and is_int64(values[0]) and int(values[0]) > 0:
            return int(values[0])
    header = _header(scope, _header_key(selection.header))
    return int(header) if is_int64(header) else 0


def accept(identity: Identity) -> dict[str, Any]:
    return {"sub": identity.login, "identity": identity}


def user_identity(
    ctx: deps.AppContext,
    user: User,
    session_id: int | None = None,
    *,
    role: str | None = None,
    org_id: int = 0,
) -> Identity:
    """The caller's identity; `role` when already read (their role in their current org);
    `org_id`: the org the request asks to run in (0: their current one). A user who is
    not a member of that org runs in none (org -1, role None), as in Grafana."""
    if user.is_disabled:
        raise Unauthorized("Unauthorized", message_id="identity.disabled")
    now = ctx.store.db.clock.time()
    # Stored times are naive UTC: as local time they would be hours off outside UTC.
    if now - user.last_seen_at.replace(tzinfo=UTC).timestamp() > LAST_SEEN_INTERVAL:
        ctx.store.touch_last_seen(user.id)
    active = user.org_id
    if org_id > 0 and org_id != user.org_id:
        active, role = org_id, ctx.store.org_role(user.id, org_id)
    elif role is None:
        role = ctx.store.org_role(user.id, active)
    if role is None:
        # Not a member of that org (or their current org was deleted): as Grafana's
        # GetSignedInUser, the request runs in no org (-1) with no role.
        active, role = -1, "None"
    return Identity(
        kind="user",
        user_id=user.id,
        login=user.login,
        org_id=active,
        org_role=role,
        is_admin=user.is_admin,
        session_id=session_id,
        user=user,
    )


def check_password(
    ctx: deps.AppContext, username: str, password: str, ip: str
) -> tuple[User, str | None]:
    """Check a login-or-email and password the way Grafana does, lockout included; returns
    the user and their role in their active org (None: no membership there). Lockout
    count, user and role come from one read."""
    settings, store = ctx.settings, ctx.store
    now = ctx.store.db.clock.seconds()
    since, most = now - LOCKOUT_WINDOW, settings.brute_force_max_attempts
    protect = not settings.disable_brute_force_protection
    by_name = protect and not settings.disable_username_login_protection
    by_address = protect and not settings.disable_ip_address_login_protection
    user, role, failures = store.credentials(username, failures_since=since if by_name else None)
    if by_name and failures >= most:
        raise bad_credentials()
    if by_address and store.failed_logins_from(ip, since) >= most:
        raise address_blocked()
    if user is None:
        # A failure is counted against a name only when an account has it, so nobody can
        # lock an account before it exists, nor grow the table with names that have
        # none. (Grafana's password client records every name; this is stricter.) With
        # per-address protection on it still counts for the address, without the name.
        if by_address:
            store.record_failed_login("", ip, now, forget_before=since)
        raise bad_credentials()
    key = (user.id, user.password, hashlib.sha256(password.encode()).hexdigest())
    if settings.credential_cache and ctx.credentials.contains(key):
        return user, role
    if not user.password or not password_matches(password, user.salt, user.password):
        if by_name or by_address:
            store.record_failed_login(username, ip, now, forget_before=since)
        raise bad_credentials()
    if settings.credential_cache:
        ctx.credentials.add(key)
    return user, role


def verify_password(ctx: deps.AppContext, username: str, password: str, ip: str) -> User:
    """Check a login-or-email and password the way Grafana does, lockout included."""
    return check_password(ctx, username, password, ip)[0]


def _basic(
    ctx: deps.AppContext, username: str, password: str, ip: str, org_id: int = 0
) -> dict[str, Any]:
    if username == "api_key":  # Grafana accepts a token as the password of user "api_key"
        return _token(ctx, password, org_id)
    user, role = check_password(ctx, username, password, ip)
    # In another org than their current one, user_identity reads their role there.
    known = role if org_id <= 0 or org_id == user.org_id else None
    return accept(user_identity(ctx, user, role=known, org_id=org_id))


def _token(ctx: deps.AppContext, token: str, org_id: int = 0) -> dict[str, Any]:
    identity = ctx.store.identity_for_key(
        keyed_hash(token, ctx.settings.secret_key), ctx.store.db.clock.seconds()
    )
    if identity is None:
        raise bad_api_key()
    if org_id != 0 and org_id != identity.org_id:
        # A token belongs to one organization: asking for another is refused.
        mismatch = ctx.spec.org_selection
        raise Unauthorized(
            mismatch.token_mismatch.message or "", message_id=mismatch.token_mismatch_id
        )
    return accept(identity)


def session_user(ctx: deps.AppContext, cookie: str) -> tuple[SessionToken, User, str | None] | None:
    """The live session a cookie names, its user and their role in their current org (None
    for the whole: no such session, expired, or its user is gone)."""
    now = ctx.store.db.clock.seconds()
    settings = ctx.settings
    return ctx.store.session_credentials(
        keyed_hash(cookie, settings.secret_key),
        created_after=now - settings.login_max_lifetime_days * DAY,
        seen_after=now - settings.login_max_inactive_days * DAY,
    )


def _session(ctx: deps.AppContext, cookie: str, org_id: int = 0) -> dict[str, Any]:
    found = session_user(ctx, cookie)
    if found is None:
        raise Unauthorized()
    token, user, role = found
    now = ctx.store.db.clock.seconds()
    if now - token.rotated_at > SESSION_TOUCH_INTERVAL:
        ctx.store.mark_seen(token.id, now)
    # In another org than their current one, user_identity reads their role there.
    known = role if org_id <= 0 or org_id == user.org_id else None
    return accept(user_identity(ctx, user, session_id=token.id, role=known, org_id=org_id))


def _utf8(text: str) -> str:
    """connexion decodes basic credentials as Latin-1; clients (and Grafana) send UTF-8.
    Grafana compares bytes, and every stored login and password is UTF-8 (it came in
    JSON): bytes that are not UTF-8 match nobody (not the account whose credentials are
    those letters in UTF-8)."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise bad_credentials() from None


async def basic_auth(username: str, password: str, request: Any = None) -> dict[str, Any]:
    ctx = deps.app_context()
    user, secret, ip = _utf8(username), _utf8(password), client_ip(request)
    org_id = requested_org(ctx, request)
    # The common case (known credentials, nothing to write) is one read: answered on the
    # event loop (PostgreSQL's awaited there); a write or a password hash moves the check
    # to a worker thread (handlers/inline.py).
    return await ctx.read_first(_basic, ctx, user, secret, ip, org_id)


async def bearer_auth(token: str, request: Any = None) -> dict[str, Any]:
    ctx = deps.app_context()
    org_id = requested_org(ctx, request)
    return await ctx.read_first(_token, ctx, token, org_id)


async def cookie_auth(api_key: str, request: Any = None) -> dict[str, Any]:
    ctx = deps.app_context()
    org_id = requested_org(ctx, request)
    return await ctx.read_first(_session, ctx, api_key, org_id)
