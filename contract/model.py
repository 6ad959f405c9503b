"""The contract's operations, access rules and Grafana version differences as typed values."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
    """What accepting a difference relaxes: extra statuses, required fields (which the
    releases with it lack), or the shape of a 403 body."""

    statuses: frozenset[int] = frozenset()
    required: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    either_403_body: bool = False  # a 403 may have either body shape


Release = tuple[int, ...]  # a Grafana version as numbers: "11.4" -> (11, 4)


def release(version: str) -> Release:
    """`"11.4"` -> (11, 4); ValueError for anything that is not dotted numbers."""
    parts = version.strip().removeprefix("v").split(".")
    if not all(part.isdigit() for part in parts):
        raise ValueError(f"not a Grafana version: {version!r} (e.g. 11, 11.4, 12.0)")
    return tuple(int(part) for part in parts)


@dataclass(frozen=True)
class Answer:
    """What Grafana answers in one situation: a status, and the message when there is one."""

    status: int
    message: str | None = None


@dataclass(frozen=True)
class Difference:
    """A behaviour some Grafana versions have and others do not, stated once in the contract
    (`x-grafana-differences`) with the Grafana source it was read from.

    `since`/`until` bound the releases that behave this way (inclusive; None: no bound).
    The operations naming the difference are where it shows. In those releases:

    * `answer` is what Grafana answers in the difference's situation (`otherwise`: what
      the other releases answer there), for the server and the suite's fingerprints;
    * `access` replaces keys of the operations' `x-grafana-access`;
    * `absent`: the operations are not served at all (404);
    * `resolves_uids`: the operations take a user's uid where `user_id` is no integer;
    * `relaxes`: what a conformance run that accepts the difference loosens.
    """

    name: str
    description: str
    source: str
    since: str | None
    until: str | None
    relaxes: Relaxation
    answer: Answer | None = None
    otherwise: Answer | None = None
    access: Mapping[str, Any] = field(default_factory=dict)
    absent: bool = False
    # the operations naming it take a user's uid for `user_id` (`answer`: none has it)
    resolves_uids: bool = False

    def holds_in(self, version: str) -> bool:
        """Whether Grafana `version` (a release the contract lists) behaves this way."""
        at = release(version)
        return (self.since is None or release(self.since) <= at) and (
            self.until is None or at <= release(self.until)
        )

    @property
    def span(self) -> str:
        """The releases in words: `11.4 and later`, `up to 11.3`, `11.0 to 11.3`."""
        if self.since and self.until:
            return f"{self.since} to {self.until}"
        if self.since:
            return f"{self.since} and later"
        return f"up to {self.until}" if self.until else "every release"


@dataclass(frozen=True)
class GrafanaRelease:
    """One Grafana release the contract describes (`x-grafana-versions.releases`)."""

    version: str  # "11.4"
    health: str  # the version /api/health reports, e.g. "11.4.0"
    source: str  # where its behaviour was read


@dataclass(frozen=True)
class Versions:
    """The Grafana releases the contract can describe, oldest first."""

    releases: tuple[GrafanaRelease, ...]

    @property
    def newest(self) -> str:
        return self.releases[-1].version

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.version for r in self.releases)

    def resolve(self, asked: str) -> str:
        """The release a version names: itself when listed, a major its last listed minor
        (`11` -> `11.6`), an unlisted minor the listed one before it in its major (`11.5`
        -> `11.4`). ValueError for a version the contract does not describe."""
        wanted = release(asked)
        same_major = [r.version for r in self.releases if release(r.version)[0] == wanted[0]]
        candidates = [v for v in same_major if release(v) <= wanted or len(wanted) == 1]
        if not candidates:
            known = ", ".join(self.names)
            raise ValueError(f"Grafana {asked} is not described by the contract (known: {known})")
        return candidates[-1]

    def __getitem__(self, version: str) -> GrafanaRelease:
        for found in self.releases:
            if found.version == version:
                return found
        raise KeyError(version)


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # template, e.g. /api/users/{user_id}
    tag: str
    statuses: frozenset[int]
    access: Access
    differences: frozenset[str]  # the names of the version differences that show here
    semantic_statuses: frozenset[int]  # schema-valid requests may get these
    created: Mapping[str, str]  # linked parameter -> JSON pointer in the 2xx body
    thin_profile: bool  # answers a profile with the derived fields (uid, avatarUrl) empty
    parameters: tuple[Mapping[str, Any], ...]  # path-level and own, references resolved
    request_example: Any  # the request body's first example; None without one
    # Grafana's 400 for a parameter value it cannot use: name -> (message, messageId)
    invalid: Mapping[str, tuple[str, str | None]]
    # query integers Grafana reads leniently (x-grafana-lenient): a non-integer is ignored
    lenient: frozenset[str]
    deprecated: bool
    raw: Mapping[str, Any]
    pattern: re.Pattern[str]
    # 5xx answers every release gives by design (x-grafana-server-errors): (status, message)
    server_errors: frozenset[tuple[int, str]] = frozenset()
    # difference name -> the operation's access rule in the releases with that difference
    access_by_difference: Mapping[str, Access] = field(default_factory=dict)
    served: bool = True  # False in a release that does not serve it (404)
    written_access: Access | None = None  # `access` as written (the newest release's)

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
class OrgSelection:
    """`x-grafana-org-selection`: how a request picks the organization it runs in, for
    that request only (Grafana's authn service reads it before any client runs)."""

    query: str  # the query parameter, read first (values above 0 only)
    header: str  # the header, read when the query parameter picks none
    token_mismatch: Answer  # a token whose org is not the one asked for
    token_mismatch_id: str  # that answer's messageId


@dataclass(frozen=True)
class Contract:
    """The contract as one Grafana release answers it: `version` (the newest unless
    `as_version` chose another), with the access rules and served operations of that
    release. `raw` is the document as written (it describes the newest release)."""

    raw: Mapping[str, Any]
    operations: tuple[Operation, ...]
    differences: Mapping[str, Difference]
    versions: Versions
    version: str

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

    @functools.cached_property
    def org_selection(self) -> OrgSelection:
        """How a request picks its organization (`x-grafana-org-selection`)."""
        body = self.raw.get("x-grafana-org-selection")
        if not isinstance(body, Mapping):
            raise ContractError("no x-grafana-org-selection")
        mismatch = body["token-mismatch"]
        return OrgSelection(
            query=str(body["query"]),
            header=str(body["header"]),
            token_mismatch=Answer(int(mismatch["status"]), str(mismatch["message"])),
            token_mismatch_id=str(mismatch["messageId"]),
        )

    def _access_metadata(self, key: str) -> tuple[str, ...]:
        body = self.raw.get("x-grafana-access-metadata")
        if not isinstance(body, Mapping) or key not in body:
            raise ContractError(f"no x-grafana-access-metadata.{key}")
        return tuple(str(action) for action in body[key])

    @functools.cached_property
    def admin_user_actions(self) -> tuple[str, ...]:
        """The actions a Grafana Admin holds on every user (scope `global.users:*`), which
        `accesscontrol=true` lists as a user's metadata (`x-grafana-access-metadata`)."""
        return self._access_metadata("grafanaAdminUserActions")

    @functools.cached_property
    def org_admin_team_actions(self) -> tuple[str, ...]:
        """An org Admin's actions on every team of the org (scope `teams:*`)."""
        return self._access_metadata("orgAdminTeamActions")

    @functools.cached_property
    def org_admin_org_user_actions(self) -> tuple[str, ...]:
        """An org Admin's (and a Grafana Admin's) actions on every user of an org."""
        return self._access_metadata("orgAdminOrgUserActions")

    @functools.cached_property
    def active(self) -> frozenset[str]:
        """The differences this release has (worked out once: handlers ask per request)."""
        return self.active_at(self.version)

    def differs(self, name: str) -> Difference | None:
        """The named difference when this release has it, else None."""
        if name not in self.differences:
            raise KeyError(f"the contract defines no difference {name!r}")
        return self.differences[name] if name in self.active else None

    def active_at(self, version: str) -> frozenset[str]:
        """The differences a listed release has."""
        return frozenset(n for n, d in self.differences.items() if d.holds_in(version))

    def as_version(self, asked: str | None) -> Contract:
        """The contract as Grafana `asked` answers it (None: the newest). ValueError for a
        version the contract does not describe."""
        version = self.versions.resolve(asked) if asked else self.versions.newest
        active = self.active_at(version)
        operations = []
        for op in self.operations:
            access = next(
                (a for n, a in sorted(op.access_by_difference.items()) if n in active),
                op.written_access or op.access,
            )
            absent = any(self.differences[n].absent for n in op.differences & active)
            operations.append(replace(op, access=access, served=not absent))
        return replace(self, operations=tuple(operations), version=version)

    def answer(self, name: str, accepted: frozenset[str] | None = None) -> Answer | None:
        """What the named difference states for a release that has it when it is
        `accepted` (default: when this release has it): its `answer`, else `otherwise`."""
        difference = self.differences[name]
        has = name in (self.active if accepted is None else accepted)
        return difference.answer if has else difference.otherwise

    def stated(
        self, operation: Operation, accepted: frozenset[str] | None = None
    ) -> set[tuple[int, str | None]]:
        """The answers (status, message) the operation's version differences state (see
        `answer`), and the server errors every release answers it with by design."""
        found = (self.answer(name, accepted) for name in operation.differences)
        stated = {(a.status, a.message) for a in found if a is not None}
        return stated | set(operation.server_errors)

    def tolerances_for(self, version: str) -> frozenset[str]:
        """The differences Grafana `version` has (ValueError: not described)."""
        return self.active_at(self.versions.resolve(version))

    def relaxed(self, operation: Operation, applied: frozenset[str]) -> list[Relaxation]:
        """The relaxations in force for an operation, given the accepted differences."""
        return [self.differences[n].relaxes for n in sorted(operation.differences & applied)]

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
