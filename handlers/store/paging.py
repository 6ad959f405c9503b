"""Any page of the whole user list at the cost of the first one.

Grafana lists users `ORDER BY login, email LIMIT perpage OFFSET perpage * (page - 1)`: the
database steps over every row before the page, so a sync tool walking a list of millions,
1,000 at a time, pays more for each page than for the one before (the last page of ten
million reads ten million rows) and a count of the whole table on every page.

Here the order is cut into ranges of logins (`user_page_bucket`, revision 0003), each with
the number of users it holds, kept exact by triggers in the same transaction as every
write, whoever writes. A page starting at offset `o` is then found from the counts alone:
the range whose running total passes `o`, then at most one range's rows are stepped over
from its first login (logins are unique, so `login >= start` has exactly the counted users
before it). The running totals are a window sum over a few thousand small rows; the total
count is their sum. Everything is read in one statement (one snapshot, on PostgreSQL too),
so the answer is the one Grafana's query gives on that snapshot, page for page.

Ranges are kept small: a write that leaves its range with more than SPLIT_ABOVE users (or
an emptied range) is followed by `tidy`, which splits it into ranges of PER_BUCKET (or
drops it). `rebuild` recounts everything (the bulk seeder calls it after its load).
"""

from __future__ import annotations

import contextlib
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from itertools import accumulate
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    Connection,
    Integer,
    String,
    bindparam,
    cast,
    func,
    select,
    text,
)

from handlers.store import schema
from handlers.store.db import Database

B = schema.user_page_buckets
U = schema.users
PER_BUCKET = 2000  # users in a range after a split or a rebuild
SPLIT_ABOVE = 2 * PER_BUCKET  # a range holding more is split
LOCK_KEY = 1970299239  # PostgreSQL advisory lock: triggers share it, tidy holds it alone


def placement(dialect: str) -> CTE:
    """One row for the page starting at the bound `offset`: the range holding that position
    (`start_login`), how many users come before the range (`before`) and in all (`total`).
    No row when the offset is past the end.

    PostgreSQL sums the counts in the same statement as the page (one snapshot: its reads
    run in autocommit). SQLite's window functions are slow (about 20 ms over 5,000 ranges),
    so there `locate` sums them in Python, in the same read transaction, and binds the
    three values."""
    if dialect == "sqlite":
        return select(
            bindparam("start_login", type_=String).label("start_login"),
            bindparam("before", type_=Integer).label("before"),
            bindparam("total", type_=Integer).label("total"),
        ).cte("here")
    running = cast(func.sum(B.c.user_count).over(order_by=B.c.start_login), BigInteger)
    placed = select(
        B.c.start_login,
        B.c.user_count,
        running.label("upto"),
        cast(func.sum(B.c.user_count).over(), BigInteger).label("total"),
    ).subquery("placed")
    return (
        select(
            placed.c.start_login,
            (placed.c.upto - placed.c.user_count).label("before"),
            placed.c.total,
        )
        .where(placed.c.upto > bindparam("offset", type_=Integer))
        .order_by(placed.c.start_login)
        .limit(1)
        .cte("here")
    )


@contextlib.contextmanager
def one_snapshot(cursor: Any) -> Iterator[None]:
    """SQLite: `locate` and the page read in one read transaction (one snapshot), whether
    or not the connection was handed over inside one."""
    connection = cursor.connection
    if connection.in_transaction:
        yield
        return
    cursor.execute("BEGIN")
    try:
        yield
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")  # read only: nothing to keep


COUNTS_SQL = "SELECT start_login, user_count FROM user_page_bucket ORDER BY start_login"


def locate(cursor: Any, offset: int) -> tuple[dict[str, Any] | None, int]:
    """`placement`'s values for SQLite, read with the driver's cursor (inside the page's
    read transaction), and the total; None past the end."""
    cursor.execute(COUNTS_SQL)
    ranges = cursor.fetchall()
    upto = list(accumulate(count for _, count in ranges))
    total = upto[-1] if upto else 0
    found = bisect_right(upto, offset)
    if found == len(ranges):
        return None, total
    start, count = ranges[found]
    return {"start_login": start, "before": upto[found] - count, "total": total}, total


def total_sql() -> str:
    """The number of users (service accounts excepted), from the counts."""
    return "SELECT coalesce(sum(user_count), 0) FROM user_page_bucket"


