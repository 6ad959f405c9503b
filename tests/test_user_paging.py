"""Paging the user list from counted login ranges (handlers/store/paging.py) answers exactly
what Grafana's `ORDER BY login, email LIMIT/OFFSET` and separate count answer, page for
page, after any mix of writes, made by this store or by another one on the same database.

The ranges are made tiny here (3 users each, split above 6), so that a few dozen users
already span many ranges and every write splits, drops or shifts some.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import ColumnElement, func, or_, select

from handlers.store import Store, open_store, paging
from handlers.store.db import MIGRATIONS
from handlers.store.users import U
from tests.conftest import BACKENDS
from tests.support.live import database_url_for


@pytest.fixture(autouse=True)
def tiny_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "PER_BUCKET", 3)
    monkeypatch.setattr(paging, "SPLIT_ABOVE", 6)


def grafana_page(store: Store, query: str, page: int, per_page: int) -> tuple[int, list[int]]:
    """Grafana's own queries: a count, then ORDER BY login, email LIMIT/OFFSET."""
    cond: ColumnElement[bool] = U.c.is_service_account.is_(False)
    if query:
        pattern = f"%{query}%"
        cond = cond & or_(
            U.c.login.like(pattern), U.c.email.like(pattern), func.lower(U.c.name).like(pattern)
        )
    with store.db.read() as conn:
        total = conn.execute(select(func.count()).select_from(U).where(cond)).scalar_one()
        ids = conn.execute(
            select(U.c.id)
            .where(cond)
            .order_by(U.c.login, U.c.email)
            .limit(per_page)
            .offset(per_page * (page - 1))
        ).scalars()
        return int(total), list(ids)


def ours(store: Store, query: str, page: int, per_page: int) -> tuple[int, list[int]]:
    found = store.search_users(query=query, page=page, per_page=per_page)
    return found.total_count, [u.id for u in found.items]


def assert_counts_exact(store: Store) -> None:
    """Every range counts exactly the users whose login falls in it."""
    with store.db.read() as conn:
        ranges = paging.counts(conn)
        logins = sorted(
            conn.execute(select(U.c.login).where(U.c.is_service_account.is_(False))).scalars()
        )
    assert ranges[0][0] == "" if ranges else logins == []
    bounds = [start for start, _ in ranges[1:]]
    for k, (start, count) in enumerate(ranges):
        end = bounds[k] if k < len(bounds) else None
        inside = [x for x in logins if x >= start and (end is None or x < end)]
        assert count == len(inside), (start, count, inside)


def assert_every_page_agrees(store: Store, queries: tuple[str, ...] = ("",)) -> None:
    total = ours(store, "", 1, 1)[0]
    for query in queries:
        for per_page in (1, 4, 7, 1000):
            for page in range(1, total // per_page + 3):
                assert ours(store, query, page, per_page) == grafana_page(
                    store, query, page, per_page
                ), (query, page, per_page)


SERIAL = itertools.count()
letters = st.text("abcxyz", min_size=1, max_size=4)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), letters),
        st.tuples(st.just("delete"), st.integers(0, 200)),
        st.tuples(st.just("rename"), st.integers(0, 200), letters),
        st.tuples(st.just("email"), st.integers(0, 200), letters),
        st.tuples(st.just("service account"), letters),
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
def test_every_page_is_grafanas_page_after_any_writes(
    store: Store, steps: list[tuple[Any, ...]]
) -> None:
    made: list[int] = []
    for step in steps:
        n = next(SERIAL)  # names stay unique across examples (service accounts stay)
        kind = step[0]
        if kind in ("create", "service account"):
            user = store.create_user(
                login=f"{step[1]}{n}",
                email=f"{step[1]}{n}@example.com",
                name=f"User {step[1]}",
                password_hash="h",
                salt="s",
                service_account=kind == "service account",
            )
            if kind == "create":
                made.append(user.id)
        elif made:
            target = made[step[1] % len(made)]
            if kind == "delete":
                store.delete_user(target)
                made.remove(target)
            elif kind == "rename":
                store.update_user(target, login=f"{step[2]}r{n}", email="", name="", theme="")
            else:
                store.update_user(target, login="", email=f"{step[2]}{n}@x.org", name="", theme="")
    assert_counts_exact(store)
    assert_every_page_agrees(store, ("", "b", "y@x"))
    # And back to Grafana's defaults: the ranges follow the deletes down to the admin.
    for user_id in made:
        store.delete_user(user_id)
    assert_counts_exact(store)
    assert ours(store, "", 1, 10) == grafana_page(store, "", 1, 10)


@pytest.fixture(params=BACKENDS)
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """Two stores (as two server processes would hold) on one new database."""
    url = database_url_for(request, str(request.param), tmp_path)
    first, second = open_store(url), open_store(url)
    yield first, second
    first.close()
    second.close()


def test_a_write_by_another_store_shows_on_the_next_page(two_stores: tuple[Store, Store]) -> None:
    reader, writer = two_stores
    ids = [
        writer.create_user(
            login=f"user{k:02d}", email=f"u{k}@example.com", name="", password_hash="h", salt="s"
        ).id
        for k in range(20)
    ]
    before = ours(reader, "", 3, 4)
    assert before == grafana_page(reader, "", 3, 4)
    writer.create_user(login="aaa", email="aaa@example.com", name="", password_hash="h", salt="s")
    shifted = ours(reader, "", 3, 4)
    assert shifted == grafana_page(reader, "", 3, 4)
    assert shifted[0] == before[0] + 1 and shifted[1][1:] == before[1][:-1]
    writer.delete_user(ids[0])
    writer.update_user(ids[15], login="a-first", email="", name="", theme="")
    writer.update_user(ids[5], login="", email="zz@example.com", name="", theme="")
    assert_every_page_agrees(reader)
    assert_counts_exact(reader)


def test_the_ranges_are_counted_when_migrating_and_gone_when_downgrading(
    two_stores: tuple[Store, Store],
) -> None:
    store, _ = two_stores
    for k in range(11):
        store.create_user(
            login=f"m{k:02d}", email=f"m{k}@example.com", name="", password_hash="h", salt="s"
        )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.db.write() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
        assert not conn.dialect.has_table(conn, "user_page_bucket")
    store.db.migrate()  # the revision fills the ranges from the users there are
    assert_counts_exact(store)
    assert_every_page_agrees(store)
    store.create_user(login="m05b", email="m5b@example.com", name="", password_hash="h", salt="s")
    assert_every_page_agrees(store)


def test_a_listed_user_is_the_stored_user_without_the_password(store: Store) -> None:
    made = store.create_user(
        login="listed", email="listed@example.com", name="Listed One", password_hash="h", salt="s"
    )
    store.link_external(made.id, "oauth_github", "gh-1")
    listed = [u for u in store.search_users(query="", page=1, per_page=10).items if u.id == made.id]
    stored = store.get_user(made.id)
    assert listed == [dataclasses.replace(stored, password="", salt="")]
    assert stored.password == "h" and listed[0].auth_labels == ("GitHub",)


def test_a_recount_gives_exact_ranges_of_the_set_size(store: Store) -> None:
    for k in range(14):
        store.create_user(
            login=f"r{k:02d}",
            email=f"r{k}@example.com",
            name="",
            password_hash="h",
            salt="s",
            service_account=k % 5 == 0,
        )
    with store.db.write() as conn:
        paging.rebuild(conn)
        ranges = paging.counts(conn)
    assert [count for _, count in ranges] == [3, 3, 3, 3]  # the admin and 11 users
    assert_counts_exact(store)
    assert_every_page_agrees(store)
