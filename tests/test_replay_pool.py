"""The replay pool (store/replay.py's ReplayPool): asyncpg connections for the reads
answered ahead on an event loop. It stays within its size whatever the concurrency or
cancellation, gives a returned connection to a waiting caller, replaces a connection lost,
cut short or past its lifetime, and when asyncpg cannot connect costs speed, not answers.
Some tests use a real PostgreSQL, some stand-in connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest
from sqlalchemy import Float, bindparam, func, select, text

from handlers.store import Store, fast
from handlers.store import db as db_module
from handlers.store.replay import ReplayPool
from tests.support.replay import Paths


@pytest.mark.postgres
def test_when_asyncpg_cannot_connect_the_connection_path_answers(
    pg: Store,
    runner: asyncio.Runner,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A replay pool that cannot connect costs speed, not answers: the call takes the
    connection path, a warning says why, and asyncpg is not tried again for a while."""
    paths = Paths(pg, monkeypatch)
    broken = ReplayPool({"dsn": "postgresql://nobody@127.0.0.1:1/none"}, size=2, keep=1)
    monkeypatch.setattr(pg.db, "replay", broken)
    with caplog.at_level(logging.WARNING, logger="handlers.store.replay"):
        login = runner.run(pg.db.on_loop(lambda: pg.find_user("admin").login, lazily=True))
        assert login == "admin" and paths.connection == 1
        assert not broken.available()
        runner.run(pg.db.on_loop(lambda: pg.find_user("admin").login, lazily=True))
    assert paths.connection == 2
    # Tried once: the second call did not try to connect (nor warn) again.
    assert [r.getMessage().count("unavailable") for r in caplog.records] == [1]


