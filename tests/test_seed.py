"""`python -m handlers.seed`: the bulk seeding command the benchmarks use.

Seeded rows must be real users of the server (they log in with the seeding password and
search finds them through the index), the counts must be what the report says, and the
progress output must stay readable when stderr is not a terminal.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from starlette.testclient import TestClient

from handlers.app import create_app
from handlers.progress import Progress
from handlers.seed import identity, main, seed
from handlers.settings import Settings
from handlers.store import Store, schema

PASSWORD = "seeded-pw"


@pytest.fixture
def database_url(store: Store, tmp_path: Any) -> str:
    """A file database on SQLite; the shared PostgreSQL database (emptied before each test)."""
    if store.db.dialect == "sqlite":
        return f"sqlite:///{tmp_path / 'seed.db'}"
    return str(store.db.url)


def _count(url: str, table: Any) -> int:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


def test_seeded_users_orgs_and_teams_are_counted_and_real(database_url: str) -> None:
    out = io.StringIO()
    report = seed(database_url, users=60, orgs=2, teams=3, password=PASSWORD, stream=out)
    assert (report.users, report.orgs, report.teams, report.memberships) == (60, 2, 3, 180)
    assert _count(database_url, schema.users) == 61  # and the admin
    assert _count(database_url, schema.orgs) == 3
    assert _count(database_url, schema.teams) == 3
    # Every user is in org 1 and in one extra org; the admin only in org 1.
    assert _count(database_url, schema.org_users) == 60 * 2 + 1
    assert _count(database_url, schema.team_members) == 60
    for stage in ("orgs and teams", "users", "memberships"):
        assert stage in out.getvalue()
    assert "60/60" in out.getvalue()

    app = create_app(Settings(database_url=database_url))
    with TestClient(app) as client:
        login, email, name = identity(41)
        me = client.get("/api/user", auth=(login, PASSWORD))
        assert (me.status_code, me.json()["email"], me.json()["name"]) == (200, email, name)
        found = client.get(
            "/api/users/search", params={"query": login[1:7]}, auth=("admin", "admin")
        )
        assert found.status_code == 200
        assert login in [u["login"] for u in found.json()["users"]]
        # An untouched seeded user looks like any user created through the API.
        other, _, _ = identity(42)
        untouched = client.get(
            "/api/users/search", params={"query": other}, auth=("admin", "admin")
        ).json()["users"]
        assert [(u["lastSeenAtAge"], u["isAdmin"], u["isDisabled"]) for u in untouched] == [
            ("10 years", False, False)
        ]
        wrong = client.get("/api/user", auth=(login, "not-the-password"))
        assert wrong.status_code == 401


def test_seeding_a_seeded_database_is_refused_and_adds_nothing(database_url: str) -> None:
    seed(database_url, users=10, password=PASSWORD, progress=False)
    with pytest.raises(SystemExit, match="already seeded"):
        seed(database_url, users=10, password=PASSWORD, progress=False)
    assert _count(database_url, schema.users) == 11


def test_progress_off_a_terminal_writes_a_line_per_tenth() -> None:
    out = io.StringIO()
    progress = Progress(out)
    advance = progress.stage("rows", 1000)
    for _ in range(1000):
        advance(1)
    progress.finish()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10  # nine tenths on the way, then the final line
    assert lines[0].startswith("          rows [###") and "100/1,000" in lines[0]
    assert "[" + "#" * 30 + "] 1,000/1,000" in lines[-1]
    silent = io.StringIO()
    Progress(silent, enabled=False).stage("rows", 10)(10)
    assert silent.getvalue() == ""


def test_negative_counts_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--users", "-1", "--database-url", "sqlite://"])
    assert exit_info.value.code == 2
    assert "counts must not be negative" in capsys.readouterr().err
