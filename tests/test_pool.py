"""Pooled connections on PostgreSQL: reads without transaction round trips, dead
connections replaced before use.

handlers/store/fast.py reads in autocommit (no BEGIN/ROLLBACK) and must hand the
connection back as it found it; handlers/store/db.py pings a connection only when it has
been idle (PING_AFTER_IDLE_SECONDS) and replaces one that does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from handlers.store import Store, fast
from handlers.store import db as db_module


@pytest.fixture
def pg(store: Store) -> Iterator[Store]:
    if store.db.dialect != "postgresql":
        pytest.skip("PostgreSQL's pool only")
    yield store


def _pool_backend_pids(store: Store, count: int = 3) -> set[int]:
    """Fill the pool with `count` connections (held at once); their server processes."""
    with contextlib.ExitStack() as held:
        conns = [held.enter_context(store.db.engine.connect()) for _ in range(count)]
        return {int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()) for c in conns}


def test_a_raw_read_leaves_its_connection_outside_any_transaction(pg: Store) -> None:
    seen: list[Any] = []
    with fast.raw_read(pg.db) as cursor:
        cursor.execute("SELECT txid_current_if_assigned(), now() = statement_timestamp()")
        seen.append(cursor.fetchone())
        driver = cursor.connection
    # Autocommit while reading: no transaction was opened around the statement.
    assert seen == [(None, True)]
    assert driver.autocommit is False and int(driver.info.transaction_status) == 0
    assert pg.find_user("admin").login == "admin"  # the pool still works, Core included


def test_a_raw_read_on_a_connection_inside_a_transaction_ends_it(pg: Store) -> None:
    raw = pg.db.engine.raw_connection()
    driver = raw.driver_connection
    raw.cursor().execute("SELECT 1")  # opens a transaction (autocommit is off)
    assert int(driver.info.transaction_status) != 0
    raw.close()  # back to the pool: the pool's reset ends it
    with fast.raw_read(pg.db) as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_an_idle_connection_killed_by_the_server_is_replaced_before_use(
    pg: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    victims = _pool_backend_pids(pg)
    assert len(victims) == 3
    outside = create_engine(pg.db.engine.url, poolclass=NullPool)  # not one of the victims
    killer = outside.connect()
    try:
        killed = killer.execute(
            text(
                "SELECT count(*) FROM unnest(CAST(:p AS int[])) AS p WHERE pg_terminate_backend(p)"
            ),
            {"p": sorted(victims)},
        ).scalar_one()
        killer.commit()
    finally:
        killer.close()
        outside.dispose()
    assert killed == 3
    # Every read below checks out a pooled connection whose server process may be gone.
    for _ in range(5):
        user, _, _ = pg.credentials("admin", failures_since=None)
        assert user is not None and user.login == "admin"
        assert pg.find_user("admin").login == "admin"


@pytest.mark.parametrize(
    ("max_open", "max_idle"), [(40, 30), (6, 2), (2, 2), (3, 3), (10, 10), (100, 5), (41, 41)]
)
def test_the_connection_budget_is_split_between_the_pools_reads_first(
    max_open: int, max_idle: int
) -> None:
    """Every connection of GF_DATABASE_MAX_OPEN_CONN / MAX_IDLE_CONN is given to exactly
    one pool, each pool keeps at least one idle (a QueuePool of size 0 has no limit), and
    the loop's pool (every request reads there) keeps as many idle as it may open before
    the threads' pool keeps any beyond a third of the idle budget."""
    loop, threads = db_module._pool_split(max_open, max_idle)
    opened = [pool["pool_size"] + pool["max_overflow"] for pool in (loop, threads)]
    assert sum(opened) == max_open
    assert loop["pool_size"] + threads["pool_size"] == max_idle
    assert all(pool["pool_size"] >= 1 and pool["max_overflow"] >= 0 for pool in (loop, threads))
    assert loop["pool_size"] == min(opened[0], max_idle - max(1, max_idle // 3))


@pytest.mark.parametrize(
    ("max_open", "max_idle"), [(1, 1), (0, 0), (2, 0), (10, 1), (10, 11), (10, -1)]
)
def test_a_budget_without_room_for_both_pools_is_refused(max_open: int, max_idle: int) -> None:
    with pytest.raises(ValueError, match="max_idle_conn"):
        db_module._pool_split(max_open, max_idle)


def _settings(cursor: Any) -> tuple[str, str]:
    cursor.execute("SELECT current_setting('jit'), current_setting('statement_timeout')")
    return tuple(cursor.fetchone())  # type: ignore[return-value]


def test_the_servers_sessions_run_without_jit_and_keep_the_urls_own_options(pg: Store) -> None:
    """JIT compiling cost 15-25 ms of a 7-15 ms page read at ten million users (db.py): both
    pools' sessions turn it off; options the URL gives (libpq's `options`) still apply."""
    url = pg.db.engine.url.set(query={"options": "-c statement_timeout=4321"})
    db = db_module.Database(url.render_as_string(hide_password=False))
    try:
        threads = db.engine.raw_connection()
        try:
            assert _settings(threads.cursor()) == ("off", "4321ms")
        finally:
            threads.close()

        def on_the_loop() -> tuple[str, str]:
            with fast.raw_read(db) as cursor:  # the loop's connection, inside on_loop
                return _settings(cursor)

        assert asyncio.run(db.on_loop(on_the_loop)) == ("off", "4321ms")
    finally:
        db.close()
    with pg.db.engine.connect() as conn:  # without options in the URL: JIT off alone
        assert conn.exec_driver_sql("SHOW jit").scalar_one() == "off"


@pytest.mark.postgres
def test_a_connection_older_than_its_lifetime_is_replaced(postgres_url: str) -> None:
    """Grafana's conn_max_lifetime: a connection taken after that many seconds is a new
    one, on the threads' engine and on the loop's replay pool alike; within it, the same."""
    from handlers.store.db import Database, Pooling

    def pid(db: Database) -> int:
        with db.engine.connect() as conn:
            return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())

    async def replay_pid(db: Database) -> int:
        assert db.replay is not None
        connection = await db.replay.acquire()
        try:
            return int(await connection.fetchval("SELECT pg_backend_pid()"))
        finally:
            db.replay.release(connection, clean=True)

    async def replay_pids(db: Database) -> tuple[int, int]:
        first = await replay_pid(db)
        await asyncio.sleep(1.2)
        return first, await replay_pid(db)

    for lifetime, renewed in ((1, True), (3600, False)):
        db = Database(postgres_url, pooling=Pooling(max_open=6, max_idle=4, max_lifetime=lifetime))
        try:
            first = pid(db)
            time.sleep(1.2)
            assert (pid(db) != first) is renewed
            before, after = asyncio.run(replay_pids(db))
            assert (after != before) is renewed
        finally:
            db.close()
