"""Table definitions (SQLAlchemy Core), mirroring Grafana's own tables where they overlap."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# int64 ids like Grafana; on SQLite the column must stay INTEGER to be the rowid alias,
# and AUTOINCREMENT (as Grafana's SQLite tables have) so a deleted row's id is never reused:
# a star set by dashboard id must not move to the next dashboard created.
Id = BigInteger().with_variant(Integer, "sqlite")

metadata = MetaData()

# `user` is reserved in PostgreSQL, so the table is `users` (Grafana quotes "user").
users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(40), nullable=False, unique=True),
    Column("version", Integer, nullable=False, default=0),
    Column("login", String(190), nullable=False, unique=True),
    Column("email", String(190), nullable=False, unique=True),
    Column("name", String(255), nullable=False, default=""),
    Column("password", String(255), nullable=False, default=""),
    Column("salt", String(50), nullable=False, default=""),
    Column("rands", String(50), nullable=False, default=""),
    Column("company", String(255), nullable=False, default=""),
    Column("org_id", Id, nullable=False, default=0),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("email_verified", Boolean, nullable=False, default=False),
    Column("theme", String(255), nullable=False, default=""),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("is_disabled", Boolean, nullable=False, default=False),
    Column("is_service_account", Boolean, nullable=False, default=False),
    sqlite_autoincrement=True,
)

orgs = Table(
    "org",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("version", Integer, nullable=False, default=0),
    Column("name", String(190), nullable=False, unique=True),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
    sqlite_autoincrement=True,
)

org_users = Table(
    "org_user",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("org_id", Id, nullable=False, index=True),
    Column("user_id", Id, nullable=False, index=True),
    Column("role", String(20), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
    UniqueConstraint("org_id", "user_id", name="uq_org_user"),
    sqlite_autoincrement=True,
)

teams = Table(
    "team",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(40), nullable=False),
    Column("org_id", Id, nullable=False, index=True),
    Column("name", String(190), nullable=False),
    Column("email", String(190), nullable=False, default=""),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
    UniqueConstraint("org_id", "name", name="uq_team_org_name"),
    UniqueConstraint("org_id", "uid", name="uq_team_org_uid"),
    sqlite_autoincrement=True,
)

team_members = Table(
    "team_member",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("org_id", Id, nullable=False),
    Column("team_id", Id, nullable=False, index=True),
    Column("user_id", Id, nullable=False, index=True),
    Column("permission", SmallInteger, nullable=False, default=0),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
    UniqueConstraint("org_id", "team_id", "user_id", name="uq_team_member"),
    sqlite_autoincrement=True,
)

dashboards = Table(
    "dashboard",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("uid", String(40), nullable=False),
    Column("org_id", Id, nullable=False),
    Column("title", String(255), nullable=False),
    Column("slug", String(255), nullable=False),
    Column("folder_uid", String(40), nullable=False, default=""),
    Column("version", Integer, nullable=False, default=1),
    Column("data", Text, nullable=False, default="{}"),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
    UniqueConstraint("org_id", "uid", name="uq_dashboard_org_uid"),
    UniqueConstraint("org_id", "folder_uid", "title", name="uq_dashboard_org_folder_title"),
    sqlite_autoincrement=True,
)

stars = Table(
    "star",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, nullable=False, index=True),
    Column("dashboard_id", Id, nullable=False),
    Column("org_id", Id, nullable=False),
    Column("updated", DateTime, nullable=False),
    UniqueConstraint("user_id", "dashboard_id", name="uq_star_user_dashboard"),
    sqlite_autoincrement=True,
)

# Session tokens: the cookie value is never stored, only its keyed hash.
user_auth_tokens = Table(
    "user_auth_token",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, nullable=False, index=True),
    Column("auth_token", String(100), nullable=False, unique=True),
    Column("user_agent", String(255), nullable=False, default=""),
    Column("client_ip", String(255), nullable=False, default=""),
    Column("seen_at", BigInteger, nullable=False, default=0),
    Column("rotated_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=False, default=0),
    sqlite_autoincrement=True,
)

# Links a user to an external identity provider (LDAP, OAuth...): makes them "external".
user_auth = Table(
    "user_auth",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("user_id", Id, nullable=False, index=True),
    Column("auth_module", String(190), nullable=False),
    Column("auth_id", String(190), nullable=False),
    Column("created", DateTime, nullable=False),
    sqlite_autoincrement=True,
)

# The user list cut into ranges of logins, each with how many users (service accounts not
# counted) it holds, kept exact by triggers (revision 0003): page N of the list is found
# from these counts instead of by skipping N pages of rows (handlers/store/paging.py).
user_page_buckets = Table(
    "user_page_bucket",
    metadata,
    Column("start_login", String(190), primary_key=True),
    Column("user_count", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

api_keys = Table(
    "api_key",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("org_id", Id, nullable=False),
    Column("name", String(190), nullable=False),
    Column("key", String(190), nullable=False, unique=True),
    Column("role", String(255), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
    Column("expires", BigInteger, nullable=True),
    Column("service_account_id", Id, nullable=True, index=True),
    Column("is_revoked", Boolean, nullable=False, default=False),
    UniqueConstraint("org_id", "name", name="uq_api_key_org_name"),
    sqlite_autoincrement=True,
)

login_attempts = Table(
    "login_attempt",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(190), nullable=False),
    Column("ip_address", String(64), nullable=False, default=""),
    Column("created", BigInteger, nullable=False),
    Index("ix_login_attempt_username_created", "username", "created"),
    sqlite_autoincrement=True,
)
