"""Initial schema: users, orgs, teams, dashboards, stars, sessions, service-account keys.

The tables as they stood at the first release, written out: this revision never changes.
Every later change of handlers/store/schema.py is a revision of its own with explicit op.*
calls; tests/test_migrations.py fails when the migrated database and schema.py drift apart,
and upgrades a database made by the previous release.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=190), nullable=False),
        sa.Column("key", sa.String(length=190), nullable=False),
        sa.Column("role", sa.String(length=255), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=True),
        sa.Column(
            "service_account_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("is_revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("org_id", "name", name="uq_api_key_org_name"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_api_key_service_account_id"), "api_key", ["service_account_id"], unique=False
    )
    op.create_table(
        "dashboard",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=False),
        sa.Column("folder_uid", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "folder_uid", "title", name="uq_dashboard_org_folder_title"),
        sa.UniqueConstraint("org_id", "uid", name="uq_dashboard_org_uid"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "login_attempt",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("username", sa.String(length=190), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_login_attempt_username_created", "login_attempt", ["username", "created"], unique=False
    )
    op.create_table(
        "org",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=190), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "org_user",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "user_id", name="uq_org_user"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_org_user_org_id"), "org_user", ["org_id"], unique=False)
    op.create_index(op.f("ix_org_user_user_id"), "org_user", ["user_id"], unique=False)
    op.create_table(
        "star",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "dashboard_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "dashboard_id", name="uq_star_user_dashboard"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_star_user_id"), "star", ["user_id"], unique=False)
    op.create_table(
        "team",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=190), nullable=False),
        sa.Column("email", sa.String(length=190), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "name", name="uq_team_org_name"),
        sa.UniqueConstraint("org_id", "uid", name="uq_team_org_uid"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_team_org_id"), "team", ["org_id"], unique=False)
    op.create_table(
        "team_member",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("permission", sa.SmallInteger(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "team_id", "user_id", name="uq_team_member"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_team_member_team_id"), "team_member", ["team_id"], unique=False)
    op.create_index(op.f("ix_team_member_user_id"), "team_member", ["user_id"], unique=False)
    op.create_table(
        "user_auth",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("auth_module", sa.String(length=190), nullable=False),
        sa.Column("auth_id", sa.String(length=190), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_user_auth_user_id"), "user_auth", ["user_id"], unique=False)
    op.create_table(
        "user_auth_token",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("auth_token", sa.String(length=100), nullable=False),
        sa.Column("user_agent", sa.String(length=255), nullable=False),
        sa.Column("client_ip", sa.String(length=255), nullable=False),
        sa.Column("seen_at", sa.BigInteger(), nullable=False),
        sa.Column("rotated_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("auth_token"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_user_auth_token_user_id"), "user_auth_token", ["user_id"], unique=False
    )
    op.create_table(
        "users",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=190), nullable=False),
        sa.Column("email", sa.String(length=190), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("password", sa.String(length=255), nullable=False),
        sa.Column("salt", sa.String(length=50), nullable=False),
        sa.Column("rands", sa.String(length=50), nullable=False),
        sa.Column("company", sa.String(length=255), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("theme", sa.String(length=255), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("is_disabled", sa.Boolean(), nullable=False),
        sa.Column("is_service_account", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
        sa.UniqueConstraint("login"),
        sa.UniqueConstraint("uid"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("users")
    op.drop_index(op.f("ix_user_auth_token_user_id"), table_name="user_auth_token")
    op.drop_table("user_auth_token")
    op.drop_index(op.f("ix_user_auth_user_id"), table_name="user_auth")
    op.drop_table("user_auth")
    op.drop_index(op.f("ix_team_member_user_id"), table_name="team_member")
    op.drop_index(op.f("ix_team_member_team_id"), table_name="team_member")
    op.drop_table("team_member")
    op.drop_index(op.f("ix_team_org_id"), table_name="team")
    op.drop_table("team")
    op.drop_index(op.f("ix_star_user_id"), table_name="star")
    op.drop_table("star")
    op.drop_index(op.f("ix_org_user_user_id"), table_name="org_user")
    op.drop_index(op.f("ix_org_user_org_id"), table_name="org_user")
    op.drop_table("org_user")
    op.drop_table("org")
    op.drop_index("ix_login_attempt_username_created", table_name="login_attempt")
    op.drop_table("login_attempt")
    op.drop_table("dashboard")
    op.drop_index(op.f("ix_api_key_service_account_id"), table_name="api_key")
    op.drop_table("api_key")
