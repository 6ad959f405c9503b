"""Fixtures for the reference server's own tests: a store per backend, apps and clients."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

import contract
import library_patches
from handlers.app import create_app
from handlers.passwords import encode_password, random_string
from handlers.settings import Settings
from handlers.store import Store, open_store
from handlers.store.bootstrap import bootstrap
from handlers.store.schema import metadata
from tests.support.postgres import find_bin_dir, running_postgres
from tests.support.servers import serve_in_thread

ADMIN = ("admin", "admin")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SUITE_DIR = Path(__file__).resolve().parent.parent / "conformance"


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    """Unique node ids; and under pytest-xdist (`make test` runs `-n 2 --dist loadgroup`),
    what shares state kept on one worker and the slow tests started first.

    Runs after every other plugin's hook, so that the ids it reads are final."""
    yield
    # schemathesis's per-operation items (test_fuzz.py's) share their function's node id,
    # like the suite's, which conformance.plugin renames: xdist, which finds an item by its
    # id, would run the first operation's item again and again in place of the others.
    ids = {operation.label: operation.operation_id for operation in contract.load().operations}
    generated = [item for item in items if SUITE_DIR not in item.path.parents]
    library_patches.give_items_operation_ids(generated, ids)
    if hasattr(config, "workerinput"):
        _group_and_order_for_xdist(items)


def _group_and_order_for_xdist(items: list[pytest.Item]) -> None:
    """The conformance suite's tests share the run's session fixtures (its world, its
    failed-login budget), so they form one group; a module that holds a module-scoped
    fixture (a server, test_fuzz.py's run counted by its last test) is one group too, else
    each worker would start its own and test_fuzz.py's count would see only some cases.
    Every other test goes to whichever worker is free. `--dist loadgroup` hands out the
    largest groups first, then the single tests in this order: the slow ones first, so
    that no worker is left with a long test at the end while the other waits.

    The group goes into the node id as `id@group`, which is what `--dist loadgroup` reads
    (xdist's own xdist_group marker writes it where pytest 9.2 no longer looks)."""
    node_id = library_patches.internal("_pytest.nodeid", "NodeId.parse")
    shared_modules = {
        item.path
        for item in items
        if isinstance(item, pytest.Function)
        and any(
            defs[-1].scope == "module"
            for defs in item._fixtureinfo.name2fixturedefs.values()
            if defs
        )
    }
    first: list[pytest.Item] = []
    for item in items:
        if SUITE_DIR in item.path.parents:
            group = "conformance"
        elif item.path in shared_modules:
            group = item.path.name
        else:
            if item.get_closest_marker("slow") is not None:
                first.append(item)
            continue
        item._id = node_id(f"{item.nodeid}@{group}")
    # A group keeps its tests' order (test_fuzz.py's last test counts what the others sent).
    chosen = set(first)
    items[:] = first + [item for item in items if item not in chosen]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL for the whole run (skipped where none is installed, except
    when USERAPI_REQUIRE_POSTGRES=1, as CI sets: there a missing server is a failure)."""
    url = os.environ.get("USERAPI_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if find_bin_dir() is None:
        if os.environ.get("USERAPI_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required (USERAPI_REQUIRE_POSTGRES=1) but not installed")
        pytest.skip("PostgreSQL server binaries are not installed")
    with running_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_store(postgres_url: str) -> Iterator[Store]:
    store = open_store(postgres_url)
    yield store
    store.close()


def reset(store: Store) -> None:
    """Empty every table and recreate Grafana's first-start data."""
    salt = random_string(10)
    with store.db.write() as conn:
        if store.db.dialect == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())  # row triggers keep the search index in step
            conn.execute(text("DELETE FROM sqlite_sequence"))
        bootstrap(
            conn,
            admin_login="admin",
            admin_email="admin@localhost",
            password_hash=encode_password("admin", salt),
            salt=salt,
        )


@pytest.fixture
def pg(postgres_store: Store) -> Store:
    """The shared PostgreSQL store, holding only Grafana's defaults (a module may define
    its own `pg`, as tests/test_pool.py does)."""
    reset(postgres_store)
    return postgres_store


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    """One event loop for a whole test (the replay pool's connections belong to it)."""
    with asyncio.Runner() as loop:
        yield loop


@pytest.fixture(scope="session")
def sqlite_shared_store() -> Iterator[Store]:
    store = open_store("sqlite://")
    yield store
    store.close()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A database holding only Grafana's defaults, on each backend. One database per
    backend is emptied between tests: much faster than building one per test."""
    name = "sqlite_shared_store" if request.param == "sqlite" else "postgres_store"
    shared: Store = request.getfixturevalue(name)
    reset(shared)
    yield shared


@pytest.fixture
def sqlite_store() -> Iterator[Store]:
    """For tests of behaviour that does not depend on the database."""
    fresh = open_store("sqlite://")
    yield fresh
    fresh.close()


@pytest.fixture
def settings(request: pytest.FixtureRequest) -> Settings:
    """The server's settings; `@pytest.mark.grafana("11.6")` makes it answer as that
    Grafana release (the newest otherwise)."""
    marker = request.node.get_closest_marker("grafana")
    version = str(marker.args[0]) if marker else None
    return Settings(database_url="sqlite://", validate_responses=True, grafana_version=version)


@pytest.fixture(scope="session")
def app_cache() -> dict[tuple[int, Settings], Any]:
    return {}


@pytest.fixture
def app(store: Store, settings: Settings, app_cache: dict[tuple[int, Settings], Any]) -> Any:
    """The server on `store`. Building an app checks the whole spec (about half a second),
    so one app per (store, settings) serves every test; the store is emptied in between."""
    key = (id(store), settings)
    if key not in app_cache:
        app_cache[key] = create_app(settings, store=store)
    return app_cache[key]


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """An unauthenticated client of an in-process server."""
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def admin(app: Any) -> Iterator[TestClient]:
    """A client authenticated as the Grafana Admin (admin/admin)."""
    with TestClient(app, base_url="http://testserver") as test_client:
        test_client.auth = ADMIN
        yield test_client


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The same app on a real loopback port, for clients that need a socket."""
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def hostile_servers() -> Iterator[dict[str, Any]]:
    """A hostile-input module's servers by backend (tests/support/hostile.py): one set per
    module, each started on first use, stopped and its log checked at the module's end."""
    from tests.support.hostile import running_servers  # it imports this module

    with running_servers() as servers:
        yield servers


@pytest.fixture
def sqlite_server(request: pytest.FixtureRequest, hostile_servers: dict[str, Any]) -> Any:
    """The module's server on SQLite (see hostile_servers)."""
    from tests.support.hostile import started

    return started(request, hostile_servers, "sqlite")
