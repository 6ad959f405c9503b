"""The whole conformance suite against the reference server on PostgreSQL, over HTTP: as
most deployments run it (one process, its reads answered through asyncpg), and behind
PgBouncer in transaction mode (two workers, `--transaction-pooling`). Responses are
validated against openapi.yaml by the server too. The suite's other runs in `make test`
are on SQLite. (Its thorough profile, run by hand on PostgreSQL, once found a lookup for a
NUL character answered 400: tests/test_nul_characters.py pins that on both backends.)"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.runner import run_suite
from tests.support.conformance_env import clear_conformance_environment
from tests.support.live import ServerProcess, fresh_database_url
from tests.support.pgbouncer import needs_pgbouncer, running_pgbouncer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_conformance_environment(monkeypatch)


@pytest.fixture(params=["direct", "pgbouncer"])
def server(request: pytest.FixtureRequest, postgres_url: str, tmp_path: Path) -> Iterator[str]:
    database = fresh_database_url("postgres", tmp_path, postgres_url)
    args = ["--validate-responses"]
    with _through(request.param, database) as url:
        workers = 1
        if request.param == "pgbouncer":
            args.append("--transaction-pooling")
            workers = 2
        process = ServerProcess(url, tmp_path / "server.log", workers=workers, args=args)
        process.start()
        try:
            yield process.url
        finally:
            process.stop()
    log = process.log()
    assert "Traceback" not in log and " ERROR " not in log, log[-4000:]


def _through(mode: str, database: str) -> Any:
    if mode == "direct":
        return contextlib.nullcontext(database)
    needs_pgbouncer()
    return running_pgbouncer(database, pool_size=3)


def test_the_whole_suite_passes_against_the_server_on_postgresql(
    server: str, tmp_path: Path
) -> None:
    admin = ["--admin-auth", "admin:admin"]
    outcome = run_suite([*admin, "--base-url", server, "--report-dir", str(tmp_path), "-q"])
    assert outcome.exit_code == pytest.ExitCode.OK, outcome.failure_text()[:5000]
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "None: the target conforms to the contract." in report
    leftovers = httpx.get(
        f"{server}/api/users/search", params={"query": "cnf-"}, auth=("admin", "admin")
    ).json()
    assert leftovers["totalCount"] == 0, [u["login"] for u in leftovers["users"]]
