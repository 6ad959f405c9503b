"""kill -9 the real server under write load, again and again: no acknowledged write is lost.

The server process (`python -m handlers`) runs on a SQLite file and on PostgreSQL, the two
side by side, 20 kills between them (all 20 on SQLite where PostgreSQL is missing). In each
of its lives, writer threads create users, rename their own user with a counter, change
their own password and log in new sessions, remembering every write the server
acknowledged with a 2xx and the one write still in flight when the process died. Once the
writers are getting answers, at a random moment, the whole process is killed with SIGKILL -
no shutdown code runs - and started again on the same database.

After every kill: SQLite's `PRAGMA integrity_check` answers `ok` (PostgreSQL's indexes
pass amcheck's `bt_index_check` where the extension is installed); the server starts
cleanly (healthy, no traceback or error in its log); every acknowledged user exists;
each renamed user carries the last acknowledged name or the one in flight; each password
is the last acknowledged one or the one in flight; acknowledged sessions still work.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from handlers.passwords import password_matches
from handlers.store import open_store
from handlers.store.schema import users
from tests.conftest import ADMIN
from tests.support.live import ServerProcess, database_url_for, postgres_available

pytestmark = pytest.mark.slow

KILLS_TOTAL = 20  # shared by the backends there are
WRITERS = 4
LIFETIME = (0.0, 0.6)  # seconds of further write load before the kill, drawn at random
TIMEOUT = 10.0


@dataclass
class Writer:
    """One writer thread's user and the writes the server acknowledged."""

    number: int
    login: str
    password: str
    http: httpx.Client  # signed in as this writer's user by a session cookie
    created: list[str] = field(default_factory=list)  # acknowledged new users' logins
    name_acked: int = 0
    name_sent: int = 0
    password_in_flight: str | None = None
    sessions: list[str] = field(default_factory=list)  # acknowledged session cookies
    counter: int = 0
    acknowledged: int = 0


def write_until_killed(
    server: ServerProcess, writer: Writer, life: int, problems: list[str]
) -> None:
    """Write in a loop until the server stops answering; record what was acknowledged."""
    rng = random.Random(f"{writer.number}-{life}")
    with httpx.Client(base_url=server.url, auth=ADMIN, timeout=TIMEOUT) as admin:
        try:
            while True:
                writer.counter += 1
                choice = rng.random()
                if choice < 0.4:
                    login = f"w{writer.number}-{life}-{writer.counter}"
                    body = {"login": login, "password": "pw-created"}
                    answer = admin.post("/api/admin/users", json=body)
                    assert answer.status_code == 200, answer.text
                    writer.created.append(login)
                    writer.acknowledged += 1
                elif choice < 0.8:
                    writer.name_sent = writer.counter
                    body = {"login": writer.login, "name": f"name {writer.counter}"}
                    answer = writer.http.put("/api/user", json=body)
                    assert answer.status_code == 200, answer.text
                    writer.name_acked = writer.counter
                    writer.acknowledged += 1
                elif choice < 0.9:
                    new = f"pw-{writer.number}-{writer.counter}"
                    writer.password_in_flight = new
                    body = {"oldPassword": writer.password, "newPassword": new}
                    answer = writer.http.put("/api/user/password", json=body)
                    assert answer.status_code == 200, answer.text
                    writer.password, writer.password_in_flight = new, None
                    writer.acknowledged += 1
                else:
                    body = {"user": writer.login, "password": writer.password}
                    answer = httpx.post(server.url + "/login", json=body, timeout=TIMEOUT)
                    assert answer.status_code == 200, answer.text
                    writer.sessions.append(answer.cookies["grafana_session"])
                    writer.acknowledged += 1
        except httpx.TransportError:
            return  # the server is gone: the write in flight may or may not have landed
        except AssertionError as error:  # an answer other than the expected success
            problems.append(f"writer {writer.number}, life {life}: {error}")


