"""Grafana's first start: the rows a new database begins with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, select, text

from handlers.clock import SYSTEM
from handlers.store import schema
from handlers.store.db import new_id
from handlers.store.rows import user_row
from handlers.store.text import go_lower


def bootstrap(
    conn: Connection,
    *,
    admin_login: str,
    admin_email: str,
    password_hash: str | Callable[[], str],
    salt: str,
    now: datetime | None = None,
) -> None:
    """Grafana's first start: org 1 "Main Org." and a Grafana Admin who is its Admin.
    `password_hash` may be a function giving it: PBKDF2 costs ~10 ms, paid then only on
    the start that creates the admin."""
    now = now or SYSTEM.now()
    if conn.dialect.name == "postgresql":
        # Worker processes start together on a new database: one bootstraps, the others
        # wait here and then find the rows (SQLite's BEGIN IMMEDIATE already serialises).
        conn.execute(text("SELECT pg_advisory_xact_lock(3000)"))
    if conn.execute(select(schema.orgs.c.id).limit(1)).first() is None:
        conn.execute(
            schema.orgs.insert().values(id=1, name="Main Org.", version=0, created=now, updated=now)
        )
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('org', 'id'), 1)"))
    if conn.execute(select(schema.users.c.id).limit(1)).first() is not None:
        return
    admin = user_row(
        login=go_lower(admin_login),
        email=go_lower(admin_email),
        name="",
        password_hash=password_hash() if callable(password_hash) else password_hash,
        salt=salt,
        org_id=1,
        now=now,
        is_admin=True,
        last_seen_at=now,
    )
    result = conn.execute(schema.users.insert().values(admin))
    conn.execute(
        schema.org_users.insert().values(
            org_id=1, user_id=new_id(result), role="Admin", created=now, updated=now
        )
    )
