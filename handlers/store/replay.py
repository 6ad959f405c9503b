"""Reads answered ahead: the event loop's compiled reads on PostgreSQL, through asyncpg.

A read awaited inside SQLAlchemy's greenlet bridge (Database.on_loop's connection path)
costs the server ~185 us of CPU on this machine: the greenlet, a pool checkout and ~40 us
more per awaited round trip than the same psycopg read awaited directly; asyncpg awaited
directly costs ~66 us (bench/results/pgdrivers.md). So a call on the loop first runs
without any connection (Database.on_loop's `lazily`) with a `Replay` standing in for its
cursor. A compiled read (store/fast.py's Prepared) that it has no answer for yet stops the
call (`ReadNeeded`); the loop runs that SELECT on an asyncpg connection, awaited directly,
keeps the rows, and runs the call again from the start, which now finds them. A call
reading twice runs three times: the Python before a read costs a few microseconds, the
round trip it saves tens.

Exactly what the call would have read: the same SQL (compiled by the same dialect, with
`$n` placeholders), each statement its own snapshot as in fast.raw_read's autocommit, the
driver's values converted by the same result processors. Anything else stops replaying and
the call runs again through the connection path as before: a statement that is not a
Prepared one (ConnectionNeeded), and any error of asyncpg (a value out of a column's
range, a NUL byte, a lost connection...), so that errors are psycopg's as they always were.
A call must not write before its reads (calls on the loop cannot write at all:
handlers/inline.py).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import functools
import logging
import shlex
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import make_url
from sqlalchemy.engine import Dialect

if TYPE_CHECKING:
    from handlers.store.fast import Prepared

Row = tuple[Any, ...]
_log = logging.getLogger(__name__)

# After the pool could not connect, the loop's reads take the connection path for this
# long before asyncpg is tried again (a restarting server; a URL asyncpg cannot use).
RETRY_AFTER_SECONDS = 30.0
# A connection whose read was cut short is closed within this long.
CLOSE_SECONDS = 5.0
# Reads one call may have answered ahead; a call reading more takes the connection path.
MOST_READS = 8


class ConnectionNeeded(BaseException):
    """A call run by `Database.on_loop(..., lazily=True)` without a connection reached a
    read that cannot be answered ahead: it is run again with one. A BaseException, as
    KeyboardInterrupt is, so that code catching Exception (a health check's "any error
    means unhealthy") lets it through."""


class ReadNeeded(ConnectionNeeded):
    """A compiled read without an answer yet: run it, then the call again."""

    def __init__(self, prepared: Prepared, values: Mapping[str, Any]) -> None:
        super().__init__(prepared.sql)
        self.prepared = prepared
        self.values = dict(values)


def _key(prepared: Prepared, values: Mapping[str, Any]) -> tuple[Any, ...]:
    """By SQL and values (not the Prepared object: a call may build its statement anew on
    every run)."""
    return (prepared.sql, *sorted(values.items()))


class Replay:
    """Stands in for a driver cursor in a call run ahead of its reads (fast.raw_read yields
    it). Prepared reads take their rows from here; a statement of any other kind cannot be
    answered ahead and stops the call (ConnectionNeeded)."""

    def __init__(self) -> None:
        self._answers: dict[tuple[Any, ...], list[Row]] = {}

    def rows(self, prepared: Prepared, values: Mapping[str, Any]) -> list[Row]:
        """The rows `prepared` gives for `values`, as the driver gave them."""
        found = self._answers.get(_key(prepared, values))
        if found is None:
            raise ReadNeeded(prepared, values)
        return found

    def keep(self, need: ReadNeeded, rows: list[Row]) -> None:
        self._answers[_key(need.prepared, need.values)] = rows

    def execute(self, *_args: Any, **_kwargs: Any) -> None:
        raise ConnectionNeeded()


@functools.cache
def dollar_dialect(dialect: Dialect) -> Dialect:
    """`dialect` (initialized, so compiling the same SQL) with asyncpg's `$n` placeholders."""
    numbered = copy.copy(dialect)
    numbered.paramstyle = "numeric_dollar"
    numbered.positional = True
    return numbered


def _server_settings(options: str) -> dict[str, str]:
    """libpq's `options` (`-c name=value`, `--name=value`) as asyncpg's server settings."""
    settings: dict[str, str] = {}
    words = shlex.split(options)
    for i, word in enumerate(words):
        if word == "-c" and i + 1 < len(words):
            setting = words[i + 1]
        elif (word.startswith("-c") and len(word) > 2) or word.startswith("--"):
            setting = word[2:]
        else:
            continue
        name, _, value = setting.partition("=")
        settings[name.replace("-", "_")] = value
    return settings


def connect_arguments(url: str, application_name: str, options: str) -> dict[str, Any]:
    """asyncpg.connect's arguments for the server's URL (SQLAlchemy's form): the same
    server, database, user, password and libpq parameters, and `options` (the URL's own
    with the server's session settings: db.py) as server settings."""
    parsed = make_url(url)
    query = {k: v for k, v in parsed.query.items() if k != "options"}
    if parsed.host is None and parsed.port is not None:
        # A socket folder (`?host=/run/postgresql`) with its port in the address: asyncpg
        # reads such a port only as a parameter.
        query.setdefault("port", str(parsed.port))
        parsed = parsed._replace(port=None)  # (set() takes None as "unchanged")
    dsn = parsed.set(drivername="postgresql", query=query).render_as_string(hide_password=False)
    settings = {"application_name": application_name, **_server_settings(options)}
    return {"dsn": dsn, "server_settings": settings}


@dataclass
class _Slots:
    """One event loop's connections: idle ones, how many are open, who waits for one."""

    loop: asyncio.AbstractEventLoop
    idle: list[Any] = field(default_factory=list)
    opened: int = 0
    waiting: collections.deque[asyncio.Future[None]] = field(default_factory=collections.deque)
    closing: set[asyncio.Task[None]] = field(default_factory=set)


async def _close(connection: Any) -> None:
    try:
        await connection.close(timeout=CLOSE_SECONDS)
    except Exception:
        connection.terminate()


class ReplayPool:
    """asyncpg connections for the reads answered ahead on an event loop: at most `size`
    open at once, at most `keep` kept open while unused. A connection is taken and given
    back without awaiting anything unless one must be opened or waited for (asyncpg's own
    pool costs ~40 us of CPU more per read here: a task per release, a timer per
    connection)."""

    def __init__(
        self, arguments: dict[str, Any], size: int, keep: int, max_lifetime: float = 0
    ) -> None:
        self._arguments = arguments
        self.size = size
        self.keep = keep
        # Seconds a connection serves at most (0: no limit); replaced when taken later.
        self.max_lifetime = max_lifetime
        self._born: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        self._slots: _Slots | None = None
        self._retry_at = 0.0

    def available(self) -> bool:
        return self.size > 0 and time.monotonic() >= self._retry_at

    def _here(self) -> _Slots:
        """This loop's connections (a connection belongs to the loop that opened it: a server
        process has one loop; a test's clients may each run their own)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots.loop is not loop:
            self.close()
            self._slots = _Slots(loop)
        return self._slots

    def close(self) -> None:
        """Close the idle connections (those in use close as they come back)."""
        slots, self._slots = self._slots, None
        while slots is not None and slots.idle:
            # Their loop may be closed already: then the server sees the socket close.
            with contextlib.suppress(Exception):
                slots.idle.pop().terminate()

    async def acquire(self) -> Any:
        """A connection; opened when none is idle and fewer than `size` are open, else the
        first given back (one older than max_lifetime is closed instead). Raises what
        connecting raises."""
        slots = self._here()
        while True:
            while slots.idle:
                connection = slots.idle.pop()
                if connection.is_closed():
                    slots.opened -= 1
                elif self._expired(connection):
                    connection.terminate()  # (idle: no query of its own to cut short)
                    slots.opened -= 1
                else:
                    return connection
            if slots.opened < self.size:
                slots.opened += 1
                opening = slots.loop.create_task(self._connect())
                try:
                    # Shielded: a caller cancelled meanwhile leaves the new connection to
                    # the pool (a handshake cut short leaves asyncpg's futures failing).
                    return await asyncio.shield(opening)
                except asyncio.CancelledError:
                    if opening.cancelled() or opening.done():
                        self._opened(slots, opening)
                    else:
                        opening.add_done_callback(lambda done: self._opened(slots, done))
                    raise
                except BaseException:
                    slots.opened -= 1
                    self._wake(slots)
                    raise
            waiter = slots.loop.create_future()
            slots.waiting.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake(slots)  # woken, then cancelled: pass the turn on
                else:
                    slots.waiting.remove(waiter)
                raise

    async def _connect(self) -> Any:
        import asyncpg

        connection = await asyncpg.connect(**self._arguments)
        self._born[connection] = time.monotonic()
        return connection

    def _expired(self, connection: Any) -> bool:
        if self.max_lifetime <= 0:
            return False
        return time.monotonic() - self._born.get(connection, 0.0) > self.max_lifetime

    def release(self, connection: Any, *, clean: bool) -> None:
        """Give `connection` back (on the loop that acquired it); one not `clean` (its read
        failed or was cut short) is closed, as is one beyond the `keep` idle when nobody
        waits for one."""
        slots = self._slots
        if slots is None or slots.loop is not asyncio.get_running_loop():
            connection.terminate()  # its loop's connections were closed meanwhile
            return
        if clean:
            self._keep(slots, connection)
            return
        # Cut short mid-read, its query may still run: closed in the background once
        # asyncpg has cancelled it (terminating it at once leaves asyncpg's waiter failing
        # unretrieved: an error in the log). It counts as open until it is closed.
        closing = slots.loop.create_task(_close(connection))
        slots.closing.add(closing)
        closing.add_done_callback(lambda done: self._closed(slots, done))

    def _closed(self, slots: _Slots, closing: asyncio.Task[None]) -> None:
        slots.closing.discard(closing)
        slots.opened -= 1
        self._wake(slots)

    def _keep(self, slots: _Slots, connection: Any) -> None:
        """`connection` idle (for the next waiting caller, if any), or closed when nobody
        waits and `keep` are idle already."""
        waited = any(not waiter.done() for waiter in slots.waiting)
        if connection.is_closed() or (len(slots.idle) >= self.keep and not waited):
            connection.terminate()
            slots.opened -= 1
        else:
            slots.idle.append(connection)
        self._wake(slots)

    def _opened(self, slots: _Slots, opening: asyncio.Task[Any]) -> None:
        """A connection opened for a caller that went away: kept idle (or closed)."""
        if opening.cancelled() or opening.exception() is not None:
            slots.opened -= 1
            self._wake(slots)
        elif self._slots is not slots:
            opening.result().terminate()
        else:
            self._keep(slots, opening.result())

    @staticmethod
    def _wake(slots: _Slots) -> None:
        while slots.waiting:
            waiter = slots.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def failed(self, error: BaseException) -> None:
        """No connection could be opened: the connection path for a while (said once:
        connects begun before the first failure may fail after it)."""
        if time.monotonic() < self._retry_at:
            return
        self._retry_at = time.monotonic() + RETRY_AFTER_SECONDS
        _log.warning(
            "PostgreSQL reads ahead (asyncpg) unavailable for %.0f s: %s",
            RETRY_AFTER_SECONDS,
            error,
        )


async def fetch(connection: Any, need: ReadNeeded) -> list[Row]:
    """The rows of `need`'s statement, as tuples (asyncpg's Records)."""
    sql, arguments = need.prepared.numbered(need.values)
    return [tuple(record) for record in await connection.fetch(sql, *arguments)]
