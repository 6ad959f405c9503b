"""Reads served on the event loop, writes never.

A SQLite read in WAL mode takes microseconds and never waits for a writer, while handing
it to a worker thread costs far more than the read itself (two thread switches and a
fight for the GIL: measured, half of a GET /api/user's CPU). So authentication and GET
handlers first run on the event loop inside `only_reads()`. Anything that would write
(and may then wait on the write lock for up to busy_timeout) or would hash a password
raises `NeedsThread` before doing it, and the caller starts the work again on a worker
thread: nothing was written, so running it again is safe.

On PostgreSQL a read waits for a round trip to the server: there the work runs through a
`runner` (Database.on_loop) that gives it a connection whose I/O awaits, so the event
loop serves other requests meanwhile.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from anyio import to_thread

T = TypeVar("T")

_ON_LOOP: ContextVar[bool] = ContextVar("userapi_on_loop", default=False)


class NeedsThread(Exception):
    """Work running on the event loop reached a write or a password hash."""


@contextlib.contextmanager
def only_reads() -> Iterator[None]:
    """Mark the enclosed work as running on the event loop: writes raise NeedsThread."""
    token = _ON_LOOP.set(True)
    try:
        yield
    finally:
        _ON_LOOP.reset(token)


def on_loop() -> bool:
    return _ON_LOOP.get()


def ensure_thread() -> None:
    """Call before a write or other blocking work: on the event loop it raises NeedsThread."""
    if _ON_LOOP.get():
        raise NeedsThread()


async def loop_first(
    function: Callable[..., T],
    *args: Any,
    on_loop: bool,
    runner: Callable[[Callable[[], T]], Awaitable[T]] | None = None,
) -> T:
    """`function(*args)` on the event loop when `on_loop` (within only_reads; through
    `runner` when given), else, or when it raises NeedsThread, on a worker thread."""
    if on_loop:
        with contextlib.suppress(NeedsThread), only_reads():
            if runner is None:
                return function(*args)
            return await runner(functools.partial(function, *args))
    return await to_thread.run_sync(function, *args)
