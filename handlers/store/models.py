"""Domain objects the store hands out: frozen, snake_case, free of SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    uid: str
    login: str
    email: str
    name: str
    theme: str
    org_id: int
    is_admin: bool
    is_disabled: bool
    is_service_account: bool
    created: datetime
    updated: datetime
    last_seen_at: datetime
    password: str = field(repr=False, default="")
    salt: str = field(repr=False, default="")
    auth_labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total_count: int
    page: int
    per_page: int


@dataclass(frozen=True, slots=True)
class OrgMembership:
    org_id: int
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class Team:
    id: int
    uid: str
    org_id: int
    name: str
    email: str
    member_count: int
    permission: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    id: int
    uid: str
    org_id: int
    title: str
    slug: str
    folder_uid: str
    version: int


@dataclass(frozen=True, slots=True)
class SessionToken:
    id: int
    user_id: int
    user_agent: str
    client_ip: str
    created_at: int
    seen_at: int
    rotated_at: int


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    id: int
    uid: str
    name: str
    login: str
    org_id: int
    role: str
    is_disabled: bool
    tokens: int


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling: a user (by password or session) or a service account (by token)."""

    kind: str  # "user" | "service_account"
    user_id: int
    login: str
    org_id: int
    org_role: str
    is_admin: bool
    session_id: int | None = None
    # The user's row as read while authenticating this request (users only): handlers that
    # answer with the caller's own profile need not read it a second time.
    user: User | None = field(default=None, repr=False, compare=False)

    @property
    def is_user(self) -> bool:
        return self.kind == "user"


@dataclass(frozen=True, slots=True)
class OrgMember:
    """A user's membership of an org, as GET /api/orgs/:orgId/users lists it."""

    org_id: int
    user: User
    role: str


@dataclass(frozen=True, slots=True)
class DashboardDocument:
    """A dashboard with its saved JSON model and times."""

    dashboard: Dashboard
    data: dict[str, object]
    created: datetime
    updated: datetime


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A service-account token without its secret."""

    id: int
    name: str
    created: datetime
    expires: int | None  # Unix seconds; None: never
    is_revoked: bool


@dataclass(frozen=True, slots=True)
class TeamMembership:
    """A user's membership of a team, as GET /api/teams/:teamId/members lists it."""

    org_id: int
    team_id: int
    team_uid: str
    user: User
    permission: int
    auth_module: str
