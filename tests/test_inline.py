"""Reads answered on the event loop; writes and password hashes moved to a thread.

handlers/inline.py: inside `only_reads()` a write or a hash raises NeedsThread before it
starts, and `loop_first` then runs the whole function again on a worker thread. These
tests pin that nothing is written twice or lost, and that reads stay on the loop: on
PostgreSQL through the asyncio connection Database.on_loop holds, awaiting the server.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select, text
from starlette.testclient import TestClient

import contract
from handlers import app as app_module
from handlers.inline import NeedsThread, ensure_thread, loop_first, on_loop, only_reads
from handlers.passwords import encode_password
from handlers.store import Store, fast
from handlers.store.schema import users
from tests.support.api import PASSWORD, create_user


def _user_count(store: Store) -> int:
    with store.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def test_outside_only_reads_nothing_is_refused() -> None:
    assert not on_loop()
    ensure_thread()  # does not raise
    assert len(encode_password("secret", "salt")) == 100


def test_inside_only_reads_a_hash_is_refused() -> None:
    with only_reads(), pytest.raises(NeedsThread):
        encode_password("secret", "salt")
    assert not on_loop()  # the mark is gone once the block is left, even by an exception


@pytest.fixture
def scheduled(store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The store as the server wires it: writes on the event loop move to a thread."""
    monkeypatch.setattr(store.db, "before_write", ensure_thread)
    return store


