"""The substring-search index behind GET /api/users/search, per backend.

Grafana matches `query` as a case-insensitive substring of login, e-mail or name with
`LIKE '%query%'` (`%` and `_` in the query stay wildcards) and scans the whole table. We keep
that predicate exactly and only add a way to find the candidate rows quickly:

* SQLite: an FTS5 table with the trigram tokenizer (`users_fts`, external content = `users`,
  kept in step by triggers; revision 0002). A quoted FTS5 phrase finds every row that
  contains the query's trigrams in a row; the original LIKE predicate then re-checks each
  candidate, so the index can only narrow the scan, never change the answer. The index is
  used only where it cannot miss a row: queries of 3 or more printable ASCII characters
  without `%` or `_` (shorter queries have no trigram; wildcards and non-ASCII case folding
  differ between LIKE and FTS5). Everything else takes Grafana's plain scan.
* PostgreSQL: pg_trgm GIN indexes on login, email and lower(name) (revision 0002). The query
  does not change at all: the planner uses the indexes for `LIKE '%query%'` and re-checks
  every row against the LIKE itself, so answers are identical by construction. Without the
  pg_trgm extension (not installed, or not permitted) the indexes are simply absent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, literal_column, select, table

from handlers.store import schema

FTS_TABLE = "users_fts"
TRIGRAM_INDEXES = ("ix_users_login_trgm", "ix_users_email_trgm", "ix_users_name_trgm")
MIN_INDEXED_LENGTH = 3  # the trigram tokenizer needs three characters to match anything


def fts_can_answer(query: str) -> bool:
    """Whether the FTS5 trigram index finds every row that `LIKE '%query%'` matches."""
    return (
        len(query) >= MIN_INDEXED_LENGTH
        and query.isascii()
        and query.isprintable()
        and "%" not in query
        and "_" not in query
    )


def fts_phrase(query: str) -> str:
    """The query as one FTS5 phrase: a substring match under the trigram tokenizer."""
    return '"' + query.replace('"', '""') + '"'


def fts_candidates(query: str) -> ColumnElement[bool]:
    """`users.id IN (ids whose login, email or name contain the query's trigrams in a row)`."""
    fts = table(FTS_TABLE)
    matching: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(fts)
        .where(literal_column(FTS_TABLE).op("MATCH")(bindparam("fts_phrase", fts_phrase(query))))
    )
    return schema.users.c.id.in_(matching.scalar_subquery())


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
