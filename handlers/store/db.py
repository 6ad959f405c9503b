"""The Store's foundation: engine, short transactions, migrations and Grafana's first-start data."""

from __future__ import annotations

import contextlib
import re
import secrets
import string
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import StaticPool

from handlers.clock import SYSTEM, Clock
from handlers.store.errors import StartupRefused
from handlers.store.replay import (
    MOST_READS,
    ConnectionNeeded,
    ReadNeeded,
    Replay,
    ReplayPool,
    connect_arguments,
    fetch,
)
from handlers.store.text import sqlite_lower

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
# What Database._ahead answers when the call needs the connection path.
_STOPPED = object()

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_REVISION = re.compile(r'^revision = "([^"]+)"', re.MULTILINE)
_DOWN_REVISION = re.compile(r'^down_revision = "([^"]+)"', re.MULTILINE)
_VERSION_SQL = "SELECT version_num FROM alembic_version"
INT64_MAX = 2**63 - 1
_UID_HEAD = string.ascii_lowercase
_UID_TAIL = string.ascii_lowercase + string.digits


def years_before(moment: datetime, years: int) -> datetime:
    """The same date and time `years` earlier; 29 February becomes 1 March where that year
    has none (Go's AddDate normalises the same way, so Grafana's dates agree)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February in a common year
        return moment.replace(year=moment.year - years, month=3, day=1)


def new_uid() -> str:
    """A Grafana-style short UID: a letter followed by 13 lower-case letters or digits."""
    return secrets.choice(_UID_HEAD) + "".join(secrets.choice(_UID_TAIL) for _ in range(13))


def in_int64(value: int) -> bool:
    return 0 < value <= INT64_MAX


def new_id(result: CursorResult[Any]) -> int:
    """The primary key an INSERT just created."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


# A pooled connection idle for longer than this is pinged before use (the server may have
# restarted or closed it meanwhile); a busy one is not: pinging every checkout cost a
# round trip per read (measured: 8% of a user search's time on PostgreSQL).
PING_AFTER_IDLE_SECONDS = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only after PING_AFTER_IDLE_SECONDS of rest."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn, record):  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy):  # type: ignore[no-untyped-def]
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # gone: the pool replaces the connection and tries again
            raise DisconnectionError() from exc


# Connections one server process may hold to a database server (Grafana's [database]
# max_open_conn and max_idle_conn, per worker process here): at most MAX_OPEN at once,
# MAX_IDLE kept open while unused. On PostgreSQL the open ones are split evenly between
# the event loop's pool (reads) and the worker threads' pool (writes, password checks);
# the idle ones go to the loop's pool first, up to its size, as every request reads there:
# a pool keeping fewer idle than its busy moments need closes and reopens connections all
# the time (measured: opening connections took a tenth of the server's CPU under 16
# concurrent requests with 10 idle for reads).
MAX_OPEN_CONNECTIONS = 40
MAX_IDLE_CONNECTIONS = 30
# Seconds a connection is used for at most, then replaced (Grafana's [database]
# conn_max_lifetime and its default; 0: as long as it lives).
CONN_MAX_LIFETIME = 14400
APPLICATION_NAME = "grafana-userapi"


@dataclass(frozen=True)
class Pooling:
    """How a server process holds its PostgreSQL connections: at most `max_open` at once,
    `max_idle` kept while unused, each for at most `max_lifetime` seconds (0: no limit);
    `transaction_pooling`: the URL names a pooler in transaction mode (_server_engines)."""

    max_open: int = MAX_OPEN_CONNECTIONS
    max_idle: int = MAX_IDLE_CONNECTIONS
    max_lifetime: int = CONN_MAX_LIFETIME
    transaction_pooling: bool = False


DEFAULT_POOLING = Pooling()


