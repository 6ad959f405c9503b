"""Organizations and memberships (with their roles), and the user's active org."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from handlers.store import schema
from handlers.store.db import Database, in_int64, new_id
from handlers.store.errors import (
    AlreadyMember,
    LastAdmin,
    NameTaken,
    NotAMember,
    OrgNotFound,
    UserNotFound,
)
from handlers.store.models import OrgMember, OrgMembership
from handlers.store.users import labels_of, to_user

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
        """Switch the user's current org; only to an org they belong to. A service account
        belongs to none here: Grafana checks against the user's org list, which leaves
        service accounts out, so it is never switched."""
        if not (in_int64(user_id) and in_int64(org_id)):
            raise NotAMember(org_id)
        with self.db.write() as conn:
            if (
                conn.execute(
                    select(M.c.id)
                    .join(U, U.c.id == M.c.user_id)
                    .where(
                        M.c.user_id == user_id,
                        M.c.org_id == org_id,
                        U.c.is_service_account.is_(False),
                    )
                ).first()
                is None
            ):
                raise NotAMember(org_id)
            done = conn.execute(update(U).where(U.c.id == user_id).values(org_id=org_id))
            if done.rowcount == 0:
                raise UserNotFound(user_id)

    def search_orgs(
        self, *, query: str, name: str, limit: int, offset: int
    ) -> list[tuple[int, str]]:
        """(id, name) of the orgs whose name starts with `query` and is `name` (each filter
        only when not empty), in id order, `limit` from `offset` as Grafana pages them."""
        if not self.db.holds(query, name):
            return []
        statement = select(ORG.c.id, ORG.c.name).order_by(ORG.c.id)
        if query:  # as Grafana: the text is not escaped, % and _ are wildcards in it too
            statement = statement.where(ORG.c.name.like(query + "%"))
        if name:
            statement = statement.where(ORG.c.name == name)
        with self.db.read() as conn:
            rows = conn.execute(statement.limit(limit).offset(offset)).all()
        return [(int(r.id), str(r.name)) for r in rows]

    def org_by_name(self, name: str) -> tuple[int, str]:
        if not self.db.holds(name):
            raise OrgNotFound(name)
        with self.db.read() as conn:
            row = conn.execute(select(ORG.c.id, ORG.c.name).where(ORG.c.name == name)).first()
        if row is None:
            raise OrgNotFound(name)
        return int(row.id), str(row.name)

    def org_members(self, org_id: int) -> list[OrgMember]:
        """The org's users (not service accounts) with their roles, by login, then e-mail."""
        if not in_int64(org_id):
            return []
        with self.db.read() as conn:
            rows = conn.execute(
                select(U, M.c.role.label("member_role"))
                .join(M, M.c.user_id == U.c.id)
                .where(M.c.org_id == org_id, U.c.is_service_account.is_(False))
                .order_by(U.c.login, U.c.email)
            ).all()
            labels = labels_of(conn, [r.id for r in rows])
        return [
            OrgMember(org_id=org_id, user=to_user(r, labels.get(r.id, ())), role=r.member_role)
            for r in rows
        ]

    def update_org_user(self, org_id: int, user_id: int, role: str) -> None:
        """Change a member's role (NotAMember); the org must keep an Admin (LastAdmin)."""
        if not (in_int64(org_id) and in_int64(user_id)):
            raise NotAMember(user_id)
        now = self.db.clock.now()
        with self.db.write() as conn:
            done = conn.execute(
                update(M)
                .where(M.c.org_id == org_id, M.c.user_id == user_id)
                .values(role=role, updated=now)
            )
            if done.rowcount == 0:
                raise NotAMember(user_id)
            _keep_an_admin(conn, org_id)

    def remove_org_user(self, org_id: int, user_id: int) -> None:
        """End a membership, as Grafana's admin route does: the user (not a service account:
        UserNotFound) keeps their account; an org must keep an Admin (LastAdmin); a user
        whose current org this was moves to another of theirs, or to none (org id 0).
        Removing someone who is no member changes nothing and succeeds."""
        if not in_int64(user_id):
            raise UserNotFound(user_id)
        with self.db.write() as conn:
            current = conn.execute(
                select(U.c.org_id).where(U.c.id == user_id, U.c.is_service_account.is_(False))
            ).first()
            if current is None:
                raise UserNotFound(user_id)
            if not in_int64(org_id):
                return
            conn.execute(delete(M).where(M.c.org_id == org_id, M.c.user_id == user_id))
            conn.execute(
                delete(schema.team_members).where(
                    schema.team_members.c.org_id == org_id,
                    schema.team_members.c.user_id == user_id,
                )
            )
            _keep_an_admin(conn, org_id)
            remaining = (
                conn.execute(select(M.c.org_id).where(M.c.user_id == user_id).order_by(M.c.id))
                .scalars()
                .all()
            )
            if current.org_id not in remaining:
                moved = remaining[0] if remaining else 0
                conn.execute(update(U).where(U.c.id == user_id).values(org_id=moved))


def _keep_an_admin(conn: Connection, org_id: int) -> None:
    """Grafana's check after changing an org's memberships: some Admin is left (else the
    transaction is rolled back: LastAdmin)."""
    admin = conn.execute(
        select(M.c.id).where(M.c.org_id == org_id, M.c.role == "Admin").limit(1)
    ).first()
    if admin is None:
        raise LastAdmin(org_id)
