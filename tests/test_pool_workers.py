"""Several worker processes on one PostgreSQL stay within their connection budget.

Each process may hold GF_DATABASE_MAX_OPEN_CONN connections (store/db.py splits them
between the event loop's reads and the threads' writes). Two workers with a budget of 6
each serve 48 concurrent clients mixing reads (basic auth, session cookie, search) and
writes (new users, profile updates): every request succeeds (a busy pool makes a request
wait, never fail), and PostgreSQL never sees more than 2 x 6 of the server's connections.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from handlers.store.db import APPLICATION_NAME
from tests.conftest import ADMIN
from tests.support.live import ServerProcess, fresh_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKERS, BUDGET, CLIENTS, ROUNDS = 2, 6, 48, 6


@pytest.fixture
def pooled_server(postgres_url: str, tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    url = fresh_database_url("postgres", tmp_path, postgres_url)
    env = {"GF_DATABASE_MAX_OPEN_CONN": str(BUDGET), "GF_DATABASE_MAX_IDLE_CONN": "2"}
    server = ServerProcess(url, tmp_path / "server.log", env, workers=WORKERS)
    server.start()
    try:
        yield server, url
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()[-4000:]


def _connections(engine: object, database: str) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = :name AND datname = :db"
                ),
                {"name": APPLICATION_NAME, "db": database},
            ).scalar_one()
        )


def test_workers_share_the_load_within_their_connection_budget(
    pooled_server: tuple[ServerProcess, str], postgres_url: str
) -> None:
    server, url = pooled_server
    database = url.rsplit("/", 1)[1].split("?")[0]
    login = httpx.post(server.url + "/login", json={"user": "admin", "password": "admin"})
    cookie = {"Cookie": f"grafana_session={login.cookies['grafana_session']}"}
    monitor = create_engine(postgres_url)
    peak, done = [0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _connections(monitor, database))
            done.wait(0.01)

    def client(n: int) -> list[int]:
        statuses = []
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for r in range(ROUNDS):
                kind = (n + r) % 4
                if kind == 0:
                    answer = http.get("/api/user", auth=ADMIN)
                elif kind == 1:
                    answer = http.get("/api/users/search?query=user", headers=cookie)
                elif kind == 2:
                    body = {"login": f"user{n}-{r}", "password": "long-enough-password"}
                    answer = http.post("/api/admin/users", json=body, auth=ADMIN)
                else:
                    answer = http.get("/api/user", headers=cookie)
                statuses.append(answer.status_code)
        return statuses

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            statuses = [s for result in pool.map(client, range(CLIENTS)) for s in result]
    finally:
        done.set()
        watcher.join()
    remaining = _connections(monitor, database)
    monitor.dispose()
    assert statuses.count(200) == CLIENTS * ROUNDS, sorted(set(statuses))
    assert 0 < peak[0] <= WORKERS * BUDGET, peak[0]
    assert remaining <= WORKERS * BUDGET
    with httpx.Client(base_url=server.url, auth=ADMIN) as http:
        created = http.get("/api/users/search?query=user&perpage=1000").json()["totalCount"]
    assert created == sum(1 for n in range(CLIENTS) for r in range(ROUNDS) if (n + r) % 4 == 2)
