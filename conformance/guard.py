"""Keeps generated requests away from anything the run did not create.

Before a generated request is sent, ids in its path are pointed at the run's throwaway
resources (or at an id that cannot exist), and every field of its body that names a user,
an org, a team or a login is given the run's prefix or a throwaway resource's id, so
fuzzing can never touch a real user, org, team or dashboard, nor send a password for a
real login. Page sizes are brought down to paging.MAX_PAGE_SIZE. (What a request creates
goes into the world's ledger, see World.ledger.)

Body fields are read as Grafana's JSON decoder reads them: `USERID`, `userid` and `userId`
all fill the same field, so the guard matches them all. A field the guard has no rule for
fails closed: when the contract declares it, the request is refused (UnguardedBodyField:
teach the guard); when it is an extra one the fuzzer made up and its name could name
something (…Id, …Uid, …Login, …Email, …Name, …User, …Org, …Team), it is removed.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from conformance import paging
from conformance.text import json_key
from conformance.world import World
from contract import Contract, Operation

GHOST_ID = 987_654_321_987  # no Grafana has this many rows
_INTEGER = re.compile(r"^[+-]?\d+$")
_INT64_MAX = 2**63 - 1
JSON = dict[str, Any]

# What the guard does with each top-level body field the contract declares, by the field's
# name as Go's JSON decoder folds it.
PREFIXED = "prefixed"  # names something new or looked up by name: gets the run's prefix
USER_ID, ORG_ID, TEAM_ID = "user id", "org id", "team id"  # point at throwaway resources
DASHBOARD = "dashboard"  # the dashboard model: its id, uid and title (see _dashboard)
HARMLESS = "harmless"  # cannot name anything outside the run (the reason is beside each)
RULES: dict[str, str] = {
    json_key(name): rule
    for name, rule in {
        "login": PREFIXED,
        "email": PREFIXED,
        "name": PREFIXED,
        "loginOrEmail": PREFIXED,  # an org member by login or e-mail: only prefixed names
        "userId": USER_ID,
        "orgId": ORG_ID,
        "teamId": TEAM_ID,
        "dashboard": DASHBOARD,
        # Passwords of victims, of new users, and the actor's own change (its current
        # password is never generated, so nothing changes).
        "password": HARMLESS,
        "oldPassword": HARMLESS,
        "newPassword": HARMLESS,
        "confirmNew": HARMLESS,
        "role": HARMLESS,  # a role in the run's org, or of a new service account
        "theme": HARMLESS,
        "isGrafanaAdmin": HARMLESS,  # of a victim (the path's user id)
        "isDisabled": HARMLESS,  # of a new service account
        "overwrite": HARMLESS,  # dashboards are saved in the run's org (root's current one)
        "message": HARMLESS,
        "folderUid": HARMLESS,  # a folder of the run's org: it has only the run's own
        "folderId": HARMLESS,
        "secondsToLive": HARMLESS,
        # A session of the caller, or of a victim: Grafana checks whose it is.
        "authTokenId": HARMLESS,
        "remember": HARMLESS,
    }.items()
}
# POST /login: the fuzzer signs in only as the throwaway signer, with its own password.
LOGIN_USER, LOGIN_PASSWORD = json_key("user"), json_key("password")
# Names of fields that could name a user, an org, a team or a login (folded, as suffixes).
_NAMING = re.compile(r"(ID|IDS|UID|UIDS|LOGIN|EMAIL|NAME|USER|USERS|ORG|ORGS|TEAM|TEAMS)$")


def _pool(*values: object) -> list[object]:
    return list(values)


def _choose(value: object, pool: Sequence[object]) -> object:
    return pool[zlib.crc32(repr(value).encode()) % len(pool)]


class UnguardedParameter(LookupError):
    """A path parameter the guard has no safe values for: the request is not sent."""


class UnguardedBodyField(UnguardedParameter):
    """A body field the contract declares and the guard has no rule for: not sent."""


def _resolve(raw: Mapping[str, Any], node: Any) -> Any:
    seen = 0
    while isinstance(node, Mapping) and "$ref" in node and seen < 20:
        target: Any = raw
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node, seen = target, seen + 1
    return node


def declared_body_fields(contract: Contract, operation: Operation) -> frozenset[str]:
    """The top-level properties of the operation's JSON request body, as the contract
    declares them (empty without one)."""
    body = _resolve(contract.raw, operation.raw.get("requestBody"))
    if not isinstance(body, Mapping):
        return frozenset()
    content = body.get("content", {}).get("application/json", {})
    schema = _resolve(contract.raw, content.get("schema"))
    if not isinstance(schema, Mapping):
        return frozenset()
    names: set[str] = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= set(_resolve(contract.raw, part).get("properties", {}))
    return frozenset(names)


def unguarded_fields(contract: Contract) -> dict[str, list[str]]:
    """Declared body fields the guard has no rule for, by operation (should be none)."""
    found: dict[str, list[str]] = {}
    for operation in contract.operations:
        if operation.path == "/login":
            continue  # the sign-in form has a rule of its own
        missing = [f for f in declared_body_fields(contract, operation) if json_key(f) not in RULES]
        if missing:
            found[operation.operation_id] = sorted(missing)
    return found


class Guard:
    """Rewrites generated requests so that they only reach the run's own resources.

    Path ids come from pools chosen by the parameter's name and what the operation does
    (reads may see any seeded user; writes only victims; deletes only doomed resources);
    a parameter the guard does not know fails closed. Body fields that name something
    (logins, e-mails, names, titles, members) get the run's prefix or a victim's id.
    """

    def __init__(self, world: World, contract: Contract | None = None) -> None:
        self.world = w = world
        self.contract = contract
        starred = w.dashboards[:2]
        self._pools: dict[str, Callable[[Operation], list[object]]] = {
            "user_id": self._users,
            "org_id": self._orgs,
            "team_id": lambda op: _pool(
                w.doomed_team.id if op.method == "DELETE" else w.spare_team.id, GHOST_ID
            ),
            "dashboard_id": lambda op: _pool(*(d.id for d in starred), GHOST_ID),
            "dashboard_uid": lambda op: [*(d.uid for d in starred), w.ghost_uid],
            "uid": lambda op: [w.doomed_dashboard.uid, w.ghost_uid],
            "serviceAccountId": lambda op: _pool(w.service_account_id, GHOST_ID),
            # Organizations by name are only read: the run's own, or one that cannot exist.
            "org_name": lambda op: [w.org_name, f"{w.prefix}ghost-org"],
        }
        self._body_pools: dict[str, Callable[[], list[object]]] = {
            USER_ID: lambda: _pool(*w.writable_user_ids()),
            # A new user joins the run's org (0 or less: the default org, as every new user).
            ORG_ID: lambda: _pool(w.org),
            TEAM_ID: lambda: _pool(w.spare_team.id, GHOST_ID),
        }

    def _users(self, operation: Operation) -> list[object]:
        w = self.world
        if operation.is_read:
            return [*w.readable_user_ids(), GHOST_ID]
        if operation.method == "DELETE":
            return _pool(*(a.id for a in w.doomed), GHOST_ID)
        return [*w.writable_user_ids(), GHOST_ID]

    def _orgs(self, operation: Operation) -> list[object]:
        w = self.world
        if operation.method == "DELETE":
            return _pool(*w.spare_orgs, GHOST_ID)
        if operation.access.org_parameter == "org_id":  # managing the org: the run's own
            return _pool(w.org, GHOST_ID)
        # Switching to it: the run's orgs only (the actor belongs to the first).
        return _pool(w.org, *w.spare_orgs, GHOST_ID)

    def pool(self, operation: Operation, parameter: str) -> list[object]:
        """The values a path parameter of this operation may take (UnguardedParameter)."""
        choose = self._pools.get(parameter)
        if choose is None:
            raise UnguardedParameter(
                f"{operation.label}: no safe values for path parameter {parameter!r}; "
                "teach conformance/guard.py where the run keeps such resources"
            )
        return choose(operation)

    def _safe_id(self, value: object, pool: Sequence[object]) -> object:
        if isinstance(value, bool):
            return value
        # Beyond int64 a value names nothing (Grafana refuses it): kept, so a request
        # meant to be refused is not made a valid one.
        if isinstance(value, int):
            return _choose(value, pool) if 0 < value <= _INT64_MAX else value
        if isinstance(value, str) and _INTEGER.match(value):
            return str(_choose(value, pool)) if 0 < int(value) <= _INT64_MAX else value
        if isinstance(value, str) and all(isinstance(p, str) for p in pool):
            return _choose(value, pool) if 0 < len(value) <= 40 else value
        # Anything else cannot name a real resource once it carries the prefix.
        return f"{self.world.prefix}{value}" if isinstance(value, str) else value

    def _prefixed(self, value: object) -> object:
        prefix = self.world.prefix
        if isinstance(value, str) and value.strip() and not value.startswith(prefix):
            return f"{prefix}{value}"
        return value

    def _dashboard(self, dashboard: JSON) -> None:
        # Grafana reads the dashboard model by exact keys (simplejson), not as a struct.
        if "title" in dashboard:
            dashboard["title"] = self._prefixed(dashboard["title"])
        if isinstance(dashboard.get("id"), int):
            dashboard["id"] = None  # never address an existing dashboard by id
        uid = dashboard.get("uid")
        if isinstance(uid, str) and uid.strip():
            dashboard["uid"] = f"{self.world.prefix}{uid}"[:40]

    def name_fields(self, body: JSON, declared: frozenset[str] | None = None) -> None:
        """Rewrite, in place, every body field that names something (see RULES); a field
        without a rule is refused when `declared` (None: every field is) and removed when
        it is a made-up one whose name could name something."""
        for key in list(body):
            rule = RULES.get(json_key(str(key)))
            if rule is None:
                if declared is None or key in declared:
                    if _NAMING.search(json_key(str(key))):
                        raise UnguardedBodyField(
                            f"body field {key!r} may name a resource and the guard has no "
                            "rule for it; teach conformance/guard.py (RULES)"
                        )
                elif _NAMING.search(json_key(str(key))):
                    del body[key]
                continue
            value = body[key]
            if rule == PREFIXED:
                body[key] = self._prefixed(value)
            elif rule in self._body_pools:
                body[key] = self._safe_id(value, self._body_pools[rule]())
            elif rule == DASHBOARD and isinstance(value, dict):
                self._dashboard(value)

    def sign_in_form(self, body: JSON) -> None:
        """POST /login: a complete form signs in as the throwaway signer with its real
        password (no failed login, no real account); an incomplete one loses its password,
        so that it is refused before any password is checked."""
        users = [k for k in body if json_key(str(k)) == LOGIN_USER]
        passwords = [k for k in body if json_key(str(k)) == LOGIN_PASSWORD]
        complete = all(isinstance(body[k], str) and body[k] for k in users + passwords)
        if users and passwords and complete:
            for key in users:
                body[key] = self.world.signer.login
            for key in passwords:
                body[key] = self.world.signer.password
            return
        for key in passwords:
            if isinstance(body[key], str) and body[key]:
                body[key] = ""

    def query(self, query: object) -> None:
        """Page sizes no larger than paging.MAX_PAGE_SIZE, in place."""
        if not isinstance(query, dict):
            return
        for name in paging.PAGE_SIZE_PARAMETERS:
            if name in query:
                query[name] = paging.bounded(query[name])

    def apply(
        self,
        operation: Operation,
        path_parameters: JSON | None,
        body: object,
        query: object = None,
    ) -> None:
        """Rewrite a generated request in place (UnguardedParameter: do not send it)."""
        for name in operation.path_parameters():
            if path_parameters is not None and name in path_parameters:
                pool = self.pool(operation, name)
                path_parameters[name] = self._safe_id(path_parameters[name], pool)
        self.query(query)
        if not isinstance(body, dict):
            return
        if operation.path == "/login":
            self.sign_in_form(body)
            return
        declared = (
            declared_body_fields(self.contract, operation) if self.contract is not None else None
        )
        self.name_fields(body, declared)
