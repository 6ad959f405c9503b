"""Counted ranges of logins, so that any page of the user list is found without skipping the
pages before it (see handlers/store/paging.py).

`user_page_bucket` holds one row per range of logins: the range's first login (the first
range starts at '') and how many users, service accounts excepted, have a login in it (up
to the next range's start). Triggers on `users` keep every count exact in the same
transaction as the write, whichever process makes it: an insert adds one to its login's
range, a delete takes one away, a change of login or of is_service_account does both.
The ranges are filled here from the users that exist, 2,000 to a range.

On PostgreSQL each trigger first takes a shared advisory lock (key 1970299239) for the rest
of its transaction; the store takes the same lock exclusively to split or drop a range, so
no writer can count into a range whose bounds are changing.

Caution for later revisions: a SQLite batch ("move and copy") migration of `users` recreates
the table and drops these triggers; such a revision must recreate them.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PER_BUCKET = 2000
LOCK_KEY = 1970299239


def _count(login: str, delta: int, condition: str) -> str:
    """Add `delta` to the range holding `login` (creating the first range if none exists)."""
    return (
        "INSERT INTO user_page_bucket (start_login, user_count)"
        " SELECT coalesce((SELECT start_login FROM user_page_bucket"
        f" WHERE start_login <= {login} ORDER BY start_login DESC LIMIT 1), ''), {delta}"
        f" WHERE {condition}"
        " ON CONFLICT (start_login) DO UPDATE"
        " SET user_count = user_page_bucket.user_count + excluded.user_count;"
    )


SQLITE_TRIGGERS = [
    "CREATE TRIGGER user_page_bucket_ai AFTER INSERT ON users BEGIN "
    + _count("new.login", 1, "NOT new.is_service_account")
    + " END",
    "CREATE TRIGGER user_page_bucket_ad AFTER DELETE ON users BEGIN "
    + _count("old.login", -1, "NOT old.is_service_account")
    + " END",
    "CREATE TRIGGER user_page_bucket_au AFTER UPDATE OF login, is_service_account ON users"
    " WHEN old.login IS NOT new.login OR old.is_service_account IS NOT new.is_service_account"
    " BEGIN "
    + _count("old.login", -1, "NOT old.is_service_account")
    + " "
    + _count("new.login", 1, "NOT new.is_service_account")
    + " END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS user_page_bucket_au",
    "DROP TRIGGER IF EXISTS user_page_bucket_ad",
    "DROP TRIGGER IF EXISTS user_page_bucket_ai",
]

POSTGRES_TRIGGERS = [
    "CREATE FUNCTION user_page_bucket_count() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  IF TG_OP = 'UPDATE' AND OLD.login = NEW.login\n"
    "     AND OLD.is_service_account = NEW.is_service_account THEN\n"
    "    RETURN NULL;\n"
    "  END IF;\n"
    f"  PERFORM pg_advisory_xact_lock_shared({LOCK_KEY});\n"
    "  IF TG_OP <> 'INSERT' THEN\n"
    "    " + _count("OLD.login", -1, "NOT OLD.is_service_account") + "\n"
    "  END IF;\n"
    "  IF TG_OP <> 'DELETE' THEN\n"
    "    " + _count("NEW.login", 1, "NOT NEW.is_service_account") + "\n"
    "  END IF;\n"
    "  RETURN NULL;\n"
    "END\n"
    "$$",
    "CREATE TRIGGER user_page_bucket_count"
    " AFTER INSERT OR DELETE OR UPDATE OF login, is_service_account ON users"
    " FOR EACH ROW EXECUTE FUNCTION user_page_bucket_count()",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS user_page_bucket_count ON users",
    "DROP FUNCTION IF EXISTS user_page_bucket_count()",
]


def _fill(dialect: str) -> str:
    """Ranges of PER_BUCKET users in login order, the first starting at ''."""
    smaller = "min" if dialect == "sqlite" else "least"
    return (
        "INSERT INTO user_page_bucket (start_login, user_count)"
        f" SELECT CASE WHEN rn = 1 THEN '' ELSE login END,"
        f" {smaller}({PER_BUCKET}, total - rn + 1)"
        " FROM (SELECT login, row_number() OVER (ORDER BY login) AS rn"
        "       FROM users WHERE NOT is_service_account) AS ranked,"
        "      (SELECT count(*) AS total FROM users WHERE NOT is_service_account) AS counted"
        f" WHERE rn % {PER_BUCKET} = 1"
    )


def upgrade() -> None:
    op.create_table(
        "user_page_bucket",
        sa.Column("start_login", sa.String(length=190), nullable=False),
        sa.Column("user_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("start_login"),
        sqlite_with_rowid=False,
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")
    op.execute(_fill(dialect))
    for statement in SQLITE_TRIGGERS if dialect == "sqlite" else POSTGRES_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_table("user_page_bucket")
