"""What a request can reach: the app's context (store, settings, caches) and the caller."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from threading import Lock
from typing import Any, TypeVar

from connexion import context, request

from contract import Contract
from handlers.clock import Clock
from handlers.inline import loop_first
from handlers.settings import Settings
from handlers.store import Store
from handlers.store.models import Identity

SCOPE_KEY = "userapi"
T = TypeVar("T")


class CredentialCache:
    """Remembers passwords already verified against a stored hash, so basic auth does not
    pay PBKDF2's 10,000 rounds on every request. Keyed by the stored hash, which every
    request reads from the database: a password change anywhere (any worker) misses."""

    def __init__(self, size: int = 10_000) -> None:
        self._entries: OrderedDict[tuple[int, str, str], None] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def contains(self, key: tuple[int, str, str]) -> bool:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return True
            return False

    def add(self, key: tuple[int, str, str]) -> None:
        with self._lock:
            self._entries[key] = None
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


@dataclass
class AppContext:
    store: Store
    settings: Settings
    spec: Contract
    credentials: CredentialCache = field(default_factory=CredentialCache)

    async def read_first(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` on the event loop while it only reads, else on a thread
        (handlers/inline.py): SQLite's reads directly; PostgreSQL's first without a
        connection, compiled reads answered ahead, else through its asyncio connections
        (Database.on_loop's `lazily`)."""
        db = self.store.db
        runner = None
        if db.loop_engine is not None:
            runner = functools.partial(db.on_loop, lazily=True)
        return await loop_first(function, *args, on_loop=True, runner=runner)


# The context of the app serving the current request, set by ContextMiddleware: reading it
# costs a fraction of a lookup through connexion's request proxy (two levels of proxies).
_CURRENT: ContextVar[AppContext | None] = ContextVar("userapi_app_context", default=None)


def app_context(req: Any = None) -> AppContext:
    if req is None:
        current = _CURRENT.get()
        if current is not None:
            return current
        req = request
    ctx: AppContext = req.scope[SCOPE_KEY]
    return ctx


def store() -> Store:
    return app_context().store


def settings() -> Settings:
    return app_context().settings


def clock() -> Clock:
    """The server's time (handlers/clock.py): the store's, so rows and checks agree."""
    return app_context().store.db.clock


def caller() -> Identity:
    """The authenticated identity of the current request."""
    identity: Identity = context.context["token_info"]["identity"]
    return identity


class ContextMiddleware:
    """Puts the app's context into every request's ASGI scope (no module-level state)."""

    def __init__(self, app: Any, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope[SCOPE_KEY] = self.ctx
        token = _CURRENT.set(self.ctx)
        try:
            await self.app(scope, receive, send)
        finally:
            _CURRENT.reset(token)
