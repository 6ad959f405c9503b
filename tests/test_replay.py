"""Reads answered ahead on PostgreSQL (store/replay.py, Database.on_loop's `lazily`).

A lazy call's compiled reads are run on an asyncpg connection awaited directly, and the
call runs again with their rows; anything else takes the connection path as before. These
tests pin that the answers are the connection path's answers (hostile values included),
that the path is really taken, that a failing asyncpg costs nothing but speed, and that
the replay pool stays within its size whatever the concurrency or cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Float, bindparam, func, literal_column, select, text
from starlette.testclient import TestClient

from handlers.app import create_app
from handlers.passwords import keyed_hash
from handlers.settings import Settings
from handlers.store import Store, fast
from handlers.store import db as db_module
from handlers.store.replay import MOST_READS, ReplayPool, _server_settings, connect_arguments
from handlers.store.schema import users
from handlers.store.users import _prepared
from tests.conftest import ADMIN, reset

ANY_TEXT = st.text(max_size=40)
ANY_INT = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2, -1, 2**63, 2**63 - 1]))


@pytest.fixture
def pg(postgres_store: Store) -> Store:
    """The shared PostgreSQL store, holding only Grafana's defaults."""
    reset(postgres_store)
    return postgres_store


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for a whole test (the replay pool's connections belong to it)."""
    with asyncio.Runner() as loop:
        yield loop


class Paths:
    """Counts the calls that took the connection path (the greenlet runner)."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.connection = 0
        holding = store.db._holding

        def counted(borrowed: Any, call: Callable[[], Any]) -> Any:
            self.connection += 1
            return holding(borrowed, call)

        monkeypatch.setattr(store.db, "_holding", counted)


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return ("answer", call())
    except Exception as exc:
        return ("error", type(exc).__name__)


def _both(store: Store, runner: asyncio.Runner, call: Callable[[], Any]) -> tuple[Any, Any]:
    """`call` off the loop (plain psycopg) and lazily on it: (outcome, outcome)."""
    direct = _outcome(call)

    async def ahead() -> tuple[str, Any]:
        try:
            return ("answer", await store.db.on_loop(call, lazily=True))
        except Exception as exc:
            return ("error", type(exc).__name__)

    return direct, runner.run(ahead())


@pytest.mark.postgres
def test_compiled_reads_are_answered_ahead_without_the_loop_pool(
    pg: Store, runner: asyncio.Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two compiled reads: the call runs three times, never with the loop pool's
    connection, and answers what it answers off the loop."""
    paths = Paths(pg, monkeypatch)
    pool = pg.db.loop_engine.sync_engine.pool  # type: ignore[union-attr]
    runs: list[tuple[bool, int]] = []

    def call() -> tuple[str, str]:
        runs.append((pg.db.replaying() is not None, pool.checkedout()))  # type: ignore[attr-defined]
        return pg.find_user("admin").login, pg.get_user(1).email

    ahead = runner.run(pg.db.on_loop(call, lazily=True))
    assert runs == [(True, 0)] * 3 and paths.connection == 0
    assert ahead == call()


@pytest.mark.postgres
def test_a_statement_built_anew_on_every_run_is_answered_ahead(
    pg: Store, runner: asyncio.Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers are found by SQL and values, not by the Prepared object."""
    paths = Paths(pg, monkeypatch)
    runs: list[int] = []

    def call() -> Any:
        runs.append(1)
        return _first(pg, select(users.c.login).where(users.c.id == 1))

    assert runner.run(pg.db.on_loop(call, lazily=True)) == ("admin",)
    assert len(runs) == 2 and paths.connection == 0


@pytest.mark.postgres
def test_a_call_reading_more_than_most_reads_takes_the_connection_path(
    pg: Store, runner: asyncio.Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read answered ahead costs a run of the call: past MOST_READS (and only then)
    the connection path reads the rest, and the answer is the same."""
    paths = Paths(pg, monkeypatch)

    def reading(count: int) -> Callable[[], list[int]]:
        def call() -> list[int]:  # `count` different statements: SELECT 0, SELECT 1...
            return [_first(pg, select(literal_column(str(n))))[0] for n in range(count)]

        return call

    enough = reading(MOST_READS)
    assert runner.run(pg.db.on_loop(enough, lazily=True)) == list(range(MOST_READS))
    assert paths.connection == 0
    many = reading(MOST_READS + 1)
    assert runner.run(pg.db.on_loop(many, lazily=True)) == list(range(MOST_READS + 1))
    assert paths.connection == 1


@pytest.mark.postgres
def test_any_other_read_takes_the_connection_path(
    pg: Store, runner: asyncio.Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Core read (Store.ping, through db.read) or a statement run on the cursor itself
    cannot be answered ahead: the call runs again through the runner, and answers."""
    paths = Paths(pg, monkeypatch)

    def raw() -> int:
        with fast.raw_read(pg.db) as cursor:
            cursor.execute("SELECT 41 + 1")
            return int(cursor.fetchone()[0])

    assert runner.run(pg.db.on_loop(pg.ping, lazily=True)) is True
    assert runner.run(pg.db.on_loop(raw, lazily=True)) == 42
    assert paths.connection == 2


@pytest.mark.postgres
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=ANY_TEXT, number=ANY_INT, since=ANY_INT)
def test_answers_ahead_are_the_connection_paths_whatever_the_values(
    pg: Store, runner: asyncio.Runner, name: str, number: int, since: int
) -> None:
    """Every per-request read, with any text (NUL bytes, any Unicode) and any integer
    (beyond int64 too): the same rows, or the same error, either way."""
    reads: list[Callable[[], Any]] = [
        lambda: pg.credentials(name, failures_since=since),
        lambda: pg.credentials(name + "@example.com", failures_since=None),
        lambda: pg.get_user(number),
        lambda: pg.identity_for_key(name, number),
        lambda: pg.session_credentials(name, created_after=number, seen_after=since),
        lambda: pg.search_users(query=name, page=1, per_page=5),
    ]
    for read in reads:
        direct, ahead = _both(pg, runner, read)
        assert ahead == direct


@pytest.mark.postgres
def test_ordinary_values_never_take_the_connection_path(
    pg: Store, runner: asyncio.Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What authentication reads for a real caller is answered ahead, every time."""
    user = pg.create_user(
        login="replayed", email="r@example.com", name="R", password_hash="", salt=""
    ).id
    pg.create_session(user, keyed_hash("cookie", "k"), user_agent="", client_ip="", now=10)
    account = pg.create_service_account(1, name="replay", role="Viewer", is_disabled=False)
    pg.add_token(1, account.id, name="t", key_hash=keyed_hash("token", "k"), expires=None)
    paths = Paths(pg, monkeypatch)
    reads: list[Callable[[], Any]] = [
        lambda: pg.credentials("replayed", failures_since=0),
        lambda: pg.credentials("r@example.com", failures_since=None),
        lambda: pg.get_user(user),
        lambda: pg.identity_for_key(keyed_hash("token", "k"), 20),
        lambda: pg.session_credentials(keyed_hash("cookie", "k"), created_after=0, seen_after=0),
        lambda: pg.search_users(query="replay", page=1, per_page=5),
        lambda: _first(pg, select(users.c.login).order_by(users.c.id.desc())),  # of several
    ]
    for read in reads:
        direct, ahead = _both(pg, runner, read)
        assert ahead == direct and direct[0] == "answer" and direct[1] is not None
    assert paths.connection == 0


def _first(store: Store, statement: Any) -> Any:
    with fast.raw_read(store.db) as cursor:
        return fast.Prepared(store.db.engine.dialect, statement).first(cursor)


@pytest.mark.postgres
def test_the_numbered_statement_is_the_same_sql(pg: Store) -> None:
    dialect = pg.db.engine.dialect
    for name in ("user_by_id", "credentials_login_counted", "credentials_email", "failures"):
        prepared = _prepared(name, dialect)
        numbered, arguments = prepared.numbered(dict.fromkeys(prepared.required, 1))
        assert re.sub(r"\$\d+", "?", numbered) == re.sub(r"%\(\w+\)s", "?", prepared.sql)
        # A value used twice is one argument, named twice ($2 ... $2).
        assert len(arguments) == max(int(n) for n in re.findall(r"\$(\d+)", numbered))


@pytest.mark.postgres
def test_replay_connections_carry_the_session_settings(
    postgres_url: str, runner: asyncio.Runner
) -> None:
    """JIT off (store/db.py) and the URL's own options, as on the other pools."""
    store = _store(postgres_url + "?options=-c%20statement_timeout%3D4321")
    shown = fast.Prepared(
        store.db.engine.dialect,
        select(func.current_setting("jit"), func.current_setting("statement_timeout")),
    )

    def call() -> Any:
        assert store.db.replaying() is not None
        with fast.raw_read(store.db) as cursor:
            return shown.first(cursor)

    try:
        assert runner.run(store.db.on_loop(call, lazily=True)) == ("off", "4321ms")
    finally:
        store.close()


def _store(url: str, **kwargs: Any) -> Store:
    from handlers.store import open_store

    return open_store(url, **kwargs)


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


def test_libpq_options_become_server_settings() -> None:
    assert _server_settings("-c jit=off -cstatement_timeout=5 --lock-timeout=7 -x y") == {
        "jit": "off",
        "statement_timeout": "5",
        "lock_timeout": "7",
    }
    arguments = connect_arguments(
        "postgresql+psycopg://u:p%40ss@h:5433/db?sslmode=disable&options=-c%20a%3D1",
        "app",
        "-c a=1 -c jit=off",
    )
    assert arguments == {
        "dsn": "postgresql://u:p%40ss@h:5433/db?sslmode=disable",
        "server_settings": {"application_name": "app", "a": "1", "jit": "off"},
    }
    # A socket folder with the port in the address: asyncpg takes the port as a parameter.
    socket = connect_arguments("postgresql://u@:5433/db?host=%2Frun%2Fpg", "app", "")
    assert socket["dsn"] == "postgresql://u@/db?host=%2Frun%2Fpg&port=5433"


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


@pytest.mark.postgres
def test_the_server_answers_authentication_and_get_handlers_ahead(
    pg: Store,
    settings: Settings,
    app_cache: dict[tuple[int, Settings], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the app: basic auth and a handler's compiled read never take the connection
    path; a handler with a Core read (the user's orgs) takes it for that read only."""
    key = (id(pg), settings)
    app = app_cache.setdefault(key, create_app(settings, store=pg))
    with TestClient(app, base_url="http://testserver") as client:
        client.auth = ADMIN
        assert client.get("/api/user").status_code == 200  # hashes, touches: a thread
        paths = Paths(pg, monkeypatch)
        assert client.get("/api/user").json()["login"] == "admin"
        assert client.get("/api/users/lookup?loginOrEmail=admin").json()["id"] == 1
        assert paths.connection == 0
        assert client.get("/api/user/orgs").json()[0]["orgId"] == 1
        assert paths.connection == 1
