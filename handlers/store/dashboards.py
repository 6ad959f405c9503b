"""Dashboards (just enough to star them) and the stars users put on them."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from handlers.store import schema
from handlers.store.db import Database, in_int64, new_id, new_uid
from handlers.store.errors import DashboardNotFound, NameTaken
from handlers.store.models import Dashboard, DashboardDocument

D, S = schema.dashboards, schema.stars


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class DashboardStore:
    db: Database

    def save_dashboard(
        self,
        org_id: int,
        *,
        title: str,
        uid: str | None,
        folder_uid: str,
        overwrite: bool,
        data: dict[str, Any],
    ) -> Dashboard:
        """Create, or with `overwrite` replace, a dashboard; titles are unique per folder."""
        now = self.db.clock.now()
        with self.db.write() as conn:
            same_title = conn.execute(
                select(D).where(
                    D.c.org_id == org_id, D.c.folder_uid == folder_uid, D.c.title == title
                )
            ).first()
            existing = (
                conn.execute(select(D).where(D.c.org_id == org_id, D.c.uid == uid)).first()
                if uid
                else None
            )
            if same_title is not None and (existing is None or same_title.id != existing.id):
                if not overwrite:
                    raise NameTaken(title)
                if existing is None:  # Grafana takes it over: same id and uid, next version
                    existing = same_title
                else:
                    conn.execute(delete(D).where(D.c.id == same_title.id))
            values = {
                "title": title,
                "slug": slugify(title),
                "folder_uid": folder_uid,
                "data": json.dumps(data),
                "updated": now,
            }
            try:
                if existing is not None:
                    conn.execute(
                        update(D)
                        .where(D.c.id == existing.id)
                        .values(**values, version=existing.version + 1)
                    )
                    dashboard_id = existing.id
                else:
                    dashboard_id = new_id(
                        conn.execute(
                            insert(D).values(
                                **values,
                                uid=uid or new_uid(),
                                org_id=org_id,
                                version=1,
                                created=now,
                            )
                        )
                    )
            except IntegrityError:
                raise NameTaken(title) from None
            return _to_dashboard(conn.execute(select(D).where(D.c.id == dashboard_id)).one())

    def get_dashboard(self, org_id: int, uid: str) -> Dashboard:
        with self.db.read() as conn:
            row = conn.execute(select(D).where(D.c.org_id == org_id, D.c.uid == uid)).first()
        if row is None:
            raise DashboardNotFound(uid)
        return _to_dashboard(row)

    def dashboard_document(self, org_id: int, uid: str) -> DashboardDocument:
        """The dashboard with its saved JSON model and times (DashboardNotFound)."""
        with self.db.read() as conn:
            row = conn.execute(select(D).where(D.c.org_id == org_id, D.c.uid == uid)).first()
        if row is None:
            raise DashboardNotFound(uid)
        data = json.loads(row.data or "{}")
        return DashboardDocument(
            dashboard=_to_dashboard(row),
            data=data if isinstance(data, dict) else {},
            created=row.created,
            updated=row.updated,
        )

    def delete_dashboard(self, org_id: int, uid: str) -> Dashboard:
        with self.db.write() as conn:
            row = conn.execute(select(D).where(D.c.org_id == org_id, D.c.uid == uid)).first()
            if row is None:
                raise DashboardNotFound(uid)
            conn.execute(delete(D).where(D.c.id == row.id))
            conn.execute(delete(S).where(S.c.dashboard_id == row.id))
            return _to_dashboard(row)

    def star(self, user_id: int, dashboard_id: int, org_id: int) -> None:
        """Idempotent: starring twice leaves one star (newer Grafana behaves so)."""
        with self.db.write() as conn:
            if conn.execute(
                select(S.c.id).where(S.c.user_id == user_id, S.c.dashboard_id == dashboard_id)
            ).first():
                return
            try:
                conn.execute(
                    insert(S).values(
                        user_id=user_id,
                        dashboard_id=dashboard_id,
                        org_id=org_id,
                        updated=self.db.clock.now(),
                    )
                )
            except IntegrityError:
                return

    def unstar(self, user_id: int, dashboard_id: int) -> None:
        if not in_int64(dashboard_id):
            return
        with self.db.write() as conn:
            conn.execute(delete(S).where(S.c.user_id == user_id, S.c.dashboard_id == dashboard_id))

    def starred_uids(self, user_id: int, org_id: int) -> list[str]:
        """UIDs of the existing dashboards of this org the user starred."""
        with self.db.read() as conn:
            return list(
                conn.execute(
                    select(D.c.uid)
                    .join(S, S.c.dashboard_id == D.c.id)
                    .where(S.c.user_id == user_id, D.c.org_id == org_id)
                    .order_by(S.c.id)
                ).scalars()
            )


def _to_dashboard(row: Any) -> Dashboard:
    return Dashboard(
        id=row.id,
        uid=row.uid,
        org_id=row.org_id,
        title=row.title,
        slug=row.slug,
        folder_uid=row.folder_uid,
        version=row.version,
    )
