"""Fixtures for the reference server's own tests: a store per backend, apps and clients."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from handlers.app import create_app
from handlers.passwords import encode_password, random_string
from handlers.settings import Settings
from handlers.store import Store, open_store
from handlers.store.db import bootstrap
from handlers.store.schema import metadata
from tests.support.postgres import find_bin_dir, running_postgres
from tests.support.servers import serve_in_thread

ADMIN = ("admin", "admin")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


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
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        bootstrap(
            conn,
            admin_login="admin",
            admin_email="admin@localhost",
            password_hash=encode_password("admin", salt),
            salt=salt,
        )


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A fresh database with only Grafana's defaults, on each backend."""
    if request.param == "sqlite":
        fresh = open_store("sqlite://")
        yield fresh
        fresh.close()
        return
    shared: Store = request.getfixturevalue("postgres_store")
    reset(shared)
    yield shared


@pytest.fixture
def sqlite_store() -> Iterator[Store]:
    """For tests of behaviour that does not depend on the database."""
    fresh = open_store("sqlite://")
    yield fresh
    fresh.close()


@pytest.fixture
def settings() -> Settings:
    return Settings(database_url="sqlite://", validate_responses=True)


@pytest.fixture
def app(store: Store, settings: Settings) -> Any:
    return create_app(settings, store=store)


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
