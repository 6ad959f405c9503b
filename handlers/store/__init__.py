"""Persistence behind one narrow object: handlers see a Store and domain objects, never SQL."""

from __future__ import annotations

from handlers.clock import SYSTEM, Clock
from handlers.passwords import encode_password, random_string
from handlers.store.bootstrap import bootstrap
from handlers.store.dashboards import DashboardStore
from handlers.store.db import DEFAULT_POOLING, Database, Pooling
from handlers.store.errors import (
    AlreadyMember,
    DashboardNotFound,
    LastAdmin,
    LoginConflict,
    NameTaken,
    NotAMember,
    OrgNotFound,
    PatternTooLong,
    ServiceAccountNotFound,
    StoreError,
    TeamNotFound,
    TokenNotFound,
    UserNotFound,
)
from handlers.store.orgs import OrgStore
from handlers.store.service_accounts import ServiceAccountStore
from handlers.store.sessions import SessionStore
from handlers.store.teams import TeamStore
from handlers.store.users import UserStore

__all__ = [
    "AlreadyMember",
    "DashboardNotFound",
    "LastAdmin",
    "LoginConflict",
    "NameTaken",
    "NotAMember",
    "OrgNotFound",
    "PatternTooLong",
    "ServiceAccountNotFound",
    "Store",
    "StoreError",
    "TeamNotFound",
    "TokenNotFound",
    "UserNotFound",
    "open_store",
]


class Store(UserStore, OrgStore, TeamStore, DashboardStore, SessionStore, ServiceAccountStore):
    """All persistence, one short transaction per method, on SQLite or PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.db.read() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:  # any driver error means "not healthy"
            return False

    def close(self) -> None:
        self.db.close()


def open_store(
    url: str,
    *,
    admin_login: str = "admin",
    admin_password: str = "admin",
    admin_email: str = "admin@localhost",
    sqlite_synchronous: str = "FULL",
    clock: Clock = SYSTEM,
    pooling: Pooling = DEFAULT_POOLING,
) -> Store:
    """Open (and migrate) the database at `url`; create Grafana's defaults on first start.
    `sqlite_synchronous`: SQLite's synchronous mode for a file database (see db.py);
    `clock`: the server's time (handlers/clock.py); `pooling`: how this process holds
    PostgreSQL connections (see db.py)."""
    db = Database(
        url,
        sqlite_synchronous=sqlite_synchronous,
        clock=clock,
        pooling=pooling,
    )
    db.migrate()
    salt = random_string(10)
    with db.write() as conn:
        bootstrap(
            conn,
            admin_login=admin_login,
            admin_email=admin_email,
            password_hash=lambda: encode_password(admin_password, salt),
            salt=salt,
            now=clock.now(),
        )
    return Store(db)
