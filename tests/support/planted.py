"""Deliberately broken variants of the reference server, for the suite's sensitivity test.

Each Bug breaks one behaviour in one of three ways: patching methods of a fresh app's own
store, wrapping the app in ASGI middleware that rewrites requests or responses, or - for the
duration of `planted(bug)` only - replacing a handler function. `--app
tests.support.planted:app` serves the variant that is currently planted.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import importlib
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

from handlers.app import create_app
from handlers.settings import Settings
from handlers.store import Store, open_store

Scope = dict[str, Any]


@dataclass
class Answer:
    """A whole response, for a bug to edit."""

    status: int
    headers: dict[str, str]  # lower-case names; Set-Cookie is kept aside, untouched
    body: bytes


Edit = Callable[[Scope, Answer], None]


@dataclass(frozen=True)
class Bug:
    name: str
    module: str  # the suite's test file that should notice
    select: tuple[str, ...]  # pytest arguments that pick the tests which should notice
    expect: str  # text the failing test id or failure message must contain
    store: Callable[[Store], None] | None = None
    request: Callable[[Scope], None] | None = None
    response: Edit | None = None
    handler: tuple[str, str, Callable[[Any], Any]] | None = None  # module, name, wrap(original)


class Rewrite:
    """ASGI middleware that edits requests before, and whole responses after, the app."""

    def __init__(self, app: Any, bug: Bug) -> None:
        self.app, self.bug = app, bug

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope = {**scope, "headers": list(scope["headers"])}
        if self.bug.request is not None:
            self.bug.request(scope)
        if self.bug.response is None:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def keep(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, keep)
        raw = [(k.decode().lower(), v.decode()) for k, v in start.get("headers", [])]
        cookies = [(k, v) for k, v in raw if k == "set-cookie"]  # may repeat: kept as they are
        answer = Answer(
            start["status"], {k: v for k, v in raw if k != "set-cookie"}, b"".join(chunks)
        )
        self.bug.response(scope, answer)
        answer.headers["content-length"] = str(len(answer.body))
        headers = [*answer.headers.items(), *cookies]
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [(k.encode(), v.encode()) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})


_planted: list[Bug] = []


@contextlib.contextmanager
def planted(bug: Bug) -> Iterator[None]:
    """Make `app()` serve this bug (and swap its handler function in) until the block ends."""
    restore: Callable[[], None] = lambda: None  # noqa: E731
    if bug.handler is not None:
        module_name, name, wrap = bug.handler
        module = importlib.import_module(module_name)
        original = getattr(module, name)
        setattr(module, name, wrap(original))
        restore = lambda: setattr(module, name, original)  # noqa: E731
    _planted.append(bug)
    try:
        yield
    finally:
        _planted.remove(bug)
        restore()


def app() -> Any:
    """The reference server with the planted bug (without response validation, so the bug
    reaches the client instead of becoming a 500)."""
    bug = _planted[-1]
    store = open_store("sqlite://")
    if bug.store is not None:
        bug.store(store)
    application = create_app(Settings(database_url="sqlite://"), store=store)
    return Rewrite(application, bug) if bug.request or bug.response else application


# ------------------------------------------------------------------ building blocks


def no_op(*methods: str) -> Callable[[Store], None]:
    """The store pretends to do these and does nothing (the handler still answers 200)."""

    def patch(store: Store) -> None:
        for method in methods:
            getattr(store, method)  # fail loudly if the store's interface moved
            setattr(store, method, lambda *args, **kwargs: None)

    return patch


def wrap_store(method: str, wrap: Callable[[Any], Any]) -> Callable[[Store], None]:
    def patch(store: Store) -> None:
        setattr(store, method, wrap(getattr(store, method)))

    return patch


def json_edit(path_test: Callable[[str, str], bool], edit: Callable[[Any], Any]) -> Edit:
    """Rewrite the JSON of successful answers to matching requests."""

    def response(scope: Scope, answer: Answer) -> None:
        if 200 <= answer.status < 300 and answer.body and path_test(scope["method"], scope["path"]):
            answer.body = json.dumps(edit(json.loads(answer.body))).encode()

    return response


def when(
    test: Callable[[Scope, Answer], bool],
    *,
    status: int | None = None,
    content_type: str | None = None,
    body: bytes | None = None,
) -> Edit:
    """Change the status, content type or body of the answers that pass a test."""

    def response(scope: Scope, answer: Answer) -> None:
        if test(scope, answer):
            answer.status = answer.status if status is None else status
            if content_type is not None:
                answer.headers["content-type"] = content_type
            answer.body = answer.body if body is None else body

    return response


def always(value: Any) -> Callable[[Any], Any]:
    """A handler replacement that is a constant."""
    return lambda original: value


def is_user_by_id(method: str, path: str) -> bool:
    parts = path.strip("/").split("/")
    return (
        method == "GET"
        and len(parts) == 3
        and parts[:2] == ["api", "users"]
        and (parts[2].isdigit())
    )


def search(method: str, path: str) -> bool:
    return method == "GET" and path == "/api/users/search"


def drop(key: str) -> Callable[[Any], Any]:
    return lambda body: {k: v for k, v in body.items() if k != key}


def hits(edit: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Any], Any]:
    return lambda body: {**body, "users": [edit(dict(u)) for u in body["users"]]}


def set_header(scope: Scope, name: bytes, value: bytes) -> None:
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() != name] + [(name, value)]


def has_credentials(scope: Scope) -> bool:
    return any(k.lower() in (b"authorization", b"cookie") for k, _ in scope["headers"])


def page_one(original: Any) -> Any:
    """search_users always returns the first page, while echoing the page asked for."""

    def search_users(**kwargs: Any) -> Any:
        return replace(original(**{**kwargs, "page": 1}), page=kwargs["page"])

    return search_users


# ------------------------------------------------------------------ whole-run observers
# ASGI wrappers around the reference server for the suite's own tests: they watch or
# disturb the HTTP exchange only, so they do not depend on the server's internals.

kept: Any = None  # `--app tests.support.planted:kept`: an app a test made (and inspects)

WRONG_CREDENTIALS = "Invalid username or password"  # Grafana's answer to a failed login


def _header(scope: Scope, name: bytes) -> str:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == name), "")


def _cookie(scope: Scope, name: str = "grafana_session") -> str | None:
    for part in _header(scope, b"cookie").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def _set_cookie_header(scope: Scope, value: str) -> None:
    set_header(scope, b"cookie", f"grafana_session={value}".encode())


async def _read_body(receive: Any) -> tuple[bytes, Any]:
    """The whole request body, and a receive() that replays it to the app."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if sent:
            later: dict[str, Any] = await receive()
            return later
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


