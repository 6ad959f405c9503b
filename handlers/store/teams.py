"""Teams within an org and their members."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from handlers.store import schema
from handlers.store.db import Database, in_int64, new_id, new_uid
from handlers.store.errors import AlreadyMember, NameTaken, NotAMember, PatternTooLong, TeamNotFound
from handlers.store.models import Team, TeamMembership
from handlers.store.users import SQLITE_LIKE_LIMIT, like_pattern, to_user

T, TM = schema.teams, schema.team_members
TEAM_ADMIN = 4


class TeamStore:
    db: Database

    def create_team(
        self, org_id: int, name: str, email: str, *, creator_id: int | None
    ) -> tuple[int, str]:
        """Create a team; a user who creates one becomes its admin member, as in Grafana."""
        now = self.db.clock.now()
        uid = new_uid()
        with self.db.write() as conn:
            if (
                conn.execute(select(T.c.id).where(T.c.org_id == org_id, T.c.name == name)).first()
                is not None
            ):
                raise NameTaken(name)
            try:
                team_id: int = new_id(
                    conn.execute(
                        insert(T).values(
                            uid=uid, org_id=org_id, name=name, email=email, created=now, updated=now
                        )
                    )
                )
            except IntegrityError:
                raise NameTaken(name) from None
            if creator_id is not None:
                conn.execute(
                    insert(TM).values(
                        org_id=org_id,
                        team_id=team_id,
                        user_id=creator_id,
                        permission=TEAM_ADMIN,
                        created=now,
                        updated=now,
                    )
                )
            return team_id, uid

    def delete_team(self, org_id: int, team_id: int) -> None:
        if not in_int64(team_id):
            raise TeamNotFound(team_id)
        with self.db.write() as conn:
            done = conn.execute(delete(T).where(T.c.id == team_id, T.c.org_id == org_id))
            if done.rowcount == 0:
                raise TeamNotFound(team_id)
            conn.execute(delete(TM).where(TM.c.team_id == team_id))

    def add_team_member(self, org_id: int, team_id: int, user_id: int) -> None:
        now = self.db.clock.now()
        with self.db.write() as conn:
            if (
                not in_int64(team_id)
                or conn.execute(
                    select(T.c.id).where(T.c.id == team_id, T.c.org_id == org_id)
                ).first()
                is None
            ):
                raise TeamNotFound(team_id)
            if (
                conn.execute(
                    select(TM.c.id).where(TM.c.team_id == team_id, TM.c.user_id == user_id)
                ).first()
                is not None
            ):
                raise AlreadyMember(user_id)
            try:
                conn.execute(
                    insert(TM).values(
                        org_id=org_id,
                        team_id=team_id,
                        user_id=user_id,
                        permission=0,
                        created=now,
                        updated=now,
                    )
                )
            except IntegrityError:
                raise AlreadyMember(user_id) from None

    def get_team(self, org_id: int, team_id: int, viewer_id: int) -> Team:
        """One team of the org, with its member count and the viewer's permission in it
        (0 when the viewer is no member)."""
        if not in_int64(team_id):
            raise TeamNotFound(team_id)
        members = (
            select(func.count()).where(TM.c.team_id == T.c.id).scalar_subquery().label("members")
        )
        mine = (
            select(TM.c.permission)
            .where(TM.c.team_id == T.c.id, TM.c.user_id == viewer_id)
            .scalar_subquery()
            .label("mine")
        )
        with self.db.read() as conn:
            row = conn.execute(
                select(T, members, mine).where(T.c.id == team_id, T.c.org_id == org_id)
            ).first()
        if row is None:
            raise TeamNotFound(team_id)
        return _team(row, members=row.members, permission=row.mine or 0)

    def user_teams(self, user_id: int, org_id: int) -> list[Team]:
        """Teams of one org that the user belongs to, in creation order."""
        if not in_int64(user_id):
            return []
        counts = (
            select(TM.c.team_id, func.count().label("members")).group_by(TM.c.team_id).subquery()
        )
        with self.db.read() as conn:
            rows = conn.execute(
                select(T, TM.c.permission, counts.c.members)
                .join(TM, and_(TM.c.team_id == T.c.id, TM.c.user_id == user_id))
                .join(counts, counts.c.team_id == T.c.id)
                .where(T.c.org_id == org_id)
                .order_by(T.c.id)
            ).all()
        return [_team(r, members=r.members, permission=r.permission) for r in rows]

    def search_teams(
        self, org_id: int, *, query: str, name: str, limit: int, offset: int
    ) -> tuple[int, list[Team]]:
        """The org's teams whose name contains `query` (Grafana's lower-cased LIKE pattern)
        and is `name` (each only when not empty), by name: how many in all, and `limit` of
        them from `offset`. Permission is 0: Grafana's search does not read it."""
        if not self.db.holds(query, name):
            return 0, []
        cond = T.c.org_id == org_id
        if query:
            pattern = like_pattern(query)
            sqlite = self.db.engine.dialect.name == "sqlite"
            if sqlite and len(pattern.encode()) > SQLITE_LIKE_LIMIT:
                raise PatternTooLong(len(query))
            folded = (
                func.go_lower(T.c.name) if sqlite and not query.isascii() else func.lower(T.c.name)
            )
            cond = and_(cond, folded.like(pattern))
        if name:
            cond = and_(cond, T.c.name == name)
        members = (
            select(func.count()).where(TM.c.team_id == T.c.id).scalar_subquery().label("members")
        )
        with self.db.read() as conn:
            total = int(conn.execute(select(func.count()).select_from(T).where(cond)).scalar_one())
            rows = conn.execute(
                select(T, members).where(cond).order_by(T.c.name).limit(limit).offset(offset)
            ).all()
        return total, [_team(r, members=r.members, permission=0) for r in rows]

    def remove_team_member(self, org_id: int, team_id: int, user_id: int) -> None:
        """TeamNotFound for a team the org does not have; NotAMember when the user is not
        in it."""
        if not in_int64(team_id):
            raise TeamNotFound(team_id)
        with self.db.write() as conn:
            if (
                conn.execute(select(T.c.id).where(T.c.id == team_id, T.c.org_id == org_id)).first()
                is None
            ):
                raise TeamNotFound(team_id)
            if not in_int64(user_id):
                raise NotAMember(user_id)
            done = conn.execute(
                delete(TM).where(
                    TM.c.org_id == org_id, TM.c.team_id == team_id, TM.c.user_id == user_id
                )
            )
            if done.rowcount == 0:
                raise NotAMember(user_id)

    def team_members(self, org_id: int, team_id: int) -> list[TeamMembership]:
        """The team's members (users, not service accounts) with their permission and the
        auth module of their latest external login, by login, then e-mail. Team id 0 is
        no filter: every membership in the org, as Grafana's query reads it."""
        if team_id != 0 and not in_int64(team_id):
            return []
        U, A = schema.users, schema.user_auth
        latest = (
            select(A.c.auth_module)
            .where(A.c.user_id == TM.c.user_id)
            .order_by(A.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        cond = and_(TM.c.org_id == org_id, U.c.is_service_account.is_(False))
        if team_id:
            cond = and_(cond, TM.c.team_id == team_id)
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    U,
                    TM.c.team_id,
                    TM.c.permission,
                    T.c.uid.label("team_uid"),
                    latest.label("module"),
                )
                .join(TM, TM.c.user_id == U.c.id)
                .join(T, T.c.id == TM.c.team_id)
                .where(cond)
                .order_by(U.c.login, U.c.email)
            ).all()
        return [
            TeamMembership(
                org_id=org_id,
                team_id=r.team_id,
                team_uid=r.team_uid,
                user=to_user(r),
                permission=int(r.permission),
                auth_module=r.module or "",
            )
            for r in rows
        ]


def _team(row: Any, *, members: int, permission: int) -> Team:
    """A team row with its member count and a viewer's permission in it."""
    return Team(
        id=row.id,
        uid=row.uid,
        org_id=row.org_id,
        name=row.name,
        email=row.email,
        member_count=int(members),
        permission=int(permission),
    )
