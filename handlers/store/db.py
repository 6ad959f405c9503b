"""The Store's foundation: engine, short transactions, migrations and Grafana's first-start data."""

from __future__ import annotations

import contextlib
import re
import secrets
import string
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import StaticPool

from handlers.clock import SYSTEM, Clock
from handlers.store.text import sqlite_lower

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


def _server_engine(url: str) -> Engine:
    engine = create_engine(url, pool_size=10, max_overflow=20)

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

    return engine


# SQLite's synchronous modes a file database may use. In WAL mode FULL syncs the log at
# every commit: a committed write survives a power loss. NORMAL syncs at checkpoints only:
# the database stays intact after a power loss, but the last commits may be gone (an
# application crash loses nothing either way). FULL costs ~0.12 ms per commit here.
SQLITE_SYNCHRONOUS = ("FULL", "NORMAL", "EXTRA")


def make_engine(url: str, sqlite_synchronous: str = "FULL") -> Engine:
    """An engine tuned per backend: SQLite in WAL mode with immediate write transactions."""
    if sqlite_synchronous not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"SQLite synchronous mode must be one of {SQLITE_SYNCHRONOUS}")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return _server_engine(url)
    memory = url in {"sqlite://", "sqlite:///:memory:"}
    # A file database keeps enough pooled connections for the request threads: with the
    # default 5 (+10 overflow) every busy moment opened and closed connections, each paying
    # the PRAGMAs and a schema parse (measured: 680 connects in 2,000 requests).
    pool = {} if memory else {"pool_size": 16, "max_overflow": 24}
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


class Database:
    """Owns the engine; every store method runs in one short transaction from here."""

    def __init__(
        self, url: str, *, sqlite_synchronous: str = "FULL", clock: Clock = SYSTEM
    ) -> None:
        self.url = url
        # The server's one source of time (handlers/clock.py): rows, ages, expiries.
        self.clock = clock
        self.engine = make_engine(url, sqlite_synchronous)
        self.dialect = self.engine.dialect.name
        # Whether search can use SQLite's FTS5 trigram table; found once, after migrating.
        self.fts = False
        # Called before every write transaction: the server makes it move work that runs
        # on its event loop to a thread (handlers/inline.py) instead of waiting for the
        # write lock there. The store itself knows nothing of how it is scheduled.
        self.before_write: Callable[[], None] = _nothing

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
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
