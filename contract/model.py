"""The contract's operations, access rules and tolerances as typed values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Who may call an operation (`x-grafana-access.who`), from the least to the most demanding.
ANONYMOUS = "anonymous"  # no credentials needed
SIGNED_IN = "signed-in"  # any authenticated identity, service accounts included
USER = "user"  # a signed-in user; other identities get the `nonUser` answer
ORG_ROLE = "org-role"  # at least `orgRole` in an organization (Grafana Admins pass)
GRAFANA_ADMIN = "grafana-admin"  # a Grafana server administrator
WHO = (ANONYMOUS, SIGNED_IN, USER, ORG_ROLE, GRAFANA_ADMIN)
ORG_ROLES = ("None", "Viewer", "Editor", "Admin")  # Grafana's org roles, lowest first
DENIALS = ("rbac", "plain")  # 403 body: role-based access-denied body, or {"message"}


class ContractError(ValueError):
    """openapi.yaml breaks one of the rules this reader relies on."""


@dataclass(frozen=True)
class Refusal:
    """How a caller the access rule keeps out is answered."""

    status: int
    message: str | None  # None: no body (304)
    rbac: bool = False  # the role-based access-denied body (accessErrorId, title)


@dataclass(frozen=True)
class Access:
    """`x-grafana-access`: who may call an operation, as Grafana declares it at route
    registration, with the RBAC action and scope Grafana checks."""

    who: str
    source: str
    org_role: str | None = None
    org_parameter: str | None = None  # a path parameter naming the org; None: the current org
    action: str | None = None
    scope: str | None = None
    denial: str = "plain"
    denial_message: str = "Permission denied"
    non_user: Refusal | None = None  # with who == USER: how other identities are answered

    def refusal(self, *, is_user: bool, is_admin: bool, org_role: str | None) -> Refusal | None:
        """None when an authenticated caller with these facts may call the operation.

        `org_role` is the caller's role in the organization the rule names (the current one
        unless `org_parameter` is set)."""
        if self.who in (ANONYMOUS, SIGNED_IN):
            return None
        if self.who == USER:
            return None if is_user else self.non_user
        if is_admin:
            return None
        if self.who == ORG_ROLE and _rank(org_role) >= _rank(self.org_role):
            return None
        if self.denial == "rbac":
            return Refusal(403, self.rbac_message, rbac=True)
        return Refusal(403, self.denial_message)

    @property
    def rbac_message(self) -> str:
        """Grafana's role-based denial text, naming the permission the caller lacks."""
        return (
            "You'll need additional permissions to perform this action. "
            f"Permissions needed: {self.action}"
        )

    @property
    def needs_credentials(self) -> bool:
        return self.who != ANONYMOUS


def _rank(role: str | None) -> int:
    return ORG_ROLES.index(role) if role in ORG_ROLES else 0


@dataclass(frozen=True)
class Relaxation:
    """What a tolerance relaxes: a schemathesis check, extra statuses, required fields, a
    value format, or the shape of a 403 body."""

    check: str | None = None
    statuses: frozenset[int] = frozenset()
    required: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    formats: Mapping[str, str] = field(default_factory=dict)
    either_403_body: bool = False  # a 403 may have either body shape


@dataclass(frozen=True)
class Tolerance:
    """A legitimate difference of some Grafana versions, stated once in the contract."""

    name: str
    description: str
    relaxes: Relaxation
    versions: frozenset[str]  # Grafana majors that need it


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # template, e.g. /api/users/{user_id}
    tag: str
    statuses: frozenset[int]
    access: Access
    tolerances: frozenset[str]
    semantic_statuses: frozenset[int]  # schema-valid requests may get these
    created: Mapping[str, str]  # linked parameter -> JSON pointer in the 2xx body
    thin_profile: bool  # answers a profile with the derived fields (uid, avatarUrl) empty
    parameters: tuple[Mapping[str, Any], ...]  # path-level and own, references resolved
    request_example: Any  # the request body's first example; None without one
    # Grafana's 400 for a parameter value it cannot use: name -> (message, messageId)
    invalid: Mapping[str, tuple[str, str | None]]
    deprecated: bool
    raw: Mapping[str, Any]
    pattern: re.Pattern[str]

    @property
    def label(self) -> str:
        """schemathesis's name for the operation, e.g. `GET /api/users/{user_id}`."""
        return f"{self.method} {self.path}"

    @property
    def secured(self) -> bool:
        return self.access.needs_credentials

    @property
    def is_read(self) -> bool:
        return self.method == "GET"

    def path_parameters(self) -> tuple[str, ...]:
        return tuple(re.findall(r"\{([^}]+)\}", self.path))

    def path_values(self, path: str) -> dict[str, str]:
        """The path parameters of a concrete request path (empty when it does not match)."""
        names = self.path_parameters()
        found = self.pattern.match(path)
        return dict(zip(names, found.groups(), strict=True)) if found else {}


@dataclass(frozen=True)
class Contract:
    raw: Mapping[str, Any]
    operations: tuple[Operation, ...]
    tolerances: Mapping[str, Tolerance]

    def __getitem__(self, operation_id: str) -> Operation:
        for operation in self.operations:
            if operation.operation_id == operation_id:
                return operation
        raise KeyError(operation_id)

    def match(self, method: str, path: str) -> Operation | None:
        """The operation a concrete request is routed to; static paths win, as in Grafana."""
        candidates = [
            op for op in self.operations if op.method == method.upper() and op.pattern.match(path)
        ]
        candidates.sort(key=lambda op: op.path.count("{"))
        return candidates[0] if candidates else None

    def tolerances_for(self, version: str) -> frozenset[str]:
        """The tolerances a Grafana major version needs (KeyError: no such profile)."""
        major = version.split(".")[0]
        if major not in self.versions:
            raise KeyError(major)
        return frozenset(t.name for t in self.tolerances.values() if major in t.versions)

    @property
    def versions(self) -> tuple[str, ...]:
        """Grafana majors the contract has a tolerance profile for."""
        found = {v for t in self.tolerances.values() for v in t.versions}
        return tuple(sorted(found, key=int))

    def relaxed(self, operation: Operation, applied: frozenset[str]) -> list[Relaxation]:
        """The relaxations in force for an operation, given the applied tolerances."""
        return [self.tolerances[n].relaxes for n in sorted(operation.tolerances & applied)]

    def body_schema(self, operation: Operation, status: str = "200") -> str | None:
        """The component schema a response body is (`UserProfile`), or holds a list of
        (`[UserSearchHit]`); None for anything else."""
        response: Any = operation.raw["responses"].get(status)
        if isinstance(response, Mapping) and "$ref" in response:
            response = self.raw["components"]["responses"][response["$ref"].rpartition("/")[2]]
        schema = (response or {}).get("content", {}).get("application/json", {}).get("schema")
        if not isinstance(schema, Mapping):
            return None
        if "$ref" in schema:
            return str(schema["$ref"]).rpartition("/")[2]
        items = schema.get("items") if schema.get("type") == "array" else None
        if isinstance(items, Mapping) and "$ref" in items:
            return f"[{str(items['$ref']).rpartition('/')[2]}]"
        return None

    def extra_statuses(self, operation_id: str, applied: frozenset[str]) -> frozenset[int]:
        """Statuses the applied tolerances accept for an operation besides the contract's."""
        found: set[int] = set()
        for relaxation in self.relaxed(self[operation_id], applied):
            found |= relaxation.statuses
        return frozenset(found)
