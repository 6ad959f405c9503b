"""The one function that builds a `users` row: create, first start, service accounts and
the bulk seeder all take their rows (or their column order and constants) from it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.store.db import new_uid, years_before


def user_row(
    *,
    login: str,
    email: str,
    name: str,
    password_hash: str,
    salt: str,
    org_id: int,
    now: datetime,
    is_admin: bool = False,
    service_account: bool = False,
    is_disabled: bool = False,
    last_seen_at: datetime | None = None,
    uid: str | None = None,
) -> dict[str, Any]:
    """Every column of a new user but its id, in the table's column order.

    Grafana backdates a new user's last-seen time by ten years ("10 years" ago) unless
    told otherwise."""
    return {
        "uid": uid if uid is not None else new_uid(),
        "version": 0,
        "login": login,
        "email": email,
        "name": name,
        "password": password_hash,
        "salt": salt,
        "rands": "",
        "company": "",
        "org_id": org_id,
        "is_admin": is_admin,
        "email_verified": False,
        "theme": "",
        "created": now,
        "updated": now,
        "last_seen_at": last_seen_at if last_seen_at is not None else years_before(now, 10),
        "is_disabled": is_disabled,
        "is_service_account": service_account,
    }
