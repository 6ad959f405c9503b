"""Login sessions: hashed cookie tokens with lifetime and inactivity limits."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Integer, String, bindparam, delete, insert, select, update
from sqlalchemy.engine import Dialect

from handlers.store import fast, schema
from handlers.store.db import Database, in_int64, new_id
from handlers.store.errors import TokenNotFound
from handlers.store.models import SessionToken, User
from handlers.store.users import auth_labels, latest_auth_module, user_from

A = schema.user_auth_tokens
U = schema.users
M = schema.org_users


@functools.cache
def _session_read(dialect: Dialect) -> fast.Prepared:
    """A live session, its user and the user's role in their current org: what cookie
    authentication needs, in one compiled read (store/fast.py)."""
    role = (
        select(M.c.role)
        .where(M.c.user_id == U.c.id, M.c.org_id == U.c.org_id)
        .scalar_subquery()
        .label("org_role")
    )
    statement = (
        select(
            A.c.id.label("session_id"),
            A.c.user_agent,
            A.c.client_ip,
            A.c.created_at,
            A.c.seen_at,
            A.c.rotated_at,
            U,
            role,
            latest_auth_module().label("auth_module"),
        )
        .join(U, U.c.id == A.c.user_id)
        .where(
            A.c.auth_token == bindparam("token", type_=String),
            A.c.revoked_at == 0,
            A.c.created_at > bindparam("created_after", type_=Integer),
            A.c.rotated_at > bindparam("seen_after", type_=Integer),
            U.c.is_service_account.is_(False),
        )
    )
    return fast.Prepared(dialect, statement)


def _to_token(row: Any) -> SessionToken:
    return SessionToken(
        id=row.id,
        user_id=row.user_id,
        user_agent=row.user_agent,
        client_ip=row.client_ip,
        created_at=row.created_at,
        seen_at=row.seen_at,
        rotated_at=row.rotated_at,
    )


class SessionStore:
    db: Database

    def create_session(
        self, user_id: int, token_hash: str, *, user_agent: str, client_ip: str, now: int
    ) -> SessionToken:
        with self.db.write() as conn:
            token_id = new_id(
                conn.execute(
                    insert(A).values(
                        user_id=user_id,
                        auth_token=token_hash,
                        user_agent=user_agent[:255],
                        client_ip=client_ip[:255],
                        seen_at=now,
                        rotated_at=now,
                        created_at=now,
                        updated_at=now,
                        revoked_at=0,
                    )
                )
            )
            return _to_token(conn.execute(select(A).where(A.c.id == token_id)).one())

    def session_credentials(
        self, token_hash: str, *, created_after: int, seen_after: int
    ) -> tuple[SessionToken, User, str | None] | None:
        """find_session, then the session's user and their role in their current org (None:
        no membership there), in one read; None when the session is not live or its user
        is gone."""
        prepared = _session_read(self.db.engine.dialect)
        with fast.raw_read(self.db, snapshot=False) as cursor:  # one statement
            found = prepared.first(
                cursor, token=token_hash, created_after=created_after, seen_after=seen_after
            )
        if found is None:
            return None
        m = prepared.mapping(found)
        token = SessionToken(
            id=m["session_id"],
            user_id=m["id"],
            user_agent=m["user_agent"],
            client_ip=m["client_ip"],
            created_at=m["created_at"],
            seen_at=m["seen_at"],
            rotated_at=m["rotated_at"],
        )
        return token, user_from(m, auth_labels(m["auth_module"])), m["org_role"]

    def mark_seen(self, token_id: int, now: int) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(A)
                .where(A.c.id == token_id)
                .values(seen_at=now, rotated_at=now, updated_at=now)
            )

    def list_sessions(
        self, user_id: int, *, created_after: int, seen_after: int
    ) -> list[SessionToken]:
        with self.db.read() as conn:
            rows = conn.execute(
                select(A)
                .where(
                    A.c.user_id == user_id,
                    A.c.revoked_at == 0,
                    A.c.created_at > created_after,
                    A.c.rotated_at > seen_after,
                )
                .order_by(A.c.id)
            ).all()
        return [_to_token(r) for r in rows]

    def get_session(self, user_id: int, token_id: int) -> SessionToken:
        """One of this user's sessions; another user's token is reported as not found."""
        if not in_int64(token_id):
            raise TokenNotFound(token_id)
        with self.db.read() as conn:
            row = conn.execute(select(A).where(A.c.id == token_id, A.c.user_id == user_id)).first()
        if row is None:
            raise TokenNotFound(token_id)
        return _to_token(row)

    def delete_session(self, token_id: int) -> None:
        with self.db.write() as conn:
            conn.execute(delete(A).where(A.c.id == token_id))

    def delete_session_by_hash(self, token_hash: str) -> None:
        with self.db.write() as conn:
            conn.execute(delete(A).where(A.c.auth_token == token_hash))

    def revoke_all_sessions(self, user_id: int) -> None:
        with self.db.write() as conn:
            conn.execute(delete(A).where(A.c.user_id == user_id))
