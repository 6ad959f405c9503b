"""Organizations and memberships (with their roles), and the user's active org."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from handlers.store import schema
from handlers.store.db import Database, in_int64, new_id
from handlers.store.errors import AlreadyMember, NameTaken, NotAMember, OrgNotFound, UserNotFound
from handlers.store.models import OrgMembership

ORG, M, U = schema.orgs, schema.org_users, schema.users


class OrgStore:
    db: Database

    def create_org(self, name: str, *, creator_id: int) -> int:
        """Create an org; its creator becomes its Admin (Grafana does the same)."""
        now = self.db.clock.now()
        with self.db.write() as conn:
            if conn.execute(select(ORG.c.id).where(ORG.c.name == name)).first() is not None:
                raise NameTaken(name)
            try:
                org_id: int = new_id(
                    conn.execute(insert(ORG).values(name=name, version=0, created=now, updated=now))
                )
            except IntegrityError:
                raise NameTaken(name) from None
            conn.execute(
                insert(M).values(
                    org_id=org_id, user_id=creator_id, role="Admin", created=now, updated=now
                )
            )
            return org_id

    def delete_org(self, org_id: int) -> None:
        if not in_int64(org_id):
            raise OrgNotFound(org_id)
        with self.db.write() as conn:
            if conn.execute(delete(ORG).where(ORG.c.id == org_id)).rowcount == 0:
                raise OrgNotFound(org_id)
            for table in (
                M,
                schema.teams,
                schema.team_members,
                schema.dashboards,
                schema.stars,
                schema.api_keys,
            ):
                conn.execute(delete(table).where(table.c.org_id == org_id))

    def add_org_user(self, org_id: int, user_id: int, role: str) -> None:
        now = self.db.clock.now()
        with self.db.write() as conn:
            if (
                not in_int64(org_id)
                or conn.execute(select(ORG.c.id).where(ORG.c.id == org_id)).first() is None
            ):
                raise OrgNotFound(org_id)
            if (
                conn.execute(
                    select(M.c.id).where(M.c.org_id == org_id, M.c.user_id == user_id)
                ).first()
                is not None
            ):
                raise AlreadyMember(user_id)
            try:
                conn.execute(
                    insert(M).values(
                        org_id=org_id, user_id=user_id, role=role, created=now, updated=now
                    )
                )
            except IntegrityError:
                raise AlreadyMember(user_id) from None

    def user_orgs(self, user_id: int) -> list[OrgMembership]:
        """Every org the user belongs to, by name, case-insensitively (Grafana's ByOrgName)."""
        if not in_int64(user_id):
            return []
        with self.db.read() as conn:
            rows = conn.execute(
                select(ORG.c.id, ORG.c.name, M.c.role)
                .join(M, M.c.org_id == ORG.c.id)
                .join(U, U.c.id == M.c.user_id)
                .where(M.c.user_id == user_id, U.c.is_service_account.is_(False))
                .order_by(func.lower(ORG.c.name), ORG.c.id)
            ).all()
        return [OrgMembership(org_id=r.id, name=r.name, role=r.role) for r in rows]

    def org_role(self, user_id: int, org_id: int) -> str | None:
        with self.db.read() as conn:
            return conn.execute(
                select(M.c.role).where(M.c.user_id == user_id, M.c.org_id == org_id)
            ).scalar_one_or_none()

    def set_active_org(self, user_id: int, org_id: int) -> None:
        """Switch the user's current org; only to an org they belong to."""
        if not (in_int64(user_id) and in_int64(org_id)):
            raise NotAMember(org_id)
        with self.db.write() as conn:
            if (
                conn.execute(
                    select(M.c.id).where(M.c.user_id == user_id, M.c.org_id == org_id)
                ).first()
                is None
            ):
                raise NotAMember(org_id)
            done = conn.execute(update(U).where(U.c.id == user_id).values(org_id=org_id))
            if done.rowcount == 0:
                raise UserNotFound(user_id)
