"""The substring-search index behind GET /api/users/search, per backend.

Grafana matches `query` as a case-insensitive substring of login, e-mail or name with
`LIKE '%query%'` (`%` and `_` in the query stay wildcards) and scans the whole table. We keep
that predicate exactly and only add a way to find the candidate rows quickly:

* SQLite: an FTS5 table with the trigram tokenizer (`users_fts`, external content = `users`,
  kept in step by triggers; revision 0002). Quoted FTS5 phrases (the whole query, or its
  runs of letters and digits ANDed: see candidate_runs) find every row containing them;
  the original LIKE predicate then re-checks each candidate, so the index can only narrow
  the scan, never change the answer. The index is used only where it cannot miss a row:
  queries of 3 or more printable ASCII characters without `%` or `_` (shorter queries have
  no trigram; wildcards and non-ASCII case folding differ between LIKE and FTS5).
  Everything else takes Grafana's plain scan.
* PostgreSQL: one pg_trgm GIN index on `login || ' ' || email || ' ' || lower(name)`
  (revision 0002). The store ANDs `that expression LIKE candidate` to Grafana's predicate,
  the candidate being Grafana's pattern or, where the query's runs of letters and digits
  hold enough trigrams, `%run%` or `%run1%run2%` (candidate_runs). Whatever one column
  contains, the concatenation contains too, and whatever the pattern matches holds its
  literal runs in their order, so the extra condition is always true for a matching row
  (wildcards included) and only lets the planner use the index; every candidate is
  re-checked against the original predicate, so answers are identical by construction,
  for every query. Without the pg_trgm extension (not installed, or not permitted) the
  index is absent and the planner scans, as Grafana does.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    bindparam,
    func,
    literal_column,
    select,
    table,
)

from handlers.store import schema

FTS_TABLE = "users_fts"
TRIGRAM_INDEXES = ("ix_users_search_trgm",)
MIN_INDEXED_LENGTH = 3  # the trigram tokenizer needs three characters to match anything
_WILDCARDS = re.compile(r"[%_]")
_WORD = re.compile(r"[A-Za-z0-9]+")
_BOUNDARY = re.compile(r"[\x20-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]")  # ASCII, not a word


def fts_can_answer(query: str) -> bool:
    """Whether the FTS5 trigram index finds every row that `LIKE '%query%'` matches."""
    return (
        len(query) >= MIN_INDEXED_LENGTH
        and query.isascii()
        and query.isprintable()
        and "%" not in query
        and "_" not in query
    )


def fts_match(query: str) -> str:
    """The FTS5 query that finds the query's candidates: its runs (candidate_runs) as quoted
    phrases ANDed, or the whole query as one phrase: substring matches under the trigram
    tokenizer."""
    runs = candidate_runs(query) or [query]
    return " AND ".join('"' + text.replace('"', '""') + '"' for text in runs)


def fts_candidates() -> ColumnElement[bool]:
    """`users.id IN (ids whose login, email or name hold the FTS5 query's phrases)`; the
    FTS5 query is the bound parameter `fts_match` (see fts_match)."""
    fts = table(FTS_TABLE)
    phrase = bindparam("fts_match", type_=String)
    matching: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(fts)
        .where(literal_column(FTS_TABLE).op("MATCH")(phrase))
    )
    return schema.users.c.id.in_(matching.scalar_subquery())


def trigram_can_help(query: str) -> bool:
    """Whether pg_trgm extracts at least one trigram from `LIKE '%query%'`. Without one the
    index would be read whole (seconds), so the store leaves it out and PostgreSQL scans the
    table, as Grafana does.

    pg_trgm splits the pattern into words (runs of letters and digits; `%` and `_` end a
    word without a boundary) and pads a word with two blanks where a literal non-word
    character precedes it and one where one follows: a trigram exists for a word of three or
    more characters, of two with a boundary on either side, or of one with a boundary
    before it. Only ASCII is judged (other letters' word-ness depends on the locale)."""
    for part in _WILDCARDS.split(query):
        for word in _WORD.finditer(part):
            size = word.end() - word.start()
            before = word.start() > 0 and _BOUNDARY.match(part, word.start() - 1) is not None
            after = word.end() < len(part) and _BOUNDARY.match(part, word.end()) is not None
            if size >= 3 or (size == 2 and (before or after)) or (size == 1 and before):
                return True
    return False


# Runs of letters and digits give the indexes this many trigrams of their own at least, or
# the whole query is used: enough to narrow ten million users to a few hundred candidates.
CANDIDATE_TRIGRAMS = 3


def candidate_runs(text: str) -> list[str] | None:
    """The literal runs of ASCII letters and digits the indexes are read with, in their
    order in `text`: the longest run (the first of equals) if it holds CANDIDATE_TRIGRAMS
    trigrams (five characters); else every run of three or more characters if together
    they hold that many; else None, and the whole query is used.

    Trigrams spanning a word's edge (a space, `.` or `@` beside a letter: pg_trgm's
    blank-padded `"  g"`, `" gu"`; FTS5's `"a.g"`) each occur in a large share of the users,
    and reading their lists was most of a search's cost at ten million users (measured:
    PostgreSQL's median 12.9 -> 4.0 ms over the benchmark's queries with the longest run;
    SQLite's `a.gurime` 4.4 -> 1.9 ms). The runs leave them out; with fewer than three
    trigrams of their own the runs leave too many candidates to recheck (PostgreSQL's
    `ko.jimu`: 9 ms with the whole pattern, 23 ms with `jimu`)."""
    runs = [run for run in _WORD.findall(text) if len(run) >= 3]
    if not runs:
        return None
    longest = max(runs, key=len)
    if len(longest) - 2 >= CANDIDATE_TRIGRAMS:
        return [longest]
    if sum(len(run) - 2 for run in runs) >= CANDIDATE_TRIGRAMS:
        return runs
    return None


def trigram_pattern(pattern: str) -> str:
    """The pattern the trigram index is read with, for Grafana's (lower-cased) `pattern`:
    its runs (candidate_runs) in order between wildcards, `%run1%run2%`, else the pattern
    itself. Whatever the pattern matches holds the runs in that order."""
    runs = candidate_runs(pattern)
    return "%" + "%".join(runs) + "%" if runs else pattern


def trigram_candidates(pattern: ColumnElement[str]) -> ColumnElement[bool]:
    """`login || ' ' || email || ' ' || lower(name) LIKE pattern`: implied by Grafana's
    predicate, answerable by PostgreSQL's trigram index (same expression as the index)."""
    u = schema.users
    space = literal_column("' '", String)  # literal: a bound value would not match the index
    combined = u.c.login + space + u.c.email + space + func.lower(u.c.name)
    return combined.like(pattern)


def is_search_object(name: str | None, type_: str) -> bool:
    """The index's own objects, which schema.py does not declare (they are per backend)."""
    if name is None:
        return False
    if type_ == "table":
        return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
    return type_ == "index" and name in TRIGRAM_INDEXES


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """An alembic `include_object` hook that leaves the search index out of comparisons."""
    return not is_search_object(name, type_)
