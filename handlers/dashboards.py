"""Supporting operations tagged `dashboards`: just enough dashboards to star them."""

from __future__ import annotations

import re
from typing import Any

from handlers import deps, views
from handlers.errors import BadRequest, NotFound, PreconditionFailed
from handlers.store import DashboardNotFound, NameTaken

JSON = dict[str, Any]


# Grafana's short UIDs: letters, digits, '-' and '_' (the spec caps the length at 40).
_UID = re.compile(r"[A-Za-z0-9_-]*")


def post_dashboard(body: JSON) -> JSON:
    who = deps.caller()
    dashboard: JSON = body["dashboard"]
    uid = dashboard.get("uid")
    if isinstance(uid, str) and not _UID.fullmatch(uid):
        raise BadRequest("uid contains illegal characters")
    try:
        saved = deps.store().save_dashboard(
            who.org_id,
            title=str(dashboard["title"]),
            uid=dashboard.get("uid") or None,
            folder_uid=str(body.get("folderUid") or ""),
            overwrite=bool(body.get("overwrite")),
            data=dashboard,
        )
    except NameTaken:
        raise PreconditionFailed(
            "A dashboard with the same name in the folder already exists", status="name-exists"
        ) from None
    return views.dashboard_saved(saved)


def delete_dashboard_by_uid(uid: str) -> JSON:
    who = deps.caller()
    try:
        gone = deps.store().delete_dashboard(who.org_id, uid)
    except DashboardNotFound:
        raise NotFound("Dashboard not found") from None
    return {"title": gone.title, "message": f"Dashboard {gone.title} deleted", "id": gone.id}


def get_dashboard_by_uid(uid: str) -> JSON:
    who = deps.caller()
    try:
        doc = deps.store().dashboard_document(who.org_id, uid)
    except DashboardNotFound:
        raise NotFound("Dashboard not found") from None
    return views.dashboard_full(doc, org_role=who.org_role, is_user=who.is_user)
