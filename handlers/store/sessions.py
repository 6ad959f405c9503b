"""Login sessions: hashed cookie tokens with lifetime and inactivity limits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from handlers.store import schema
from handlers.store.db import Database, in_int64, new_id
from handlers.store.errors import TokenNotFound
from handlers.store.models import SessionToken

A = schema.user_auth_tokens


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

    def find_session(
        self, token_hash: str, *, created_after: int, seen_after: int
    ) -> SessionToken | None:
        """The live session with this token hash, if it is neither too old nor idle."""
        with self.db.read() as conn:
            row = conn.execute(
                select(A).where(
                    A.c.auth_token == token_hash,
                    A.c.revoked_at == 0,
                    A.c.created_at > created_after,
                    A.c.rotated_at > seen_after,
                )
            ).first()
        return _to_token(row) if row is not None else None

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