@pytest.mark.postgres
def test_connects_failing_together_warn_once(
    pg: Store,
    runner: asyncio.Runner,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Calls that all began connecting before the first connect failed: each answers
    through the connection path, and the pause is said once, not once per call."""
    paths = Paths(pg, monkeypatch)
    broken = ReplayPool({"dsn": "postgresql://nobody@127.0.0.1:1/none"}, size=4, keep=1)
    monkeypatch.setattr(pg.db, "replay", broken)

    async def together() -> list[str]:
        calls = [pg.db.on_loop(lambda: pg.find_user("admin").login, lazily=True) for _ in range(4)]
        return list(await asyncio.gather(*calls))

    with caplog.at_level(logging.WARNING, logger="handlers.store.replay"):
        assert runner.run(together()) == ["admin"] * 4
    assert paths.connection == 4
    assert [r.getMessage().count("unavailable") for r in caplog.records] == [1]


def _pid_and_pause(store: Store) -> fast.Prepared:
    return fast.Prepared(
        store.db.engine.dialect,
        select(func.pg_backend_pid(), func.pg_sleep(bindparam("pause", type_=Float))),
    )


def _read(store: Store, prepared: fast.Prepared, **values: Any) -> Any:
    def call() -> Any:
        with fast.raw_read(store.db) as cursor:
            return prepared.first(cursor, **values)

    return store.db.on_loop(call, lazily=True)


@pytest.mark.postgres
def test_the_replay_pool_holds_at_most_its_size_and_serves_every_waiter(
    pg: Store, runner: asyncio.Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twelve concurrent reads of 50 ms on a pool of two, while one more is cancelled in
    the middle of its read: every read answered ahead, never more than two of the pool's
    connections open at once (the cut one counts until it is closed: sampled every
    millisecond on the loop), and nothing left taken."""
    import asyncpg

    paths = Paths(pg, monkeypatch)
    pool = ReplayPool(pg.db.replay._arguments, size=2, keep=1)  # type: ignore[union-attr]
    monkeypatch.setattr(pg.db, "replay", pool)
    prepared = _pid_and_pause(pg)
    connections: list[Any] = []
    connect = asyncpg.connect

    async def tracked(**arguments: Any) -> Any:
        connections.append(await connect(**arguments))
        return connections[-1]

    monkeypatch.setattr(asyncpg, "connect", tracked)
    peak = [0]

    async def watch() -> None:
        while True:
            peak[0] = max(peak[0], sum(not c.is_closed() for c in connections))
            await asyncio.sleep(0.001)

    async def main() -> tuple[list[Any], int, int]:
        watcher = asyncio.ensure_future(watch())
        cancelled = asyncio.ensure_future(_read(pg, prepared, pause=2))
        await asyncio.sleep(0.3)  # connected, and reading
        rows = asyncio.gather(*(_read(pg, prepared, pause=0.05) for _ in range(12)))
        await asyncio.sleep(0.02)
        cancelled.cancel()
        answered = await rows
        with contextlib.suppress(asyncio.CancelledError):
            await cancelled
        watcher.cancel()
        slots = pool._here()
        return answered, slots.opened, len(slots.waiting)

    # (A waiter never woken would hang here: bounded.)
    rows, opened, waiting = runner.run(asyncio.wait_for(main(), 60))
    assert len(rows) == 12 and paths.connection == 0
    assert peak[0] == 2 and opened <= 1 and waiting == 0  # beyond `keep`, closed on return
    assert runner.run(_read(pg, prepared, pause=0))[0] in {row[0] for row in rows}


@pytest.mark.postgres
def test_a_connection_lost_is_replaced(
    pg: Store, runner: asyncio.Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server ends the replay connection: the next read is answered by the connection
    path, the one after ahead again on a new connection."""
    paths = Paths(pg, monkeypatch)
    prepared = _pid_and_pause(pg)
    first = runner.run(_read(pg, prepared, pause=0))[0]
    with pg.db.engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        conn.commit()
    again = runner.run(_read(pg, prepared, pause=0))[0]
    assert paths.connection == 1 and again != first
    third = runner.run(_read(pg, prepared, pause=0))[0]
    assert paths.connection == 1 and third not in {first}


@pytest.mark.postgres
def test_a_read_cut_short_closes_its_connection(
    pg: Store, runner: asyncio.Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request cancelled mid-read: its connection is not given to the next one, which
    reads ahead on a new one."""
    prepared = _pid_and_pause(pg)
    first = runner.run(_read(pg, prepared, pause=0))[0]

    async def cut() -> None:
        task = asyncio.ensure_future(_read(pg, prepared, pause=5))
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    runner.run(cut())
    paths = Paths(pg, monkeypatch)
    after = runner.run(_read(pg, prepared, pause=0))[0]
    assert after != first and paths.connection == 0


@pytest.mark.parametrize(
    ("max_open", "max_idle"), [(40, 30), (6, 2), (2, 2), (3, 3), (10, 10), (100, 5), (41, 41)]
)
def test_the_loops_share_is_split_with_the_replay_pool(max_open: int, max_idle: int) -> None:
    """The loop's connections, open and idle, are split between the replay pool (the larger
    half) and the loop pool, which keeps at least one; with one there is no replay pool."""
    loop, _threads = db_module._pool_split(max_open, max_idle)
    replay, rest = db_module._replay_split(loop)
    opened = loop["pool_size"] + loop["max_overflow"]
    assert replay["size"] + rest["pool_size"] + rest["max_overflow"] == opened
    assert replay["keep"] + rest["pool_size"] == loop["pool_size"]
    assert rest["pool_size"] >= 1 and rest["max_overflow"] >= 0
    assert 0 <= replay["keep"] <= replay["size"]
    assert replay["size"] == (0 if opened < 2 else opened - opened // 2)


class _FakeConnection:
    """Stands in for an asyncpg connection: closing it takes until `closed` is set."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()
        self.terminated = False

    def is_closed(self) -> bool:
        return self.terminated or self.closed.is_set()

    def terminate(self) -> None:
        self.terminated = True

    async def close(self, timeout: float) -> None:
        await self.closed.wait()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[_FakeConnection]:
    """asyncpg.connect opening stand-ins: the list of those opened."""
    import asyncpg

    connections: list[_FakeConnection] = []

    async def connect(**_arguments: Any) -> _FakeConnection:
        connections.append(_FakeConnection())
        return connections[-1]

    monkeypatch.setattr(asyncpg, "connect", connect)
    return connections


def test_a_connection_cut_short_counts_as_open_until_it_is_closed(
    opened: list[_FakeConnection],
) -> None:
    """With both connections of a pool of two taken, one given back mid-read (cut short)
    keeps its place until its close ends: a third caller waits instead of opening a third
    connection beside it, then gets a new one."""
    pool = ReplayPool({}, size=2, keep=1)

    async def main() -> None:
        first, second = await pool.acquire(), await pool.acquire()
        pool.release(first, clean=False)  # cut short: closing in the background
        third = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.05)
        assert not third.done() and len(opened) == 2  # waiting: two are still open
        first.closed.set()
        assert await asyncio.wait_for(third, 5) is opened[2]
        pool.release(second, clean=True)
        pool.release(third.result(), clean=True)  # beyond keep=1: closed at once
        assert pool._here().opened == 1 and pool._here().idle == [second]

    asyncio.run(main())


def test_a_connection_given_back_goes_to_a_waiting_caller_not_closed(
    opened: list[_FakeConnection],
) -> None:
    """A pool keeping none idle still hands a returned connection to a caller waiting for
    one, instead of closing it and opening another."""
    pool = ReplayPool({}, size=2, keep=0)

    async def main() -> None:
        first, second = await pool.acquire(), await pool.acquire()
        third = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.01)
        pool.release(first, clean=True)
        assert await asyncio.wait_for(third, 5) is first and not first.terminated
        pool.release(second, clean=True)  # nobody waits: keep=0 closes it
        assert second.terminated and len(opened) == 2 and pool._here().opened == 1

    asyncio.run(main())


def test_the_replay_pool_closes_an_idle_connection_past_its_lifetime(
    opened: list[_FakeConnection],
) -> None:
    """One kept idle past max_lifetime is closed when next taken, and a new one opened in
    its place; one still young is given again."""

    async def twice(pool: ReplayPool) -> tuple[Any, Any]:
        first = await pool.acquire()
        pool.release(first, clean=True)
        await asyncio.sleep(0.15)
        second = await pool.acquire()
        pool.release(second, clean=True)
        return first, second

    first, second = asyncio.run(twice(ReplayPool({}, size=1, keep=1, max_lifetime=0.1)))
    assert second is not first and first.terminated and opened == [first, second]
    opened.clear()
    first, second = asyncio.run(twice(ReplayPool({}, size=1, keep=1, max_lifetime=60)))
    assert second is first and not first.terminated and opened == [first]
