"""`python -m handlers.seed`: fill a database with many real users, orgs, teams and memberships.

    python -m handlers.seed --users 1000000 --orgs 10 --teams 100 --database-url URL

Every seeded user is a real user of the API: a unique lower-case login (`kalo.mirasane`), a
unique e-mail (`kalo.mirasane@example.com`) and a unique name (`Kalo Mirasane`), all found by
/api/users/search; a Viewer of org 1 (their active org), a Viewer of one of the `--orgs`
extra orgs and a member of one of the `--teams` teams of org 1 (round robin).

How it is fast (one million users in about a minute on SQLite and PostgreSQL):
* ONE password hash: PBKDF2 costs about 10 ms, so every seeded user shares one salt and one
  hash of `--password` (default "password"). Fine for benchmarks, wrong for real accounts.
* Rows are generated, never read back: ids are assigned here (after the current maximum)
  and the memberships refer to them directly.
* SQLite: one transaction with a rollback journal (back to WAL after), a 3 GB page cache
  and `executemany`; the users' triggers are set aside, each chunk of generated rows goes
  into `users` and the FTS5 search index, memberships are counted out by SQL from the known
  ids: nothing is read back from the file.
* PostgreSQL: `COPY ... FROM STDIN` of pre-formatted text; the trigram GIN indexes are
  dropped during the load and rebuilt after it (much faster than row by row), then ANALYZE.
* Both: the user list's page counts (store/paging.py) are recounted after the load.
Timestamps are formatted once with the column types' own bind processors.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Connection, Table, TextClause, func, select, text

from handlers.clock import SYSTEM
from handlers.passwords import encode_password, random_string
from handlers.progress import Progress
from handlers.settings import DEFAULT_DATABASE_URL
from handlers.store import Store, open_store, paging, schema
from handlers.store.db import Pooling
from handlers.store.errors import StartupRefused
from handlers.store.rows import user_row

CONSONANTS = "bdfghjklmnprstvz"
VOWELS = "aeiou"
SYLLABLES = [c + v for c in CONSONANTS for v in VOWELS]  # 80 two-letter syllables
FIRST_NAMES = len(SYLLABLES) ** 2  # 6,400 first names of two syllables
LAST_NAMES = len(SYLLABLES) ** 3  # 512,000 last names of three syllables
DOMAINS = ["example.com", "example.org", "corp.example", "mail.example"]
CHUNK = 50_000
# A seeded user's row is store.rows.user_row's: its columns in its order, its constants.
_SAMPLE_ROW = user_row(
    login="", email="", name="", password_hash="", salt="", org_id=1, now=datetime(2000, 1, 1)
)
USER_COLUMNS = ["id", *_SAMPLE_ROW]
VARYING = ["id", "uid", "version", "login", "email", "name"]  # the rest is the same for all
assert USER_COLUMNS[: len(VARYING)] == VARYING, "user_row's column order changed"


# Every pair of syllables, plain and capitalised: first names, and the start of last names.
_PAIRS = [a + b for b in SYLLABLES for a in SYLLABLES]
_PAIRS_TITLE = [pair.title() for pair in _PAIRS]
_PAIR_COUNT = len(_PAIRS)
_PRIME = 1_000_003  # coprime with LAST_NAMES: q -> q * _PRIME + r is a bijection modulo it


def identity(n: int) -> tuple[str, str, str]:
    """(login, email, name) of the n-th seeded user (n >= 0), unique for every n.

    n = q * FIRST_NAMES + r: the first name is r, the last name (q * _PRIME + r) mod
    LAST_NAMES, a bijection of q for each r; every FIRST_NAMES * LAST_NAMES users a
    numeric suffix starts."""
    q, r = divmod(n, FIRST_NAMES)
    cycle, q = divmod(q, LAST_NAMES)
    last = (q * _PRIME + r) % LAST_NAMES
    rest, head = divmod(last, _PAIR_COUNT)
    suffix = str(cycle) if cycle else ""
    login = f"{_PAIRS[r]}.{_PAIRS[head]}{SYLLABLES[rest]}{suffix}"
    name = f"{_PAIRS_TITLE[r]} {_PAIRS_TITLE[head]}{SYLLABLES[rest]}" + (
        f" {cycle}" if cycle else ""
    )
    return login, f"{login}@{DOMAINS[n % len(DOMAINS)]}", name


def _uid(user_id: int) -> str:
    """A Grafana-shaped uid (a letter and 13 lower-case letters or digits), unique per id."""
    return f"s{user_id:013x}"


@dataclass
class SeedReport:
    users: int
    orgs: int
    teams: int
    memberships: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


@dataclass
class _Plan:
    users: int
    orgs: int
    teams: int
    first_user: int
    first_org: int
    first_team: int
    created: Any  # as the backend stores it
    tail: tuple[Any, ...]  # the constant columns after `name`, as the backend stores them


class _Stages:
    """Times each stage and drives the progress bar."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}

    def run(
        self, name: str, total: int | None, work: Callable[[Callable[[int], None]], None]
    ) -> None:
        advance = self.progress.stage(name, total)
        started = time.perf_counter()
        work(advance)
        self.seconds[name] = time.perf_counter() - started
        self.progress.finish()


