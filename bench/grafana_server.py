"""Our server doing search the way Grafana does, for the comparison on the same database.

Grafana (pkg/services/user/userimpl/store.go) filters with
`email LIKE ? OR name LIKE ? OR login LIKE ?` using the dialect's case-insensitive LIKE
(ILIKE on PostgreSQL), `%query%` unescaped, `is_service_account = false`, orders by
`login ASC, email ASC`, pages with LIMIT/OFFSET and counts with a separate query. No index
can answer that: every search reads the whole table.

    python -m bench.grafana_server --port 3001 --database-url URL

Everything else (basic auth, credential cache per USERAPI_CREDENTIAL_CACHE, middleware) is
our server unchanged, so only the search differs.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from datetime import datetime

import uvicorn
from sqlalchemy import ColumnElement, and_, func, or_, select

from handlers.app import create_app
from handlers.settings import Settings
from handlers.store import Store, open_store
from handlers.store.models import Page, User
from handlers.store.users import SORT_COLUMNS, SORT_PRIORITY, U, to_user


def grafana_search(
    self: Store,
    *,
    query: str,
    page: int,
    per_page: int,
    sort: Sequence[tuple[str, bool]] = (),
    use_index: bool = True,
    active_since: datetime | None = None,
) -> Page[User]:
    cond: ColumnElement[bool] = U.c.is_service_account.is_(False)
    if active_since is not None:  # activeLast30Days
        cond = and_(cond, U.c.last_seen_at > active_since)
    if query:
        like = "ILIKE" if self.db.dialect == "postgresql" else "LIKE"
        pattern = f"%{query}%"
        cond = and_(
            cond,
            or_(
                U.c.email.op(like)(pattern), U.c.name.op(like)(pattern), U.c.login.op(like)(pattern)
            ),
        )
    ranked = sorted(sort, key=lambda item: SORT_PRIORITY.index(item[0]))
    order = [SORT_COLUMNS[k].desc() if desc else SORT_COLUMNS[k].asc() for k, desc in ranked] or [
        U.c.login.asc(),
        U.c.email.asc(),
    ]
    with self.db.read() as conn:
        total = conn.execute(select(func.count()).select_from(U).where(cond)).scalar_one()
        rows = conn.execute(
            select(U).where(cond).order_by(*order).limit(per_page).offset(per_page * (page - 1))
        ).all()
        labels = self._labels(conn, [r.id for r in rows])
        items = [to_user(r, labels.get(r.id, ())) for r in rows]
    return Page(items=items, total_count=total, page=page, per_page=per_page)


def main(argv: Sequence[str] | None = None) -> None:
    settings = Settings.from_env().with_args(argv)
    store = open_store(settings.database_url)
    store.search_users = types.MethodType(grafana_search, store)  # type: ignore[method-assign]
    app = create_app(settings, store=store)
    print(f"grafana-style search on {settings.database_url}", file=sys.stderr)
    uvicorn.run(
        app, host=settings.http_addr, port=settings.http_port, access_log=settings.access_log
    )


if __name__ == "__main__":
    main()
