"""Initial schema: users, orgs, teams, dashboards, stars, sessions, service-account keys.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from handlers.store.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The first revision creates the tables as schema.py defines them today. Every later
    # change must be its own revision with explicit op.* calls; tests/test_migrations.py
    # fails when schema.py and the migrated database drift apart.
    metadata.create_all(bind=op.get_bind())


def downgrade() -> None:
    metadata.drop_all(bind=op.get_bind())