def _chunks(count: int) -> Iterator[range]:
    for start in range(0, count, CHUNK):
        yield range(start, min(start + CHUNK, count))


def _user_rows(plan: _Plan, part: range) -> list[tuple[Any, ...]]:
    first, tail = plan.first_user, plan.tail
    return [(first + i, _uid(first + i), 0, *identity(i), *tail) for i in part]


def _membership_statements(plan: _Plan, *, counted: bool = False) -> list[TextClause]:
    """Memberships straight from the new users' ids, in SQL: no rows through Python. From
    the users table, or (`counted`) from the ids :low to :high counted out by SQL, which
    reads nothing back."""
    new_users = "FROM users WHERE id >= :first"
    prefix = ""
    if counted:
        prefix = (
            "WITH RECURSIVE counted(id) AS"
            " (SELECT :low UNION ALL SELECT id + 1 FROM counted WHERE id < :high) "
        )
        new_users = "FROM counted"
    statements = [
        f"INSERT INTO org_user (org_id, user_id, role, created, updated)"
        f" SELECT 1, id, 'Viewer', :stamp, :stamp {new_users}"
    ]
    if plan.orgs:
        statements.append(
            f"INSERT INTO org_user (org_id, user_id, role, created, updated)"
            f" SELECT {plan.first_org} + (id - :first) % {plan.orgs}, id, 'Viewer',"
            f" :stamp, :stamp {new_users}"
        )
    if plan.teams:
        statements.append(
            f"INSERT INTO team_member (org_id, team_id, user_id, permission, created, updated)"
            f" SELECT 1, {plan.first_team} + (id - :first) % {plan.teams}, id, 0,"
            f" :stamp, :stamp {new_users}"
        )
    return [text(prefix + statement) for statement in statements]


def _stored(conn: Connection, column: Any, value: Any) -> Any:
    """A value as the column type's bind processor hands it to the driver."""
    processor = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return processor(value) if processor else value


def _next_id(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _plan(conn: Connection, users: int, orgs: int, teams: int, password: str) -> _Plan:
    login, _, _ = identity(0)
    if conn.execute(select(schema.users.c.id).where(schema.users.c.login == login)).first():
        raise SystemExit(f"this database is already seeded (user {login!r} exists)")
    now = SYSTEM.now()
    salt = random_string(10)
    row = user_row(
        login="",
        email="",
        name="",
        password_hash=encode_password(password, salt),
        salt=salt,
        org_id=1,
        now=now,
    )
    return _Plan(
        users=users,
        orgs=orgs,
        teams=teams,
        first_user=_next_id(conn, schema.users),
        first_org=_next_id(conn, schema.orgs),
        first_team=_next_id(conn, schema.teams),
        created=_stored(conn, schema.users.c.created, now),
        tail=tuple(
            _stored(conn, schema.users.c[name], row[name]) for name in USER_COLUMNS[len(VARYING) :]
        ),
    )


def _orgs_and_teams(conn: Connection, plan: _Plan) -> None:
    now = SYSTEM.now()
    stamp = f"{now:%Y%m%d%H%M%S}"
    if plan.orgs:
        conn.execute(
            schema.orgs.insert(),
            [
                {"id": plan.first_org + k, "name": f"Seed Org {stamp}-{k + 1}", "version": 0,
                 "created": now, "updated": now}
                for k in range(plan.orgs)
            ],
        )  # fmt: skip
    if plan.teams:
        conn.execute(
            schema.teams.insert(),
            [
                {"id": plan.first_team + k, "uid": _uid(plan.first_team + k), "org_id": 1,
                 "name": f"Seed Team {stamp}-{k + 1}", "email": "", "created": now,
                 "updated": now}
                for k in range(plan.teams)
            ],
        )  # fmt: skip


# -- SQLite ------------------------------------------------------------------------------


SQLITE_CACHE_KB = 3_000_000  # while loading: the indexes being built stay in memory


def _seed_sqlite(conn: Connection, plan: _Plan, stages: _Stages) -> None:
    """Nothing is read back from the file: users and their search-index entries go in
    from the same generated rows, memberships are counted out by SQL (the ids are known),
    so pages that left the cache are never fetched again (at ten million users, reading
    the users back cost an hour of random reads on this machine)."""
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KB}")
    triggers = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'users'"
    ).all()
    for name, _ in triggers:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    marks = ", ".join("?" * len(USER_COLUMNS))
    insert_user = f"INSERT INTO users ({', '.join(USER_COLUMNS)}) VALUES ({marks})"
    fts = conn.dialect.has_table(conn, "users_fts")
    insert_fts = "INSERT INTO users_fts (rowid, login, email, name) VALUES (?, ?, ?, ?)"

    def users(advance: Callable[[int], None]) -> None:
        for part in _chunks(plan.users):
            rows = _user_rows(plan, part)
            conn.exec_driver_sql(insert_user, rows)
            if fts:  # the search index from the same rows (id, uid, version, login...)
                conn.exec_driver_sql(insert_fts, [(r[0], r[3], r[4], r[5]) for r in rows])
            advance(len(part))

    def memberships(advance: Callable[[int], None]) -> None:
        for part in _chunks(plan.users):
            for statement in _membership_statements(plan, counted=True):
                conn.execute(
                    statement,
                    {
                        "first": plan.first_user,
                        "low": plan.first_user + part.start,
                        "high": plan.first_user + part.stop - 1,
                        "stamp": plan.created,
                    },
                )
            advance(len(part))

    def restore(advance: Callable[[int], None]) -> None:
        for _, sql in triggers:
            conn.exec_driver_sql(sql)
        paging.rebuild(conn)
        advance(1)

    stages.run("users", plan.users, users)
    stages.run("memberships", plan.users, memberships)
    stages.run("page counts", 1, restore)
    conn.exec_driver_sql("PRAGMA cache_size = -2000")