def test_a_store_outside_the_server_writes_wherever_it_is_called(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store knows nothing of the server's scheduling unless the server wires it."""
    monkeypatch.setattr(store.db, "before_write", lambda: None)
    with only_reads():
        store.create_user(login="y", email="y@example.com", name="", password_hash="", salt="")
    assert store.find_user("y").login == "y"


def test_inside_only_reads_a_write_is_refused_before_it_starts(scheduled: Store) -> None:
    store = scheduled
    before = _user_count(store)
    with only_reads(), pytest.raises(NeedsThread):
        store.create_user(login="x", email="x@example.com", name="", password_hash="", salt="")
    assert _user_count(store) == before
    with only_reads():
        assert store.find_user("admin").login == "admin"  # reads are allowed


def test_loop_first_keeps_reads_on_the_loop_and_moves_a_writer_to_a_thread(
    scheduled: Store,
) -> None:
    store = scheduled
    seen: dict[str, int] = {}

    def read() -> str:
        seen["read"] = threading.get_ident()
        return store.find_user("admin").login

    def write() -> int:
        seen.setdefault("write attempts", 0)
        seen["write attempts"] += 1
        seen["write"] = threading.get_ident()
        return store.create_user(
            login="w", email="w@example.com", name="", password_hash="", salt=""
        ).id

    async def main() -> tuple[int, str, int]:
        loop_thread = threading.get_ident()
        return (
            loop_thread,
            await loop_first(read, on_loop=True),
            await loop_first(write, on_loop=True),
        )

    loop_thread, login, new_id = asyncio.run(main())
    assert login == "admin" and seen["read"] == loop_thread
    # The first attempt stopped at the write; the second, on a worker thread, made it.
    assert seen["write attempts"] == 2 and seen["write"] != loop_thread
    assert store.get_user(new_id).login == "w"
    assert _user_count(store) == 2


def test_loop_first_without_on_loop_always_uses_a_thread() -> None:
    async def main() -> tuple[int, int]:
        return threading.get_ident(), await loop_first(threading.get_ident, on_loop=False)

    loop_thread, ran_on = asyncio.run(main())
    assert ran_on != loop_thread


def test_get_handlers_are_wrapped_and_keep_their_signature() -> None:
    spec = contract.load()
    function_for = app_module.resolve(spec)
    reads = {op.operation_id for op in spec.operations if op.is_read}
    assert {"getSignedInUser", "searchUsersWithPaging", "getUserByID"} <= reads
    assert not reads & {"updateSignedInUser", "createUser", "deleteUserByID"}
    wrapped = function_for("searchUsersWithPaging")
    assert inspect.iscoroutinefunction(wrapped)
    plain: Any = inspect.unwrap(wrapped)
    assert plain.__module__ == "handlers.users" and not inspect.iscoroutinefunction(plain)
    assert inspect.signature(wrapped) == inspect.signature(plain)
    # A write runs where connexion calls it (a worker thread), behind its access rule only.
    writer = function_for("updateSignedInUser")
    assert not inspect.iscoroutinefunction(writer)
    assert inspect.unwrap(writer).__module__ == "handlers.signed_in_user"


def test_a_get_that_writes_still_writes(admin: TestClient, app: Any, store: Store) -> None:
    """GET /logout deletes the session: on SQLite it starts on the loop and must move."""
    create_user(admin, "jane")
    browser = TestClient(app)
    assert browser.post("/login", json={"user": "jane", "password": PASSWORD}).status_code == 200
    cookie = browser.cookies["grafana_session"]
    assert browser.get("/logout", follow_redirects=False).status_code == 302
    replay = TestClient(app).get("/api/user", cookies={"grafana_session": cookie})
    assert replay.status_code == 401


def test_a_wrong_password_is_hashed_and_counted_off_the_loop(
    admin: TestClient, client: TestClient, store: Store
) -> None:
    create_user(admin, "jane")
    for _ in range(2):
        assert client.get("/api/user", auth=("jane", "wrong")).status_code == 401
    assert store.failed_logins_since("jane", 0) == 2
    assert client.get("/api/user", auth=("jane", PASSWORD)).status_code == 200


@pytest.fixture
def pg_scheduled(scheduled: Store) -> Store:
    if scheduled.db.loop_engine is None:
        pytest.skip("PostgreSQL's asyncio engine only")
    return scheduled


def test_postgresql_reads_run_on_the_loop_through_its_asyncio_connection(
    pg_scheduled: Store,
) -> None:
    """On PostgreSQL a read runs on the event loop thread, every statement through the one
    connection Database.on_loop holds (Core and compiled reads alike); a writer still moves
    to a thread and writes once."""
    store = pg_scheduled
    seen: dict[str, Any] = {}

    def read() -> str:
        seen["read"] = threading.get_ident()
        held = store.db.held()
        seen["held"] = held is not None
        with store.db.read() as conn:
            seen["same"] = conn is held
        return store.find_user("admin").login

    def write() -> int:
        seen["write attempts"] = seen.get("write attempts", 0) + 1
        seen["write"] = threading.get_ident()
        seen["write held"] = store.db.held() is not None
        return store.create_user(
            login="pgw", email="pgw@example.com", name="", password_hash="", salt=""
        ).id

    async def main() -> tuple[int, str, int]:
        runner = store.db.on_loop
        return (
            threading.get_ident(),
            await loop_first(read, on_loop=True, runner=runner),
            await loop_first(write, on_loop=True, runner=runner),
        )

    loop_thread, login, new_id = asyncio.run(main())
    assert login == "admin" and seen["read"] == loop_thread
    assert seen["held"] and seen["same"]
    assert seen["write attempts"] == 2 and seen["write"] != loop_thread
    assert not seen["write held"]  # the thread writes through its own pool
    assert store.get_user(new_id).login == "pgw" and store.db.held() is None


def test_a_postgresql_read_waiting_on_the_server_leaves_the_loop_free(
    pg_scheduled: Store,
) -> None:
    """While one read waits for PostgreSQL (pg_sleep), the event loop runs other work: the
    wait is awaited, not blocked on."""
    store = pg_scheduled

    def slow_read() -> int:
        with store.db.read() as conn:
            conn.exec_driver_sql("SELECT pg_sleep(0.4)")
        return threading.get_ident()

    async def main() -> tuple[int, int, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        task = asyncio.create_task(ticker())
        ran_on = await loop_first(slow_read, on_loop=True, runner=store.db.on_loop)
        task.cancel()
        return threading.get_ident(), ran_on, ticks

    loop_thread, ran_on, ticks = asyncio.run(main())
    assert ran_on == loop_thread
    assert ticks >= 10  # ~20 expected in 0.4 s; a blocked loop would tick at most once


def test_a_loop_connection_left_inside_a_transaction_goes_back_closed(
    pg_scheduled: Store,
) -> None:
    """The loop's pool does not reset returned connections (reads in autocommit leave
    nothing to reset); one a read left busy or inside a transaction is closed, never
    handed to the next request."""
    store = pg_scheduled

    def dirty() -> int:
        with fast.raw_read(store.db) as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_backend_pid()")
            return int(cursor.fetchone()[0])

    def clean() -> int:
        with fast.raw_read(store.db) as cursor:
            held = store.db.held()
            assert held is not None
            driver = held.connection.driver_connection
            assert driver is not None and int(driver.info.transaction_status) == 0
            cursor.execute("SELECT 1")
            return int(cursor.fetchone()[0])

    async def main() -> int:
        pid = await store.db.on_loop(dirty)
        for _ in range(5):  # every pooled connection comes out clean
            assert await store.db.on_loop(clean) == 1
        return pid

    pid = asyncio.run(main())
    deadline = time.monotonic() + 5
    while True:  # the dirty connection's server process ends once it is closed
        with store.db.read() as conn:
            state = conn.execute(
                text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar_one_or_none()
        if state is None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert state is None


def test_a_lazy_call_that_reads_nothing_takes_no_connection_and_no_greenlet(
    pg_scheduled: Store,
) -> None:
    """Database.on_loop(lazily=True) runs the call as it is: no connection is checked out
    and it runs in the loop's own greenlet, not SQLAlchemy's runner."""
    import greenlet

    store = pg_scheduled
    pool = store.db.loop_engine.sync_engine.pool  # type: ignore[union-attr]
    seen: dict[str, Any] = {}

    def answer() -> str:
        seen["runs"] = seen.get("runs", 0) + 1
        seen["greenlet"] = greenlet.getcurrent()
        seen["checked out"] = pool.checkedout()  # type: ignore[attr-defined]
        return "answered"

    async def main() -> tuple[str, Any]:
        return await store.db.on_loop(answer, lazily=True), greenlet.getcurrent()

    result, loops_greenlet = asyncio.run(main())
    assert result == "answered" and seen["runs"] == 1
    assert seen["greenlet"] is loops_greenlet and seen["checked out"] == 0


def test_a_lazy_call_that_reads_is_run_again_with_a_connection(pg_scheduled: Store) -> None:
    """A lazy call reaching a read it cannot have answered ahead (a Core read; compiled
    reads are: tests/test_replay.py) stops there, before reading, and runs again through
    the runner; code that catches Exception (Store.ping: "any error means unhealthy") does
    not swallow the signal."""
    store = pg_scheduled
    runs: list[bool] = []

    def core() -> str:
        runs.append(store.db.replaying() is None)  # with the connection: no replay
        return str(store.user_orgs(1)[0].name)

    async def main() -> tuple[str, bool, str]:
        return (
            await store.db.on_loop(core, lazily=True),
            # Alone in its call: a later read cannot hide a swallowed signal.
            await store.db.on_loop(store.ping, lazily=True),  # Core, through db.read()
            await store.db.on_loop(lambda: store.get_user(1).login, lazily=True),
        )

    org, healthy, again = asyncio.run(main())
    assert org == "Main Org." and runs == [False, True]
    assert healthy is True and again == "admin"
    assert store.db.held() is None  # nothing left behind off the loop