def _lock(conn: Connection) -> None:
    """On PostgreSQL, wait until no transaction that counted into a range is open, and keep
    new ones waiting until this one ends (SQLite has a single writer already)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def untidy(conn: Connection, logins: Iterable[str] | None = None) -> list[str]:
    """The ranges holding `logins` (all ranges when None) that need a split or are empty."""
    crowded = (B.c.user_count > SPLIT_ABOVE) | ((B.c.user_count <= 0) & (B.c.start_login != ""))
    if logins is None:
        return list(conn.execute(select(B.c.start_login).where(crowded)).scalars())
    found: set[str] = set()
    for login in set(logins):
        holder = (
            select(B.c.start_login, B.c.user_count)
            .where(B.c.start_login <= login)
            .order_by(B.c.start_login.desc())
            .limit(1)
        )
        row = conn.execute(holder).first()
        if row is None:
            continue
        if row.user_count > SPLIT_ABOVE or (row.user_count <= 0 and row.start_login != ""):
            found.add(row.start_login)
    return sorted(found)


def tidy(db: Database, starts: Iterable[str]) -> None:
    """Split each of these ranges that holds more than SPLIT_ABOVE users into ranges of
    PER_BUCKET; drop each that is empty (the range before it takes over its logins, none).
    Counts come from the rows themselves, read while no other writer can count."""
    starts = sorted(set(starts))
    if not starts:
        return
    with db.write() as conn:
        _lock(conn)
        for start in starts:
            _tidy_one(conn, start)


def _tidy_one(conn: Connection, start: str) -> None:
    count = conn.execute(select(B.c.user_count).where(B.c.start_login == start)).scalar()
    if count is None:
        return
    if count <= 0 and start != "":
        conn.execute(B.delete().where(B.c.start_login == start))
        return
    if count <= SPLIT_ABOVE:
        return
    following = conn.execute(
        select(func.min(B.c.start_login)).where(B.c.start_login > start)
    ).scalar()
    cond = U.c.is_service_account.is_(False) & (U.c.login >= start)
    if following is not None:
        cond = cond & (U.c.login < following)
    ranked = (
        select(U.c.login, func.row_number().over(order_by=U.c.login).label("rn"))
        .where(cond)
        .subquery()
    )
    starts = (
        conn.execute(
            select(ranked.c.login).where(ranked.c.rn % PER_BUCKET == 1).order_by(ranked.c.login)
        )
        .scalars()
        .all()
    )
    total = conn.execute(select(func.count()).select_from(U).where(cond)).scalar_one()
    counts = [min(PER_BUCKET, total - k * PER_BUCKET) for k in range(len(starts))] or [0]
    conn.execute(B.update().where(B.c.start_login == start).values(user_count=counts[0]))
    if len(starts) > 1:
        conn.execute(
            B.insert(),
            [
                {"start_login": login, "user_count": n}
                for login, n in zip(starts[1:], counts[1:], strict=True)
            ],
        )


def rebuild(conn: Connection) -> None:
    """Recount every range from the users table: ranges of PER_BUCKET users in login order,
    the first starting at ''. For a bulk load made with the triggers set aside.

    SQLite reads the table in its own order and sorts (NOT INDEXED): walking the login
    index would fetch every row for its is_service_account in login order, random reads
    that took over twelve minutes at ten million users once the table had left the cache.
    The total is counted first, so the ranked rows stream instead of being materialised."""
    _lock(conn)
    conn.execute(B.delete())
    sqlite = conn.dialect.name == "sqlite"
    total = conn.execute(
        text("SELECT count(*) FROM users WHERE NOT is_service_account")
    ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO user_page_bucket (start_login, user_count)"
            " SELECT CASE WHEN rn = 1 THEN '' ELSE login END,"
            f" {'min' if sqlite else 'least'}(:per, :total - rn + 1)"
            " FROM (SELECT login, row_number() OVER (ORDER BY login) AS rn"
            f"       FROM users {'NOT INDEXED ' if sqlite else ''}"
            "       WHERE NOT is_service_account) AS ranked"
            " WHERE rn % :per = 1"
        ),
        {"per": PER_BUCKET, "total": int(total)},
    )


def counts(conn: Connection) -> list[tuple[str, int]]:
    """Every range's start and count, in order (for tests and checks)."""
    rows: Any = conn.execute(select(B.c.start_login, B.c.user_count).order_by(B.c.start_login))
    return [(str(start), int(n)) for start, n in rows]
