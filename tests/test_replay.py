"""Reads answered ahead on PostgreSQL (store/replay.py, Database.on_loop's `lazily`).

A lazy call's compiled reads are run on an asyncpg connection awaited directly, and the
call runs again with their rows; anything else takes the connection path as before. These
tests pin that the answers are the connection path's answers (hostile values included),
and that the path is really taken. The replay pool itself: tests/test_replay_pool.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, literal_column, select
from starlette.testclient import TestClient

from handlers.app import create_app
from handlers.passwords import keyed_hash
from handlers.settings import Settings
from handlers.store import Store, fast
from handlers.store.replay import MOST_READS, _server_settings, connect_arguments
from handlers.store.schema import users
from handlers.store.users import _prepared
from tests.conftest import ADMIN
from tests.support.replay import Paths

ANY_TEXT = st.text(max_size=40)
ANY_INT = st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2, -1, 2**63, 2**63 - 1]))


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
