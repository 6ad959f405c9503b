"""Domain objects -> Grafana's camelCase JSON (avatarUrl, lastSeenAtAge, authLabels...)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from handlers.store.models import (
    Dashboard,
    DashboardDocument,
    OrgMember,
    OrgMembership,
    ServiceAccount,
    SessionToken,
    Team,
    TeamMembership,
    TokenInfo,
    User,
)

JSON = dict[str, Any]


def timestamp(value: datetime) -> str:
    """RFC 3339 in UTC, whole seconds, as Grafana renders times in a UTC container.
    The store's times are naive UTC (a page of users formats two per user: the fast path)."""
    if value.tzinfo is None:
        return value.isoformat() + "Z"
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def epoch(seconds: int) -> str:
    return timestamp(datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None))


def avatar_url(email: str) -> str:
    """Grafana's /avatar/<md5 of the lower-cased e-mail>; empty when there is no e-mail."""
    if not email:
        return ""
    return "/avatar/" + hashlib.md5(email.lower().encode()).hexdigest()


def team_avatar_url(email: str, name: str) -> str:
    """Teams without an e-mail hash their name, stripped to letters and digits, @localhost."""
    return avatar_url(email or re.sub(r"[^A-Za-z0-9]", "", name) + "@localhost")


def age(since: datetime, now: datetime) -> str:
    """Grafana's lastSeenAtAge words: "10 years", "1 month", "3 days", "< 1 minute"."""
    minutes = int((now - since).total_seconds() // 60)
    for unit, size in (
        ("year", 525600),
        ("month", 43800),
        ("day", 1440),
        ("hour", 60),
        ("minute", 1),
    ):
        count = minutes // size
        if count >= 1:
            return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
    return "< 1 minute"


def user_profile(user: User, *, is_external: bool = False) -> JSON:
    body: JSON = {
        "id": user.id,
        "uid": user.uid,
        "email": user.email,
        "name": user.name,
        "login": user.login,
        "theme": user.theme,
        "orgId": user.org_id,
        "isGrafanaAdmin": user.is_admin,
        "isDisabled": user.is_disabled,
        "isExternal": is_external,
        "isExternallySynced": False,
        "isGrafanaAdminExternallySynced": False,
        "authLabels": list(user.auth_labels),
        "updatedAt": timestamp(user.updated),
        "createdAt": timestamp(user.created),
        "avatarUrl": avatar_url(user.email),
    }
    if not user.org_id:
        del body["orgId"]  # Grafana omits orgId when it is 0
    return body


def lookup_profile(user: User, *, empty_uid: bool) -> JSON:
    """Lookup builds the profile from the bare user row: no labels or avatar (and no uid
    in releases with lookup-empty-uid)."""
    body = user_profile(user)
    body.update(authLabels=None, avatarUrl="")
    if empty_uid:
        body["uid"] = ""
    return body


def search_hit(user: User, *, now: datetime) -> JSON:
    return {
        "id": user.id,
        "uid": user.uid,
        "name": user.name,
        "login": user.login,
        "email": user.email,
        "avatarUrl": avatar_url(user.email),
        "isAdmin": user.is_admin,
        "isDisabled": user.is_disabled,
        "lastSeenAt": timestamp(user.last_seen_at),
        "lastSeenAtAge": age(user.last_seen_at, now),
        "authLabels": list(user.auth_labels),
    }


def user_org(membership: OrgMembership) -> JSON:
    return {"orgId": membership.org_id, "name": membership.name, "role": membership.role}


def org_user(member: OrgMember, *, now: datetime, access: dict[str, bool] | None = None) -> JSON:
    """One user of GET /api/orgs/:orgId/users (Grafana's OrgUserDTO; accessControl is
    omitted when empty)."""
    user = member.user
    body: JSON = {
        "orgId": member.org_id,
        "userId": user.id,
        "uid": user.uid,
        "email": user.email,
        "name": user.name,
        "avatarUrl": avatar_url(user.email),
        "login": user.login,
        "role": member.role,
        "lastSeenAt": timestamp(user.last_seen_at),
        "lastSeenAtAge": age(user.last_seen_at, now),
        "isDisabled": user.is_disabled,
        "authLabels": list(user.auth_labels) or None,  # Go's nil slice without a label
        "isExternallySynced": False,
        "isProvisioned": False,
    }
    if access:
        body["accessControl"] = dict(access)
    return body


def team_member(member: TeamMembership) -> JSON:
    """One member of GET /api/teams/:teamId/members (Grafana's TeamMemberDTO)."""
    user = member.user
    return {
        "orgId": member.org_id,
        "teamId": member.team_id,
        "teamUID": member.team_uid,
        "userId": user.id,
        "userUID": user.uid,
        "auth_module": member.auth_module,
        "email": user.email,
        "name": user.name,
        "login": user.login,
        "avatarUrl": avatar_url(user.email),
        "labels": [],
        "permission": member.permission,
    }


def team(t: Team, *, access: dict[str, bool] | None = None) -> JSON:
    return {
        "id": t.id,
        "uid": t.uid,
        "orgId": t.org_id,
        "name": t.name,
        "email": t.email,
        "externalUID": "",
        "isProvisioned": False,
        "avatarUrl": team_avatar_url(t.email, t.name),
        "memberCount": t.member_count,
        "permission": t.permission,
        "accessControl": dict(access) if access else None,
    }


@lru_cache(maxsize=1024)
def _agent(user_agent: str) -> tuple[str, str, str, str, str]:
    """Browser, browser version, OS, OS version, device; "Other" where unknown (uap rules)."""
    from ua_parser import parse as parse_user_agent  # on first use: not at start-up

    result = parse_user_agent(user_agent)
    ua, os_, device = result.user_agent, result.os, result.device

    def version(major: str | None, minor: str | None) -> str:
        if not major:
            return ""
        return f"{major}.{minor}" if minor else major

    return (
        ua.family if ua else "Other",
        version(ua.major, ua.minor) if ua else "",
        os_.family if os_ else "Other",
        version(os_.major, os_.minor) if os_ else "",
        device.family if device else "Other",
    )


def auth_token(token: SessionToken, *, current_session: int | None) -> JSON:
    browser, browser_version, os_name, os_version, device = _agent(token.user_agent)
    return {
        "id": token.id,
        "isActive": token.id == current_session,
        "clientIp": token.client_ip,
        "browser": browser,
        "browserVersion": browser_version,
        "os": os_name,
        "osVersion": os_version,
        "device": device,
        "authModule": "",
        "createdAt": epoch(token.created_at),
        "seenAt": epoch(token.seen_at or token.created_at),
    }


def dashboard_saved(d: Dashboard) -> JSON:
    return {
        "id": d.id,
        "uid": d.uid,
        "url": f"/d/{d.uid}/{d.slug}",
        "status": "success",
        "version": d.version,
        "slug": d.slug,
        "folderUid": d.folder_uid,
    }


# Go's zero time, which Grafana sends as the expiry of a dashboard that never expires.
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def dashboard_full(doc: DashboardDocument, *, org_role: str, is_user: bool) -> JSON:
    """GET /api/dashboards/uid/:uid: the saved model with its stored id, uid, title and
    version, and Grafana's meta for a dashboard of the General folder; what the caller may
    do follows from their org role (Editors edit and delete, Admins also administer)."""
    d = doc.dashboard
    edits = org_role in ("Editor", "Admin")
    return {
        "dashboard": {**doc.data, "id": d.id, "uid": d.uid, "title": d.title, "version": d.version},
        "meta": {
            "type": "db",
            "canSave": edits,
            "canEdit": edits,
            "canAdmin": org_role == "Admin",
            "canStar": is_user,
            "canDelete": edits,
            "slug": d.slug,
            "url": f"/d/{d.uid}/{d.slug}",
            "expires": _GO_ZERO_TIME,
            "created": timestamp(doc.created),
            "updated": timestamp(doc.updated),
            "version": d.version,
            "isFolder": False,
            "folderId": 0,
            "folderUid": d.folder_uid,
            "folderTitle": "General",
            "folderUrl": "",
            "provisioned": False,
            "provisionedExternalId": "",
        },
    }


# Grafana reports how long a token has left only within its last seven days.
_SEVEN_DAYS = 7 * 24 * 3600


def sa_token(token: TokenInfo, *, now: float) -> JSON:
    """One token of GET /api/serviceaccounts/:id/tokens (Grafana's TokenDTO)."""
    expired = token.expires is not None and token.expires < now
    left = 0.0
    if token.expires is not None and not expired and token.expires < now + _SEVEN_DAYS:
        left = token.expires - now
    return {
        "id": token.id,
        "name": token.name,
        "created": timestamp(token.created),
        "lastUsedAt": None,
        "expiration": None if token.expires is None else epoch(token.expires),
        "secondsUntilExpiration": left,
        "hasExpired": expired,
        "isRevoked": token.is_revoked,
    }


def service_account(sa: ServiceAccount) -> JSON:
    return {
        "id": sa.id,
        "uid": sa.uid,
        "name": sa.name,
        "login": sa.login,
        "orgId": sa.org_id,
        "isDisabled": sa.is_disabled,
        "role": sa.role,
        "tokens": sa.tokens,
        "avatarUrl": avatar_url(sa.login),
    }


def message(text: str, **extra: Any) -> JSON:
    return {"message": text, **extra}
