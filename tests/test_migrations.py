"""Alembic migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

from handlers.store import Store, open_store
from handlers.store.db import Database
from handlers.store.schema import metadata
from handlers.store.search import include_object
from tests.conftest import BACKENDS
from tests.support.live import database_url_for


def test_migrated_database_matches_the_declared_schema(store: Store) -> None:
    with store.db.read() as conn:
        # The search index (FTS5 table on SQLite, trigram indexes on PostgreSQL) is per backend
        # and created by revision 0002 alone; schema.py does not declare it.
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_reopening_a_database_keeps_its_data_and_does_not_recreate_the_admin(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    first = open_store(url)
    first.create_user(login="kept", email="kept@example.com", name="", password_hash="h", salt="s")
    first.close()
    second = open_store(url, admin_password="another")
    assert second.find_user("kept").email == "kept@example.com"
    assert [u.login for u in second.search_users(query="", page=1, per_page=10).items] == [
        "admin",
        "kept",
    ]
    second.close()


@pytest.mark.parametrize("url", ["sqlite://"])
def test_first_start_creates_main_org_and_a_grafana_admin(url: str) -> None:
    store = open_store(url, admin_login="Boss", admin_email="Boss@Example.com")
    boss = store.find_user("boss")
    assert (boss.id, boss.email, boss.is_admin, boss.org_id) == (1, "boss@example.com", True, 1)
    assert [(m.org_id, m.name, m.role) for m in store.user_orgs(boss.id)] == [
        (1, "Main Org.", "Admin")
    ]
    store.close()


# -- upgrading a database made by the previous release ------------------------------------

# The newest revision of the last release. When a revision is added, this stays until the
# release after; the rows below are written as that release wrote them.
PREVIOUS_RELEASE_HEAD = "0002"
WHEN = datetime(2025, 3, 1, 9, 30)


def _rows_of_the_previous_release(conn: Connection) -> None:
    """Org 1, a user and the user's membership, column by column as written then."""
    user = {
        "id": 7, "uid": "ce3kq9vh2w5xcd", "version": 0, "login": "kept",
        "email": "kept@example.com",
        "name": "Kept Forever", "password": "hash", "salt": "salt", "rands": "", "company": "",
        "org_id": 1, "is_admin": False, "email_verified": False, "theme": "",
        "created": WHEN, "updated": WHEN, "last_seen_at": WHEN, "is_disabled": False,
        "is_service_account": False,
    }  # fmt: skip
    conn.execute(text("INSERT INTO org (id, version, name, created, updated) "
                      "VALUES (1, 0, 'Main Org.', :w, :w)"), {"w": WHEN})  # fmt: skip
    columns = ", ".join(user)
    conn.execute(
        text(f"INSERT INTO users ({columns}) VALUES ({', '.join(':' + c for c in user)})"), user
    )
    conn.execute(text("INSERT INTO org_user (org_id, user_id, role, created, updated) "
                      "VALUES (1, 7, 'Editor', :w, :w)"), {"w": WHEN})  # fmt: skip


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new, empty database of each backend."""
    return database_url_for(request, str(request.param), tmp_path)


def test_a_database_made_by_the_previous_release_upgrades_and_keeps_its_data(
    empty_database_url: str,
) -> None:
    previous = Database(empty_database_url)
    previous.migrate(PREVIOUS_RELEASE_HEAD)
    with previous.write() as conn:
        _rows_of_the_previous_release(conn)
    previous.close()

    store = open_store(empty_database_url)  # migrates to head, then first-start checks
    kept = store.find_user("kept")
    assert (kept.id, kept.email, kept.name, kept.created) == (
        7,
        "kept@example.com",
        "Kept Forever",
        WHEN,
    )
    assert [(m.org_id, m.role) for m in store.user_orgs(7)] == [(1, "Editor")]
    found = store.search_users(query="forever", page=1, per_page=10).items
    assert [u.login for u in found] == ["kept"], "the search index covers rows made before"
    with store.db.read() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        assert compare_metadata(context, metadata) == []
    store.close()