@contextlib.contextmanager
def _sqlite_rollback_journal(store: Store) -> Iterator[None]:
    """SQLite: the load with a rollback journal instead of the WAL (the new pages of a
    load need no journal; through the WAL every page was written twice, once to the log
    and once at the checkpoint), back to WAL after it."""
    if store.db.dialect != "sqlite":
        yield
        return
    raw = store.db.engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA journal_mode = DELETE")  # type: ignore[union-attr]
    finally:
        raw.close()
    try:
        yield
    finally:
        raw = store.db.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA journal_mode = WAL")  # type: ignore[union-attr]
        finally:
            raw.close()


def _recount(conn: Connection, advance: Callable[[int], None]) -> None:
    """The list's page counts (store/paging.py), whose triggers were off for the load."""
    paging.rebuild(conn)
    advance(1)


# -- PostgreSQL --------------------------------------------------------------------------


def _copy(conn: Connection, table: str, columns: Sequence[str], lines: list[str]) -> None:
    """COPY pre-formatted text rows (the generated values need no escaping)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        copy.write("".join(lines))


def _copy_text(value: Any) -> str:
    """A constant column value in COPY's text format (none of them needs escaping)."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _user_lines(plan: _Plan, part: range) -> list[str]:
    tail = "\t".join(_copy_text(value) for value in plan.tail) + "\n"
    lines = []
    for i in part:
        login, email, name = identity(i)
        user_id = plan.first_user + i
        lines.append(f"{user_id}\t{_uid(user_id)}\t0\t{login}\t{email}\t{name}\t{tail}")
    return lines


LOADED_TABLES = ("users", "org_user", "team_member")


def _set_aside_indexes(conn: Connection) -> list[str]:
    """Drop the loaded tables' secondary indexes and unique constraints; return the DDL that
    recreates them. Building an index once over sorted rows is several times faster than
    maintaining it row by row (and the whole seed is one transaction: all or nothing)."""
    found = conn.execute(
        text(
            "SELECT t.relname, ix.relname, pg_get_indexdef(i.indexrelid),"
            "       con.conname, pg_get_constraintdef(con.oid)"
            " FROM pg_index i"
            " JOIN pg_class t ON t.oid = i.indrelid"
            " JOIN pg_class ix ON ix.oid = i.indexrelid"
            " LEFT JOIN pg_constraint con"
            "   ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid"
            " WHERE t.relname = ANY(:tables) AND NOT i.indisprimary"
            "   AND t.relnamespace = 'public'::regnamespace"
        ),
        {"tables": list(LOADED_TABLES)},
    ).all()
    recreate = []
    for table, index, index_ddl, constraint, constraint_ddl in found:
        if constraint is not None:
            conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"')
            recreate.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{constraint}" {constraint_ddl}')
        else:
            conn.exec_driver_sql(f'DROP INDEX "{index}"')
            recreate.append(index_ddl)
    return recreate


