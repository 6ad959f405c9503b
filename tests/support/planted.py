"""Deliberately broken variants of the reference server, for the suite's sensitivity test.

Each Bug breaks one behaviour in one of three ways: patching methods of a fresh app's own
store, wrapping the app in ASGI middleware that rewrites requests or responses, or - for the
duration of `planted(bug)` only - replacing a handler function. `--app
tests.support.planted:app` serves the variant that is currently planted.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

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