def _pool_split(max_open: int, max_idle: int) -> tuple[dict[str, int], dict[str, int]]:
    """(loop pool, thread pool) sizes: QueuePool keeps pool_size idle and opens up to
    max_overflow more under load."""
    if not 2 <= max_idle <= max_open:
        # (A QueuePool of size 0 would have no limit at all: each pool keeps one at least.)
        raise ValueError(
            "max_idle_conn must be at least 2 (one for each pool) and at most max_open_conn"
        )
    loop_open = max_open // 2
    thread_open = max_open - loop_open
    loop_idle = min(loop_open, max_idle - max(1, max_idle // 3))
    thread_idle = max_idle - loop_idle
    return (
        {"pool_size": loop_idle, "max_overflow": loop_open - loop_idle},
        {"pool_size": thread_idle, "max_overflow": thread_open - thread_idle},
    )


def _replay_split(loop: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(replay pool, rest of the loop pool) sizes: the event loop's connections halved
    between the reads answered ahead through asyncpg (store/replay.py: most of them, so the
    larger half) and the loop's other reads, and so are its idle ones. With one connection
    for the loop there is no replay pool (size 0)."""
    opened, idle = loop["pool_size"] + loop["max_overflow"], loop["pool_size"]
    if opened < 2:
        return {"size": 0, "keep": 0}, loop
    replay, replay_idle = opened - opened // 2, idle - idle // 2 if idle >= 2 else 0
    rest, rest_idle = opened - replay, idle - replay_idle
    return (
        {"size": replay, "keep": replay_idle},
        {"pool_size": rest_idle, "max_overflow": rest - rest_idle},
    )


# PostgreSQL compiles a query to machine code (JIT) when the planner's estimate of its cost
# passes jit_above_cost. A page of the user list is estimated at millions of rows (the
# planner cannot know where its counted range starts, store/paging.py) although it reads a
# thousand: at ten million users JIT took 15-25 ms of every page, whose reading takes
# 7-15 ms without it (PostgreSQL 15). No statement of ours gains from JIT, so the server's
# own sessions turn it off; the database's setting stays as it is for everyone else.
SESSION_SETTINGS = {"jit": "off"}


def _session_options(url: str) -> str:
    """libpq's `options` for the server's sessions: the URL's own (`?options=-c ...`), then
    SESSION_SETTINGS."""
    given = make_url(url).query.get("options")
    ours = " ".join(f"-c {name}={value}" for name, value in SESSION_SETTINGS.items())
    if isinstance(given, tuple):
        given = " ".join(given)
    return f"{given} {ours}" if given else ours


def _server_engines(url: str, pooling: Pooling) -> tuple[Engine, AsyncEngine, ReplayPool | None]:
    """PostgreSQL: the worker threads' engine (psycopg's blocking connections), the event
    loop's (psycopg's asyncio connections, in autocommit: reads only, each statement its
    own snapshot, as fast.raw_read reads there too) and the loop's asyncpg pool for reads
    answered ahead (store/replay.py). Each replaces a connection older than
    `pooling.max_lifetime` when it is next taken.

    `pooling.transaction_pooling`: the URL names a pooler that may run each transaction
    on another server connection (PgBouncer's transaction mode). A named prepared
    statement lives on one server connection, so none is made: psycopg prepares none (it
    would after five runs of a statement) and there is no asyncpg pool (asyncpg prepares
    every statement under a name). No startup `options` either (PgBouncer refuses them):
    the URL's own are passed as they are, and SESSION_SETTINGS are the pooler's to set."""
    from sqlalchemy.ext.asyncio import create_async_engine  # not imported on SQLite

    loop_pool, thread_pool = _pool_split(pooling.max_open, pooling.max_idle)
    lifetime = pooling.max_lifetime
    named: dict[str, Any]
    replay: ReplayPool | None
    if pooling.transaction_pooling:
        named = {"connect_args": {"application_name": APPLICATION_NAME, "prepare_threshold": None}}
        replay = None
    else:
        replay_pool, loop_pool = _replay_split(loop_pool)
        options = _session_options(url)
        named = {"connect_args": {"application_name": APPLICATION_NAME, "options": options}}
        arguments = connect_arguments(url, APPLICATION_NAME, options)
        replay = ReplayPool(arguments, **replay_pool, max_lifetime=lifetime)
    named["pool_recycle"] = lifetime if lifetime > 0 else -1
    threads = create_engine(url, **thread_pool, **named)
    # Autocommit and reads only: a returned connection holds no transaction to roll back,
    # so the pool skips its reset (an awaited no-op rollback: half of a checkout's cost).
    loop = create_async_engine(
        url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **loop_pool, **named
    )
    _ping_when_idle(threads)
    _ping_when_idle(loop.sync_engine)
    return threads, loop, replay


# SQLite's synchronous modes a file database may use. In WAL mode FULL syncs the log at
# every commit: a committed write survives a power loss. NORMAL syncs at checkpoints only:
# the database stays intact after a power loss, but the last commits may be gone (an
# application crash loses nothing either way). FULL costs ~0.12 ms per commit here.
SQLITE_SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")


def _check_synchronous(mode: str) -> None:
    if mode not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"SQLite synchronous mode must be one of {SQLITE_SYNCHRONOUS}")


def server_url(url: str) -> str:
    """A PostgreSQL URL with psycopg (3) as its driver."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str, sqlite_synchronous: str = "FULL") -> Engine:
    """A SQLite engine in WAL mode with immediate write transactions (a server database's
    engines: _server_engines)."""
    _check_synchronous(sqlite_synchronous)
    memory = url in {"sqlite://", "sqlite:///:memory:"}
    # A file database keeps enough pooled connections for the request threads: with the
    # default 5 (+10 overflow) every busy moment opened and closed connections, each paying
    # the PRAGMAs and a schema parse (measured: 680 connects in 2,000 requests).
    pool = {} if memory else {"pool_size": 16, "max_overflow": 24}
    path = make_url(url).database
    if not memory and path and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)  # as Grafana makes its data folder
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        poolclass=StaticPool if memory else None,
        **pool,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()
        # go_lower(): lower() as Go folds text, not ASCII only (see store/text.py).
        dbapi_conn.create_function("go_lower", 1, sqlite_lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A write transaction takes the write lock up front, so two writers queue on
        # busy_timeout instead of failing when a read lock cannot be upgraded.
        write = conn.get_execution_options().get("write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _nothing() -> None:
    return None


class _Borrowed:
    """A connection of `engine`'s pool, checked out at the first use only."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
        return self._conn

    def give_back(self) -> None:
        """Back to the pool; a connection left busy or inside a transaction (a read cut
        short, e.g. its request cancelled mid-query) is closed instead, as the pool does
        not reset returned connections (see _server_engines)."""
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        driver = conn.connection.driver_connection
        if int(getattr(getattr(driver, "info", None), "transaction_status", 0)) != 0:
            conn.invalidate()
        conn.close()


# The connection a call running on the event loop reads through (Database.on_loop), with
# the database it belongs to; while a lazy call runs without one, None or the Replay its
# compiled reads are answered from (store/replay.py).
_HELD: ContextVar[tuple[Database, _Borrowed | Replay | None] | None] = ContextVar(
    "userapi_loop_connection", default=None
)


# What PgBouncer answers when it refuses a connection's startup parameter (it takes only a
# few: application_name, client_encoding, DateStyle, TimeZone and the like).
_REFUSED_PARAMETER = re.compile(r"unsupported startup parameter:? *(\w+)")


@contextlib.contextmanager
def _startup_refusals(db: Database) -> Iterator[None]:
    """A connection refused for its startup parameters becomes StartupRefused, saying
    what to change: the first connections are made here, at start."""
    try:
        yield
    except DBAPIError as exc:
        found = _REFUSED_PARAMETER.search(str(exc.orig))
        if found is None:
            raise
        url = make_url(db.url)
        where = f"{url.host}:{url.port or 5432}" if url.host else url.query.get("host", "")
        name = found.group(1)
        if db.pooling.transaction_pooling or name != "options":
            advice = f"take {name} out of the database URL"
        else:
            advice = (
                "if it is a pooler in transaction mode (PgBouncer's pool_mode = transaction), "
                "serve with --transaction-pooling (USERAPI_DATABASE_TRANSACTION_POOLING=true)"
            )
        raise StartupRefused(
            f"the database at {where or 'localhost'} refused the connection's "
            f"startup parameter {name!r}; {advice}"
        ) from exc


# SQLSTATEs of a prepared statement that its server connection does not have, or has
# already: what a pooler moving a session's statements between server connections causes.
_PREPARED_ELSEWHERE = {"26000", "42P05"}


def pooler_hint(exc: BaseException) -> str | None:
    """What to change when `exc` shows prepared statements lost between server connections
    (a pooler in transaction mode the server was not told of); None otherwise."""
    if getattr(getattr(exc, "orig", None), "sqlstate", None) not in _PREPARED_ELSEWHERE:
        return None
    return (
        "prepared statements are lost between server connections: if the database URL "
        "names a pooler in transaction mode (PgBouncer's pool_mode = transaction), serve "
        "with --transaction-pooling (USERAPI_DATABASE_TRANSACTION_POOLING=true)"
    )


class Database:
    """Owns the engine; every store method runs in one short transaction from here."""

    def __init__(
        self,
        url: str,
        *,
        sqlite_synchronous: str = "FULL",
        clock: Clock = SYSTEM,
        pooling: Pooling = DEFAULT_POOLING,
    ) -> None:
        self.url = url
        self.pooling = pooling
        # The server's one source of time (handlers/clock.py): rows, ages, expiries.
        self.clock = clock
        # On PostgreSQL a second engine serves reads on the event loop (on_loop).
        self.loop_engine: AsyncEngine | None = None
        self.replay: ReplayPool | None = None
        _check_synchronous(sqlite_synchronous)  # whatever the backend: a typo is an error
        if server_url(url).startswith("sqlite"):
            self.engine = make_engine(url, sqlite_synchronous)
        else:
            self.engine, self.loop_engine, self.replay = _server_engines(server_url(url), pooling)
        self.dialect = self.engine.dialect.name
        # Whether search can use SQLite's FTS5 trigram table; found once, after migrating.
        self.fts = False
        # Called before every write transaction: the server makes it move work that runs
        # on its event loop to a thread (handlers/inline.py) instead of waiting for the
        # write lock there. The store itself knows nothing of how it is scheduled.
        self.before_write: Callable[[], None] = _nothing

    async def on_loop(self, call: Callable[[], T], *, lazily: bool = False) -> T:
        """Run `call` (plain store code) on the event loop, its reads through a connection of
        the loop's pool whose I/O awaits instead of blocking: psycopg's asyncio connection,
        bridged to blocking-style code by SQLAlchemy's greenlet runner (the one its asyncio
        extension runs on). The connection is taken at the first read only. PostgreSQL only;
        writes do not belong here (before_write moves them to a thread).

        `lazily`: first run `call` as it is, without the runner (whose greenlet costs ~35 us
        of CPU even when nothing is read), its compiled reads answered ahead through asyncpg
        (store/replay.py: the call runs again after each). If it reaches any other read
        (ConnectionNeeded, raised before anything was read or written) or asyncpg fails, it
        is run again through the runner. For calls that often read nothing (a handler
        answering from the row authentication read) or only compiled reads (authentication)."""
        if self.loop_engine is None:
            raise RuntimeError("reads on the event loop need PostgreSQL's asyncio engine")
        if lazily:
            answered = await self._ahead(call)
            if answered is not _STOPPED:
                return cast(T, answered)
        from sqlalchemy.util import greenlet_spawn

        return await greenlet_spawn(self._holding, _Borrowed(self.loop_engine.sync_engine), call)

    async def _ahead(self, call: Callable[[], T]) -> T | object:
        """`call` run without a connection, its compiled reads answered ahead through the
        replay pool (when it can); _STOPPED when it needs the connection path."""
        replay = self.replay
        answers = Replay() if replay is not None and replay.available() else None
        connection: Any = None
        clean = False
        try:
            for answered in range(MOST_READS + 1):
                token = _HELD.set((self, answers))
                try:
                    return call()
                except ReadNeeded as need:
                    needed = need
                except ConnectionNeeded:
                    return _STOPPED
                finally:
                    _HELD.reset(token)
                if answers is None or replay is None or answered == MOST_READS:
                    return _STOPPED  # (beyond MOST_READS the connection path is cheaper)
                if connection is None:
                    try:
                        connection = await replay.acquire()
                    except Exception as exc:
                        replay.failed(exc)
                        return _STOPPED
                clean = False
                try:
                    answers.keep(needed, await fetch(connection, needed))
                except Exception:
                    # asyncpg's own errors (a value out of range, a NUL byte, a lost
                    # connection...): the connection path answers, or raises psycopg's.
                    return _STOPPED
                clean = True
            return _STOPPED
        finally:
            if connection is not None and replay is not None:
                replay.release(connection, clean=clean)

    def _holding(self, borrowed: _Borrowed, call: Callable[[], T]) -> T:
        token = _HELD.set((self, borrowed))
        try:
            return call()
        finally:
            _HELD.reset(token)
            borrowed.give_back()

    def held(self) -> Connection | None:
        """The event loop's connection the current call reads through (see on_loop); None
        off the loop. In a lazy call (on_loop's `lazily`) there is none yet: ConnectionNeeded."""
        held = _HELD.get()
        if held is None or held[0] is not self:
            return None
        if not isinstance(held[1], _Borrowed):
            raise ConnectionNeeded()
        return held[1].connection()

    def holds(self, *texts: str) -> bool:
        """Whether the database can hold every one of `texts`. PostgreSQL's text holds no
        NUL character (SQLite's does): no row has such a value, so a read looking for one
        finds nothing, as it does on SQLite, instead of failing."""
        if self.dialect != "postgresql":
            return True
        return "\x00" not in "".join(texts)

    def replaying(self) -> Replay | None:
        """The Replay standing in for a cursor in a call run ahead of its reads (on_loop's
        `lazily`), if that is what runs now."""
        held = _HELD.get()
        if held is None or held[0] is not self or not isinstance(held[1], Replay):
            return None
        return held[1]

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        held = self.held()
        if held is not None:  # in autocommit: no BEGIN or ROLLBACK is sent
            with held.begin():
                yield held
            return
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        self.before_write()
        with self.engine.connect() as conn:
            conn = conn.execution_options(write=True)
            with conn.begin():
                yield conn

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision`, by default the newest (serialised across
        processes).

        A database already at the newest revision (every start but the first) is recognised
        without alembic, whose import and script loading cost a good part of start-up."""
        with _startup_refusals(self):
            self._migrate(revision)

    def _migrate(self, revision: str) -> None:
        if revision != "head" or not self._at_head():
            from alembic import command
            from alembic.config import Config

            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            with self.write() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(3000)"))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
        with self.read() as conn:
            self.fts = self.dialect == "sqlite" and (
                conn.exec_driver_sql(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'users_fts'"
                ).first()
                is not None
            )

    def _at_head(self) -> bool:
        """Whether alembic_version names the one revision no other revision revises."""
        revisions: dict[str, str | None] = {}
        for script in (MIGRATIONS / "versions").glob("*.py"):
            source = script.read_text(encoding="utf-8")
            found = _REVISION.search(source)
            if found is None:
                return False
            down = _DOWN_REVISION.search(source)
            revisions[found.group(1)] = down.group(1) if down else None
        heads = set(revisions) - {down for down in revisions.values() if down}
        try:
            with self.read() as conn:
                current = [row[0] for row in conn.exec_driver_sql(_VERSION_SQL)]
        except DBAPIError:  # no alembic_version table yet: a new database
            return False
        return len(heads) == 1 and current == list(heads)

    def close(self) -> None:
        self.engine.dispose()
        if self.replay is not None:
            self.replay.close()
        if self.loop_engine is not None:
            # The asyncio engine's connections belong to the loops that opened them; at
            # shutdown they are dropped without a goodbye (the server closes them).
            self.loop_engine.sync_engine.dispose(close=False)
