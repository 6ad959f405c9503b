"""Operations tagged `users`: Grafana-admin reads and writes of any user (/api/users...)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from handlers import deps, versions, views
from handlers.errors import BadRequest, NotFound, Unauthorized
from handlers.profiles import GO_TRUE, apply_update, profile
from handlers.store import NotAMember, PatternTooLong, UserNotFound
from handlers.store.users import SORT_COLUMNS

JSON = dict[str, Any]
SEARCH_PAGE_SIZE = 1000


def _parse_sort(sort: str | None) -> list[tuple[str, bool]]:
    """`login-asc,email-desc` -> [("login", False), ("email", True)]; unknown is a 400."""
    if sort is None or sort == "":
        return []
    options = []
    for item in sort.split(","):
        key, _, direction = item.rpartition("-")
        if key not in SORT_COLUMNS or direction not in ("asc", "desc"):
            raise BadRequest("Bad request", message_id="unknown sorting option")
        options.append((key, direction == "desc"))
    return options


ACTIVE_DAYS = 30


def _search(
    perpage: int, page: int, query: str | None, sort: str | None, active: str | None
) -> JSON:
    # Grafana: a page size of zero or less means 1000, a page below 1 means 1.
    per_page = perpage if perpage > 0 else SEARCH_PAGE_SIZE
    page = max(page, 1)
    now = deps.clock().now()
    since = now - timedelta(days=ACTIVE_DAYS) if active in GO_TRUE else None
    try:
        result = deps.store().search_users(
            query=query or "",
            page=page,
            per_page=per_page,
            sort=_parse_sort(sort),
            active_since=since,
        )
    except PatternTooLong:  # beyond the database's limit: the client's fault, not a 500
        raise BadRequest() from None
    return {
        "totalCount": result.total_count,
        "users": [views.search_hit(u, now=now) for u in result.items],
        "page": result.page,
        "perPage": result.per_page,
    }


def search_users(
    perpage: int = SEARCH_PAGE_SIZE,
    page: int = 1,
    query: str | None = None,
    sort: str | None = None,
    active_last30_days: str | None = None,
) -> list[JSON]:
    users: list[JSON] = _search(perpage, page, query, sort, active_last30_days)["users"]
    return users


def search_users_with_paging(
    perpage: int = SEARCH_PAGE_SIZE,
    page: int = 1,
    query: str | None = None,
    sort: str | None = None,
    active_last30_days: str | None = None,
) -> JSON:
    return _search(perpage, page, query, sort, active_last30_days)


def get_user_by_login_or_email(login_or_email: str) -> JSON:
    try:
        user = deps.store().find_user(login_or_email)
        return views.lookup_profile(user, empty_uid=versions.holds("lookup-empty-uid"))
    except UserNotFound:
        raise NotFound("user not found") from None


def get_user_by_id(user_id: int, accesscontrol: str | None = None) -> JSON:
    return profile(user_id, accesscontrol)


def update_user(user_id: int, body: JSON) -> JSON:
    return apply_update(user_id, body)


def get_user_org_list(user_id: int) -> list[JSON]:
    return [views.user_org(m) for m in deps.store().user_orgs(user_id)]


def get_user_teams(user_id: int) -> list[JSON]:
    who = deps.caller()
    # Only teams of the *caller's* current org are listed, as in Grafana.
    return [views.team(t) for t in deps.store().user_teams(user_id, who.org_id)]


def update_user_active_org(user_id: int, org_id: int) -> JSON:
    try:
        deps.store().set_active_org(user_id, org_id)
    except (NotAMember, UserNotFound):
        # Grafana answers 401, not 403 or 404, when the user is not in that org.
        raise Unauthorized("Not a valid organization") from None
    return views.message("Active organization changed")
