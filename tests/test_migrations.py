"""Alembic migrations build exactly the schema the code declares, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from handlers.store import Store, open_store
from handlers.store.schema import metadata
from handlers.store.search import include_object


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
