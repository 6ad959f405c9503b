"""The search index never changes an answer: indexed search equals Grafana's plain scan.

On SQLite the store narrows candidates with the FTS5 trigram table (`use_index=True`) or
scans (`use_index=False`). On PostgreSQL the SQL is the same either way, so the planner is
steered instead: trigram indexes forced (sequential scans off) versus a forced plain scan.
"""

from __future__ import annotations

import contextlib
import random
import re
import string
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from handlers.store import Store, fast
from handlers.store.models import Page, User
from handlers.store.search import (
    FTS_TABLE,
    TRIGRAM_INDEXES,
    fts_can_answer,
    fts_match,
    trigram_can_help,
    trigram_pattern,
)
from handlers.store.users import _search_statements, like_pattern

# Values chosen to trip the index: case folding beyond ASCII (Kelvin sign, dotted I,
# ligatures, sharp s), LIKE wildcards, FTS5 phrase quoting, backslashes, control characters,
# runs of spaces, and values shorter than a trigram.
TRICKY = [
    "Émile Zola",
    "ÉMILE",
    "Straße",
    "STRASSE",
    "\u212aelvin",
    "Kelvin",
    "İstanbul",
    "istanbul",
    "100% sure",
    "under_score",
    "under-score",
    "back\\slash",
    'say "hi" now',
    "tab\tname",
    "  spaced  out  ",
    "ab",
    "a",
    "",
    "MiXeD CaSe",
    "ǅemal",
    "\ufb01le",
    "file",
    "x%y",
    "x_y",
    "xay",
    "日本語のなまえ",
]
ALPHABET = string.ascii_letters + string.digits + " .@-_%\"'\\\tÉéß\u212aİıﬁ日"
PLAN_SCAN = ("SET LOCAL enable_indexscan = off", "SET LOCAL enable_bitmapscan = off")
PLAN_INDEX = ("SET enable_seqscan = off", "SET enable_indexscan = off")


def _corpus() -> list[tuple[str, str, str]]:
    """(login, email, name) triples: the tricky values plus random ones, all unique."""
    rng = random.Random(20240601)
    rows = []
    for i, name in enumerate(TRICKY):
        token = "".join(c for c in name.lower() if c.isalnum())[:8] or "x"
        rows.append((f"{token}{i}", f"{token}.{i}@Example.COM", name))
    for i in range(160):
        size = rng.randint(1, 12)
        name = "".join(rng.choice(ALPHABET) for _ in range(size))
        login = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(3, 10))) + f"#{i}"
        rows.append((login, f"u{i}.{rng.choice(['ab', 'Zo', 'e_x', 'q%'])}@host{i % 7}.org", name))
    return rows


CORPUS = _corpus()
VALUES = [value for row in CORPUS for value in row]


def seed(store: Store) -> None:
    for login, email, name in CORPUS:
        store.create_user(login=login, email=email, name=name, password_hash="h", salt="s")
    # A service account that matches many queries: excluded on both paths.
    store.create_user(
        login="sa-everything",
        email="sa-everything@example.com",
        name="Émile ab file x%y 100% STRASSE",
        password_hash="",
        salt="",
        service_account=True,
    )


@contextlib.contextmanager
def planner(store: Store, statements: tuple[str, ...]) -> Iterator[None]:
    """On PostgreSQL, give every pooled connection these planner settings while checked out
    (the store's Core and raw reads both check one out), and take them back at check-in."""
    if store.db.dialect != "postgresql":
        yield
        return

    def run(dbapi_connection: Any, sql: tuple[str, ...]) -> None:
        before = dbapi_connection.autocommit
        dbapi_connection.autocommit = True  # session settings, outside any transaction
        cursor = dbapi_connection.cursor()
        for statement in sql:
            cursor.execute(statement)
        cursor.close()
        dbapi_connection.autocommit = before

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        run(dbapi_connection, statements)

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            run(dbapi_connection, ("RESET ALL",))

    event.listen(store.db.engine.pool, "checkout", on_checkout)
    event.listen(store.db.engine.pool, "checkin", on_checkin)
    try:
        yield
    finally:
        event.remove(store.db.engine.pool, "checkout", on_checkout)
        event.remove(store.db.engine.pool, "checkin", on_checkin)