def _seed_postgres(conn: Connection, plan: _Plan, stages: _Stages) -> None:
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
    conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
    indexes = _set_aside_indexes(conn)
    # The page counts' trigger would update one row per loaded user: recounted after.
    conn.exec_driver_sql("ALTER TABLE users DISABLE TRIGGER user_page_bucket_count")

    def users(advance: Callable[[int], None]) -> None:
        for part in _chunks(plan.users):
            _copy(conn, "users", USER_COLUMNS, _user_lines(plan, part))
            advance(len(part))
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence('users', 'id'), :last)"),
            {"last": plan.first_user + plan.users - 1},
        )

    def memberships(advance: Callable[[int], None]) -> None:
        for statement in _membership_statements(plan):
            conn.execute(statement, {"first": plan.first_user, "stamp": plan.created})
        advance(plan.users)

    def index(advance: Callable[[int], None]) -> None:
        for definition in indexes:
            conn.exec_driver_sql(definition)
            advance(1)

    stages.run("users", plan.users, users)
    stages.run("memberships", plan.users, memberships)
    stages.run("indexes", len(indexes) or None, index)
    conn.exec_driver_sql("ALTER TABLE users ENABLE TRIGGER user_page_bucket_count")
    stages.run("page counts", 1, lambda advance: _recount(conn, advance))
    for table in ("org", "team"):
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        )


# -- entry points ------------------------------------------------------------------------


def seed(
    database_url: str,
    *,
    users: int,
    orgs: int = 0,
    teams: int = 0,
    password: str = "password",
    progress: bool = True,
    stream: TextIO | None = None,
    transaction_pooling: bool = False,
) -> SeedReport:
    """Seed `database_url` (migrated first); returns the row counts and per-stage seconds.
    Progress goes to `stream` (stderr by default) unless `progress` is false;
    `transaction_pooling`: the URL names a pooler in transaction mode (store/db.py)."""
    started = time.perf_counter()
    store = open_store(database_url, pooling=Pooling(transaction_pooling=transaction_pooling))
    opened = time.perf_counter() - started
    stages = _Stages(Progress(stream, enabled=progress))
    try:
        with _sqlite_rollback_journal(store), store.db.write() as conn:
            plan = _plan(conn, users, orgs, teams, password)

            def orgs_and_teams(advance: Callable[[int], None]) -> None:
                _orgs_and_teams(conn, plan)
                advance(orgs + teams)

            stages.run("orgs and teams", orgs + teams, orgs_and_teams)
            if store.db.dialect == "postgresql":
                _seed_postgres(conn, plan, stages)
            else:
                _seed_sqlite(conn, plan, stages)
            commit_started = time.perf_counter()
        stages.seconds["commit"] = time.perf_counter() - commit_started
        if store.db.dialect == "postgresql":
            analyze_started = time.perf_counter()
            with store.db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
            stages.seconds["analyze"] = time.perf_counter() - analyze_started
    finally:
        store.close()
    memberships = users * (1 + (1 if orgs else 0) + (1 if teams else 0))
    return SeedReport(
        users=users,
        orgs=orgs,
        teams=teams,
        memberships=memberships,
        seconds={"open": opened, **stages.seconds},
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m handlers.seed",
        description="Bulk-create users, orgs, teams and memberships for benchmarks.",
    )
    parser.add_argument("--users", type=int, default=1000, help="users to create")
    parser.add_argument("--orgs", type=int, default=0, help="extra orgs (users join one each)")
    parser.add_argument("--teams", type=int, default=0, help="teams in org 1 (users join one)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="SQLAlchemy URL")
    parser.add_argument("--password", default="password", help="every seeded user's password")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--transaction-pooling",
        action="store_true",
        help="the PostgreSQL URL is a pooler in transaction mode, e.g. PgBouncer",
    )
    args = parser.parse_args(argv)
    if args.users < 0 or args.orgs < 0 or args.teams < 0:
        parser.error("counts must not be negative")
    try:
        report = seed(
            args.database_url,
            users=args.users,
            orgs=args.orgs,
            teams=args.teams,
            password=args.password,
            progress=not args.no_progress,
            transaction_pooling=args.transaction_pooling,
        )
    except StartupRefused as exc:
        parser.exit(1, f"{parser.prog}: {exc}\n")
    stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in report.seconds.items())
    rate = report.users / report.total_seconds if report.total_seconds else 0.0
    sys.stderr.write(
        f"seeded {report.users:,} users, {report.orgs} orgs, {report.teams} teams and"
        f" {report.memberships:,} memberships in {report.total_seconds:.1f}s"
        f" ({rate:,.0f} users/s): {stages}\n"
    )


if __name__ == "__main__":
    main()