async def _answer(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class Observer:
    """Counts what the suite sent as the server saw it: failed password logins (a 401
    "Invalid username or password" to a request that carried a password: Grafana's
    worst case, where an unknown name counts too) and every page size asked for."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.failed_logins: list[str] = []  # "METHOD path" of each
        self.page_sizes: list[str] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        self.page_sizes += [v for k, v in query if k in ("perpage", "limit")]
        body, receive = await _read_body(receive)
        carries_password = _basic_password(scope) or _form_password(scope, body)
        status: list[int] = []
        chunks: list[bytes] = []

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            else:
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, watch)
        if carries_password and status == [401] and WRONG_CREDENTIALS.encode() in b"".join(chunks):
            self.failed_logins.append(f"{scope['method']} {scope['path']}")


def _basic_password(scope: Scope) -> bool:
    scheme, _, token = _header(scope, b"authorization").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(token.strip())
    except (binascii.Error, ValueError):
        return False
    return bool(decoded.partition(b":")[2])


def _form_password(scope: Scope, body: bytes) -> bool:
    if scope["method"] != "POST" or scope["path"] != "/login":
        return False
    try:
        form = json.loads(body)
    except ValueError:
        return False
    return isinstance(form, dict) and any(
        k.lower() == "password" and isinstance(v, str) and v for k, v in form.items()
    )


class RefuseToDelete:
    """Answers 500 to every DELETE of the users whose login ends with `suffix` (the
    run's throwaway Grafana Admin, `<prefix>root`): a clean-up that cannot finish."""

    def __init__(self, app: Any, suffix: str = "-root") -> None:
        self.app, self.suffix = app, suffix
        self.protected: set[str] = set()  # user ids, as they appear in paths

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parts = scope["path"].strip("/").split("/")
        deleting = scope["method"] == "DELETE" and parts[:3] == ["api", "admin", "users"]
        if deleting and len(parts) == 4 and parts[3] in self.protected:
            await _answer(send, 500, {"message": "Failed to delete user"})
            return
        if scope["method"] == "POST" and scope["path"] == "/api/admin/users":
            body, receive = await _read_body(receive)
            login = json.loads(body or b"{}").get("login", "")
            chunks: list[bytes] = []

            async def keep(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.body":
                    chunks.append(message.get("body", b""))
                await send(message)

            await self.app(scope, receive, keep)
            if isinstance(login, str) and login.endswith(self.suffix):
                with contextlib.suppress(ValueError):
                    self.protected.add(str(json.loads(b"".join(chunks))["id"]))
            return
        await self.app(scope, receive, send)


class ExpireSessions:
    """A session cookie stops working after `uses` requests (as an expired or revoked
    Grafana session does): every later request with it gets 401."""

    def __init__(self, app: Any, uses: int) -> None:
        self.app, self.uses = app, uses
        self.seen: dict[str, int] = {}
        self.expired: set[str] = set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        cookie = _cookie(scope) if scope["type"] == "http" else None
        if cookie is not None:
            self.seen[cookie] = self.seen.get(cookie, 0) + 1
            if self.seen[cookie] > self.uses:
                self.expired.add(cookie)
            if cookie in self.expired:
                await _answer(send, 401, {"message": "Unauthorized"})
                return
        await self.app(scope, receive, send)


class RotateSessions:
    """Every `every` requests with a session cookie, the answer carries a Set-Cookie with
    a new one, and the old one stops working (as Grafana's token rotation does)."""

    def __init__(self, app: Any, every: int) -> None:
        self.app, self.every = app, every
        self.real: dict[str, str] = {}  # handed-out cookie -> the session it stands for
        self.seen: dict[str, int] = {}
        self.retired: set[str] = set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        cookie = _cookie(scope) if scope["type"] == "http" else None
        if cookie is None:
            await self.app(scope, receive, send)
            return
        if cookie in self.retired:
            await _answer(send, 401, {"message": "Unauthorized"})
            return
        scope = {**scope, "headers": list(scope["headers"])}
        _set_cookie_header(scope, self.real.get(cookie, cookie))
        self.seen[cookie] = self.seen.get(cookie, 0) + 1
        rotate = self.seen[cookie] % self.every == 0
        new = secrets.token_hex(16)

        async def rotating(message: dict[str, Any]) -> None:
            if rotate and message["type"] == "http.response.start":
                cookie_header = f"grafana_session={new}; Path=/; HttpOnly; SameSite=Lax"
                headers = [*message.get("headers", []), (b"set-cookie", cookie_header.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, rotating)
        if rotate:
            self.real[new] = self.real.get(cookie, cookie)
            self.retired.add(cookie)