def indexed(store: Store, **kwargs: object) -> Page[User]:
    with planner(store, PLAN_INDEX):
        return store.search_users(use_index=True, **kwargs)  # type: ignore[arg-type]


def scanned(store: Store, **kwargs: object) -> Page[User]:
    with planner(store, PLAN_SCAN):
        return store.search_users(use_index=False, **kwargs)  # type: ignore[arg-type]


def mangle_case(text: str, flips: list[bool]) -> str:
    return (
        "".join(c.swapcase() if flips[i % len(flips)] else c for i, c in enumerate(text))
        if flips
        else text
    )


substrings = st.builds(
    lambda value, start, length, flips: mangle_case(value[start : start + length], flips),
    st.sampled_from([v for v in VALUES if v]),
    st.integers(0, 12),
    st.integers(1, 14),
    st.lists(st.booleans(), max_size=4),
)
queries = st.one_of(substrings, st.text(ALPHABET, max_size=8))
SETTINGS = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def summary(page: Page[User]) -> tuple[int, list[int]]:
    return page.total_count, [u.id for u in page.items]


def test_the_index_exists_on_each_backend(store: Store) -> None:
    with store.db.read() as conn:
        if store.db.dialect == "sqlite":
            assert store.db.fts
            found = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE name = ?", (FTS_TABLE,)
            ).scalar_one_or_none()
            assert found == FTS_TABLE
        else:
            names = {
                row[0]
                for row in conn.exec_driver_sql(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'users'"
                )
            }
            assert set(TRIGRAM_INDEXES) <= names


@pytest.mark.parametrize(
    ("query", "answerable"),
    [
        ("ab", False),
        ("abc", True),
        ("a%c", False),
        ("a_c", False),
        ("émi", False),
        ("a\tb", False),
        ('say "hi"', True),
        ("back\\s", True),
    ],
)
def test_which_queries_the_fts_index_answers(query: str, answerable: bool) -> None:
    assert fts_can_answer(query) is answerable


@pytest.mark.parametrize(
    ("query", "helps"),
    [
        ("ab", False),
        ("a%b", False),
        ("a_bc", False),
        ("abc", True),
        ("x%abc_", True),
        ("é日本", False),
        ("..ab1..", True),
        ("a b", True),
        ("x.y", True),
        ("a.", False),
    ],
)
def test_when_the_trigram_index_is_worth_reading(query: str, helps: bool) -> None:
    assert trigram_can_help(query) is helps


@pytest.mark.parametrize(
    ("pattern", "candidate"),
    [
        ("%a.gurime%", "%gurime%"),  # the run alone: no trigram across a word's edge
        ("%ma zejag%", "%zejag%"),
        ("%o.tijigi@%", "%tijigi%"),
        ("%ab12.efghij%", "%efghij%"),  # the longest run
        ("%x%abcde_y%", "%abcde%"),  # wildcards end a run and stay out of it
        ("%viha nuj%", "%viha%nuj%"),  # no run of five: runs of 3+ with 3 trigrams, in order
        ("%ebi.befu%", "%ebi%befu%"),
        ("%neje k%", "%neje k%"),  # two trigrams of its own only: the whole pattern
        ("%ko.jimu%", "%ko.jimu%"),
        ("%li no%", "%li no%"),
        ("%é日本abcd%", "%é日本abcd%"),
        ("%abcde%", "%abcde%"),
    ],
)
def test_the_trigram_index_is_read_with_the_querys_runs(pattern: str, candidate: str) -> None:
    assert trigram_pattern(pattern) == candidate


