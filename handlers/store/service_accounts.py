"""Service accounts (users flagged as such, with an org role) and their API tokens."""

from __future__ import annotations

import functools
import re
from typing import Any

from sqlalchemy import String, bindparam, func, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

from handlers.store import fast, schema
from handlers.store.db import Database, in_int64, new_id
from handlers.store.errors import NameTaken, ServiceAccountNotFound
from handlers.store.models import Identity, ServiceAccount, TokenInfo
from handlers.store.rows import user_row

U, M, K = schema.users, schema.org_users, schema.api_keys


@functools.cache
def _token_read(dialect: Dialect) -> fast.Prepared:
    """A token and its service account: what token authentication reads, compiled once
    (store/fast.py)."""
    statement = (
        select(
            K.c.expires,
            K.c.is_revoked,
            K.c.org_id,
            K.c.role,
            U.c.id,
            U.c.login,
            U.c.is_disabled,
        )
        .join(U, U.c.id == K.c.service_account_id)
        .where(K.c.key == bindparam("key", type_=String))
    )
    return fast.Prepared(dialect, statement)


class ServiceAccountStore:
    db: Database

    def create_service_account(
        self, org_id: int, *, name: str, role: str, is_disabled: bool
    ) -> ServiceAccount:
        now = self.db.clock.now()
        login = f"sa-{org_id}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}"
        with self.db.write() as conn:
            if conn.execute(select(U.c.id).where(U.c.login == login)).first() is not None:
                raise NameTaken(name)
            try:
                sa_id = new_id(
                    conn.execute(
                        insert(U).values(
                            user_row(
                                login=login,
                                email=login,
                                name=name,
                                password_hash="",
                                salt="",
                                org_id=org_id,
                                now=now,
                                service_account=True,
                                is_disabled=is_disabled,
                                last_seen_at=now,
                            )
                        )
                    )
                )
            except IntegrityError:
                raise NameTaken(name) from None
            conn.execute(
                insert(M).values(org_id=org_id, user_id=sa_id, role=role, created=now, updated=now)
            )
        return self.get_service_account(org_id, sa_id)

    def get_service_account(self, org_id: int, sa_id: int) -> ServiceAccount:
        if not in_int64(sa_id):
            raise ServiceAccountNotFound(sa_id)
        tokens = (
            select(func.count())
            .select_from(K)
            .where(K.c.service_account_id == U.c.id)
            .scalar_subquery()
        )
        with self.db.read() as conn:
            row = conn.execute(
                select(U, M.c.role, tokens.label("tokens"))
                .join(M, (M.c.user_id == U.c.id) & (M.c.org_id == org_id))
                .where(U.c.id == sa_id, U.c.is_service_account.is_(True))
            ).first()
        if row is None:
            raise ServiceAccountNotFound(sa_id)
        return ServiceAccount(
            id=row.id,
            uid=row.uid,
            name=row.name,
            login=row.login,
            org_id=org_id,
            role=row.role,
            is_disabled=row.is_disabled,
            tokens=row.tokens,
        )

    def add_token(
        self, org_id: int, sa_id: int, *, name: str, key_hash: str, expires: int | None
    ) -> int:
        account = self.get_service_account(org_id, sa_id)
        now = self.db.clock.now()
        with self.db.write() as conn:
            if (
                conn.execute(select(K.c.id).where(K.c.org_id == org_id, K.c.name == name)).first()
                is not None
            ):
                raise NameTaken(name)
            try:
                token_id: int = new_id(
                    conn.execute(
                        insert(K).values(
                            org_id=org_id,
                            name=name,
                            key=key_hash,
                            role=account.role,
                            created=now,
                            updated=now,
                            expires=expires,
                            service_account_id=sa_id,
                            is_revoked=False,
                        )
                    )
                )
            except IntegrityError:
                raise NameTaken(name) from None
            return token_id

    def tokens(self, org_id: int, sa_id: int) -> list[TokenInfo]:
        """The service account's tokens in this org, oldest first (none for no such account)."""
        if not in_int64(sa_id):
            return []
        with self.db.read() as conn:
            rows = conn.execute(
                select(K.c.id, K.c.name, K.c.created, K.c.expires, K.c.is_revoked)
                .where(K.c.org_id == org_id, K.c.service_account_id == sa_id)
                .order_by(K.c.id)
            ).all()
        return [
            TokenInfo(
                id=r.id, name=r.name, created=r.created, expires=r.expires, is_revoked=r.is_revoked
            )
            for r in rows
        ]

    def identity_for_key(self, key_hash: str, now: int) -> Identity | None:
        """The service account a token authenticates, if the token is live."""
        prepared = _token_read(self.db.engine.dialect)
        with fast.raw_read(self.db, snapshot=False) as cursor:  # one statement
            found = prepared.first(cursor, key=key_hash)
        if found is None:
            return None
        row = prepared.mapping(found)
        if row["is_revoked"] or row["is_disabled"]:
            return None
        if row["expires"] is not None and row["expires"] <= now:
            return None
        return Identity(
            kind="service_account",
            user_id=row["id"],
            login=row["login"],
            org_id=row["org_id"],
            org_role=row["role"],
            is_admin=False,
        )

    def raw_user_row(self, user_id: int) -> Any:
        with self.db.read() as conn:
            return conn.execute(select(U).where(U.c.id == user_id)).first()