def check_sqlite_file(database_url: str) -> None:
    path = make_url(database_url).database
    assert path is not None
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def check_postgres_indexes(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            available = conn.execute(
                text("SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'")
            ).first()
            if available is None:
                return
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
            indexes = conn.execute(
                text(
                    "SELECT c.oid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                    " JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n"
                    " ON n.oid = c.relnamespace WHERE a.amname = 'btree'"
                    " AND n.nspname = 'public'"
                )
            ).all()
            for (oid,) in indexes:
                conn.execute(text("SELECT bt_index_check(:oid, true)"), {"oid": oid})
    finally:
        engine.dispose()


def check_acknowledged(server: ServerProcess, database_url: str, writers: list[Writer]) -> int:
    """Every acknowledged write is there; returns how many were checked."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(users.c.login, users.c.name, users.c.password, users.c.salt))
            stored = {row.login: row for row in rows}
    finally:
        engine.dispose()
    checked = 0
    for writer in writers:
        missing = [login for login in writer.created if login not in stored]
        assert not missing, f"acknowledged users lost: {missing}"
        checked += len(writer.created)
        own = stored[writer.login]
        allowed_names = {f"name {writer.name_acked}", f"name {writer.name_sent}"}
        if writer.name_acked == 0:
            allowed_names.add("")
        assert own.name in allowed_names, (writer.number, own.name, allowed_names)
        if own.name == f"name {writer.name_sent}":  # the write in flight landed after all
            writer.name_acked = writer.name_sent
        candidates = [writer.password] + [p for p in [writer.password_in_flight] if p]
        matching = [p for p in candidates if password_matches(p, own.salt, own.password)]
        assert matching, f"writer {writer.number}: neither acknowledged nor in-flight password"
        writer.password, writer.password_in_flight = matching[-1], None
        checked += 2
        for cookie in writer.sessions[-3:]:  # the newest sessions, through the server
            answer = httpx.get(
                server.url + "/api/user", cookies={"grafana_session": cookie}, timeout=TIMEOUT
            )
            assert answer.status_code == 200, f"acknowledged session lost: {answer.text}"
            checked += 1
    return checked


def assert_clean_start(server: ServerProcess) -> None:
    log = server.log(since_last_start=True)
    assert "Traceback" not in log and " ERROR " not in log, log[-4000:]


def kill_again_and_again(backend: str, database_url: str, folder: Path, kills: int) -> str:
    """The whole ordeal on one database; returns a one-line summary."""
    server = ServerProcess(database_url, folder / f"{backend}.log", {"USERAPI_ACCESS_LOG": "0"})
    rng = random.Random(backend)
    server.start()
    writers = []
    for number in range(WRITERS):
        login, password = f"writer{number}", f"pw-{number}-0"
        with httpx.Client(base_url=server.url, auth=ADMIN, timeout=TIMEOUT) as admin:
            body = {"login": login, "password": password}
            assert admin.post("/api/admin/users", json=body).status_code == 200
        http = httpx.Client(base_url=server.url, timeout=TIMEOUT)
        assert http.post("/login", json={"user": login, "password": password}).status_code == 200
        writers.append(Writer(number, login, password, http))
    checked = 0
    started = time.monotonic()
    try:
        for life in range(1, kills + 1):
            problems: list[str] = []
            threads = [
                threading.Thread(target=write_until_killed, args=(server, writer, life, problems))
                for writer in writers
            ]
            before = sum(w.acknowledged for w in writers)
            for thread in threads:
                thread.start()
            # Kill in the thick of it: once the writers are getting answers, at a random
            # moment shortly after.
            deadline = time.monotonic() + 2 * TIMEOUT
            while sum(w.acknowledged for w in writers) - before < WRITERS:
                assert time.monotonic() < deadline, "the restarted server acknowledged nothing"
                time.sleep(0.01)
            time.sleep(rng.uniform(*LIFETIME))
            server.kill()
            for thread in threads:
                thread.join(timeout=2 * TIMEOUT)
            assert not any(thread.is_alive() for thread in threads), "a writer hung"
            assert not problems, problems
            if backend == "sqlite":
                check_sqlite_file(database_url)
            else:
                check_postgres_indexes(database_url)
            server.start()
            assert_clean_start(server)
            checked += check_acknowledged(server, database_url, writers)
        acknowledged = sum(w.acknowledged for w in writers)
    finally:
        for writer in writers:
            writer.http.close()
        server.stop()
    return (
        f"{backend}: {kills} kill -9s in {time.monotonic() - started:.0f} s,"
        f" {acknowledged} writes acknowledged, {checked} checks of them after restarts"
    )


def test_acknowledged_writes_survive_kill_9(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """SQLite and PostgreSQL side by side (each mostly waits for its server to start)."""
    backends = ["sqlite", "postgres"] if postgres_available() else ["sqlite"]
    kills = KILLS_TOTAL // len(backends)
    urls = {backend: database_url_for(request, backend, tmp_path) for backend in backends}
    with ThreadPoolExecutor(len(backends)) as pool:
        ordeals = [
            pool.submit(kill_again_and_again, backend, url, tmp_path, kills)
            for backend, url in urls.items()
        ]
        summaries = [ordeal.result() for ordeal in ordeals]
    print("\n" + "\n".join(summaries))


@pytest.mark.parametrize(("mode", "code"), [(None, 2), ("NORMAL", 1), ("FULL", 2)])
def test_sqlite_syncs_every_commit_unless_told_otherwise(
    tmp_path: Path, mode: str | None, code: int
) -> None:
    """FULL (2) by default: in WAL mode a committed write survives a power loss."""
    options = {} if mode is None else {"sqlite_synchronous": mode}
    store = open_store(f"sqlite:///{tmp_path / 'sync.db'}", **options)
    try:
        with store.db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == code
    finally:
        store.close()


def test_an_unknown_synchronous_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="synchronous mode must be one of"):
        open_store("sqlite://", sqlite_synchronous="SOMETIMES")