@pytest.mark.parametrize(
    ("query", "match"),
    [
        ("a.gurime", '"gurime"'),
        ("ma Zejag", '"Zejag"'),
        ("VIHA NUJ", '"VIHA" AND "NUJ"'),
        ('say "hi" now', '"say ""hi"" now"'),  # the whole query, its quotes doubled
        ("Straße", '"Straße"'),
        ("xx Kelvin", '"Kelvin"'),
    ],
)
def test_the_fts_index_is_read_with_the_querys_runs(query: str, match: str) -> None:
    assert fts_match(query) == match


@given(query=st.text(ALPHABET, max_size=12))
def test_the_candidates_are_implied_by_grafanas_pattern(query: str) -> None:
    """Whatever matches Grafana's pattern holds the candidate's literal runs, in order."""
    pattern = like_pattern(query)
    candidate = trigram_pattern(pattern)
    if candidate != pattern:
        runs = candidate.strip("%").split("%")
        assert all(run.isalnum() and run.isascii() for run in runs)
        assert re.search(".*".join(map(re.escape, runs)), pattern)
    match = fts_match(query)
    if match != '"' + query.replace('"', '""') + '"':
        phrases = [phrase.strip('"') for phrase in match.split(" AND ")]
        assert all(phrase.isalnum() and phrase in query for phrase in phrases)


def test_postgres_search_can_use_the_trigram_index(store: Store) -> None:
    if store.db.dialect != "postgresql":
        pytest.skip("PostgreSQL's planner only")
    seed(store)
    _, paging = _search_statements(store.db.engine.dialect, True, False, True, ())
    with planner(store, PLAN_INDEX), fast.raw_read(store.db) as cursor:
        cursor.execute(
            "EXPLAIN " + paging.sql,
            paging._params(
                {"pattern": "%emile%", "candidate": "%emile%", "limit": 10, "offset": 0}
            ),
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert all(name in plan for name in TRIGRAM_INDEXES), plan


@pytest.fixture
def seeded(store: Store) -> Store:
    """The store with the corpus, once per test (hypothesis' examples share it: reads only)."""
    seed(store)
    return store


@SETTINGS
@given(query=queries)
def test_indexed_search_equals_the_plain_scan(seeded: Store, query: str) -> None:
    store = seeded
    args = {"query": query, "page": 1, "per_page": 1000}
    assert summary(indexed(store, **args)) == summary(scanned(store, **args))


@settings(SETTINGS, max_examples=60)
@given(
    query=substrings,
    page=st.integers(1, 4),
    per_page=st.integers(1, 5),
    sort=st.sampled_from(
        [(), (("login", True),), (("email", False),), (("login", False), ("email", True))]
    ),
)
def test_paging_and_sorting_agree(
    seeded: Store, query: str, page: int, per_page: int, sort: tuple[tuple[str, bool], ...]
) -> None:
    store = seeded
    args = {"query": query, "page": page, "per_page": per_page, "sort": sort}
    assert summary(indexed(store, **args)) == summary(scanned(store, **args))


def test_the_index_follows_updates_and_deletes(store: Store) -> None:
    seed(store)
    kim = store.create_user(
        login="kimberly", email="kim@corp.example", name="Kim Berly", password_hash="h", salt="s"
    )
    store.update_user(
        kim.id, login="kbx", email="kbx@other.example", name="Renamed Person", theme=""
    )
    gone = store.create_user(
        login="deletable",
        email="deletable@corp.example",
        name="Soon Gone",
        password_hash="h",
        salt="s",
    )
    store.delete_user(gone.id)
    store.touch_last_seen(kim.id)  # an update that does not touch the indexed columns
    for query in [
        "kimberly",
        "Kim Berly",
        "corp.example",
        "renamed",
        "RENAMED PER",
        "kbx@",
        "deletable",
        "Soon Gone",
        "other.exa",
    ]:
        args = {"query": query, "page": 1, "per_page": 1000}
        assert summary(indexed(store, **args)) == summary(scanned(store, **args)), query
    hits = indexed(store, query="renamed", page=1, per_page=10)
    assert [u.login for u in hits.items] == ["kbx"]
    assert indexed(store, query="kimberly", page=1, per_page=10).total_count == 0
    assert indexed(store, query="soon gone", page=1, per_page=10).total_count == 0
