"""The server behind PgBouncer in transaction mode (`--transaction-pooling`).

Such a pooler runs each transaction on any of its few server connections, so nothing that
lives in a server session may be relied on: a statement prepared under a name in one
transaction is missing (or another one) in the next, and PgBouncer refuses startup
parameters it does not know (`options`) at once. With the setting, the server prepares
nothing and sends no `options`; without it, it says what to set: at start when PgBouncer
refuses its `options`, and in the log when prepared statements go missing.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from handlers.settings import Settings
from handlers.store.db import Pooling, _server_engines, pooler_hint
from tests.support.live import (
    ServerProcess,
    clean_environment,
    fresh_database_url,
    refused_at_start,
)
from tests.support.pgbouncer import needs_pgbouncer, running_pgbouncer
from tests.support.postgres import free_port

pytestmark = [pytest.mark.postgres]

AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}
POOLING = {"USERAPI_DATABASE_TRANSACTION_POOLING": "true"}
READS = [
    "/api/user",
    "/api/users/search?perpage=5",
    "/api/users/lookup?loginOrEmail=admin",
    "/api/users/1",
    "/api/user/orgs",
]
SETTING_WORDS = ("--transaction-pooling", "USERAPI_DATABASE_TRANSACTION_POOLING=true")


@pytest.fixture
def database(postgres_url: str, tmp_path: Path) -> str:
    """A new database of the test PostgreSQL, reached directly."""
    return fresh_database_url("postgres", tmp_path, postgres_url)


@pytest.fixture
def pgbouncer(database: str) -> Iterator[str]:
    needs_pgbouncer()
    with running_pgbouncer(database) as url:
        yield url


def _get(base: str, path: str) -> int:
    return httpx.get(base + path, headers=AUTH, timeout=30).status_code


def _mixed_reads(base: str, rounds: int = 60, threads: int = 10) -> Counter[int]:
    with ThreadPoolExecutor(threads) as pool:
        return Counter(pool.map(lambda path: _get(base, path), READS * rounds))


def test_the_server_serves_reads_and_writes_through_pgbouncer(
    pgbouncer: str, tmp_path: Path
) -> None:
    """Two workers (the setting given on the command line reaches both), each with its
    pools, through two server connections: every request answers as it would directly,
    reads and writes interleaved from ten clients."""
    server = ServerProcess(
        pgbouncer, tmp_path / "server.log", workers=2, args=["--transaction-pooling"]
    )
    server.start()
    try:
        base = server.url

        def user_life(n: int) -> list[int]:
            login = f"pooled-{n}-{uuid.uuid4().hex[:6]}"
            made = httpx.post(
                base + "/api/admin/users",
                headers=AUTH,
                json={"login": login, "password": "secret-password", "email": f"{login}@x"},
            )
            user = made.json()["id"]
            codes = [made.status_code]
            for round_ in range(3):
                codes.append(
                    httpx.put(
                        f"{base}/api/users/{user}",
                        headers=AUTH,
                        json={"login": login, "email": f"{login}@x", "name": f"round {round_}"},
                    ).status_code
                )
                found = httpx.get(f"{base}/api/users/{user}", headers=AUTH)
                codes.append(found.status_code if found.json()["name"] == f"round {round_}" else 0)
            codes.append(httpx.delete(f"{base}/api/admin/users/{user}", headers=AUTH).status_code)
            return codes

        with ThreadPoolExecutor(10) as pool:
            writes = pool.map(user_life, range(20))
            reads = pool.map(lambda path: _get(base, path), READS * 60)
            assert Counter(code for codes in writes for code in codes) == {200: 20 * 8}
            assert Counter(reads) == {200: len(READS) * 60}
    finally:
        server.stop()
    log = server.log()
    assert "Traceback" not in log and "ERROR" not in log, log[-4000:]


def test_without_the_setting_the_server_says_what_to_set(pgbouncer: str, tmp_path: Path) -> None:
    """PgBouncer refuses the `options` the server sends (its session settings): the server
    stops at start, saying so and what to set, not with a traceback."""
    said = refused_at_start(["--port", str(free_port()), "--database-url", pgbouncer])
    assert "refused the connection's startup parameter 'options'" in said, said
    assert all(words in said for words in SETTING_WORDS), said


def test_lost_prepared_statements_are_named_in_the_log(database: str, tmp_path: Path) -> None:
    """A PgBouncer told to let `options` through, with a server not told of it: the
    statements psycopg prepares (after five runs) go missing between server connections.
    Those requests fail; the log says why and what to set."""
    needs_pgbouncer()
    with running_pgbouncer(database, ignore="options") as url:
        server = ServerProcess(url, tmp_path / "server.log")
        server.start()
        try:
            answered = _mixed_reads(server.url)
        finally:
            server.stop()
    assert answered[500] > 0, answered
    log = server.log()
    assert "prepared statements are lost between server connections" in log
    assert all(words in log for words in SETTING_WORDS)


def test_pooled_connections_prepare_nothing_and_send_no_options(postgres_url: str) -> None:
    """Directly on PostgreSQL: with the setting, psycopg never prepares a statement, the
    session keeps the server's own settings (no `options`: jit as the server has it) and
    there is no asyncpg pool; without it, psycopg prepares after five runs, and jit is off."""
    for pooling, threshold, jit, replay in ((True, None, "on", False), (False, 5, "off", True)):
        limits = Pooling(max_open=4, max_idle=2, transaction_pooling=pooling)
        threads, loop, replays = _server_engines(postgres_url, limits)
        try:
            with threads.connect() as conn:
                driver = conn.connection.driver_connection
                assert driver is not None
                assert driver.prepare_threshold == threshold
                assert conn.execute(text("SHOW jit")).scalar_one() == jit
                assert conn.execute(text("SHOW application_name")).scalar_one() == (
                    "grafana-userapi"
                )
            assert (replays is not None) is replay
        finally:
            threads.dispose()
            loop.sync_engine.dispose()


def test_the_setting_is_read_from_the_environment_and_the_command_line() -> None:
    assert Settings.from_env({}).transaction_pooling is False
    assert Settings.from_env(POOLING).transaction_pooling is True
    assert Settings.from_env({}).with_args(["--transaction-pooling"]).transaction_pooling
    on = Settings.from_env(POOLING)
    assert on.with_args([]).transaction_pooling is True
    assert on.with_args(["--no-transaction-pooling"]).transaction_pooling is False


def test_only_prepared_statement_errors_get_the_hint() -> None:
    class Driver(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    class Wrapped(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.orig = Driver(sqlstate)

    assert pooler_hint(Wrapped("26000")) is not None  # invalid_sql_statement_name
    assert pooler_hint(Wrapped("42P05")) is not None  # duplicate_prepared_statement
    assert pooler_hint(Wrapped("23505")) is None
    assert pooler_hint(ValueError("no driver error")) is None


def test_the_seed_command_takes_the_setting_too(pgbouncer: str, database: str) -> None:
    """`python -m handlers.seed` through PgBouncer: it says what to set, then seeds."""
    seed = [sys.executable, "-m", "handlers.seed", "--users", "30", "--no-progress"]
    seed += ["--database-url", pgbouncer]
    refused = subprocess.run(seed, env=clean_environment(), capture_output=True, text=True)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert all(words in refused.stderr for words in SETTING_WORDS), refused.stderr
    done = subprocess.run(
        [*seed, "--transaction-pooling"], env=clean_environment(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 31
    finally:
        engine.dispose()
