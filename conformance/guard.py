"""Keeps generated requests away from anything the run did not create.

Before a generated request is sent, ids in its path are pointed at the run's throwaway
resources (or at an id that cannot exist), and names in its body get the run's prefix, so
fuzzing can never touch a real user, org, team or dashboard, nor send a wrong password for
a real login. (What a request creates goes into the world's ledger, see World.ledger.)
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from conformance.world import World
from contract import Operation

GHOST_ID = 987_654_321_987  # no Grafana has this many rows
_INTEGER = re.compile(r"^[+-]?\d+$")
JSON = dict[str, Any]
# Body fields that name a user, an org, a team, a token or a login: given the run's prefix.
NAMING_FIELDS = ("login", "email", "name", "user", "loginOrEmail")


def _pool(*values: object) -> list[object]:
    return list(values)


def _choose(value: object, pool: Sequence[object]) -> object:
    return pool[zlib.crc32(repr(value).encode()) % len(pool)]


class UnguardedParameter(LookupError):
    """A path parameter the guard has no safe values for: the request is not sent."""


class Guard:
    """Rewrites generated requests so that they only reach the run's own resources.

    Path ids come from pools chosen by the parameter's name and what the operation does
    (reads may see any seeded user; writes only victims; deletes only doomed resources);
    a parameter the guard does not know fails closed. Body fields that name something
    (logins, e-mails, names, titles, members) get the run's prefix or a victim's id.
    """

    def __init__(self, world: World) -> None:
        self.world = w = world
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
        return _pool(w.org, w.main_org, w.spare_orgs[0], GHOST_ID)  # switching to it

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
        if isinstance(value, int):
            return _choose(value, pool) if value > 0 else value
        if isinstance(value, str) and _INTEGER.match(value):
            return str(_choose(value, pool)) if int(value) > 0 else value
        if isinstance(value, str) and all(isinstance(p, str) for p in pool):
            return _choose(value, pool) if 0 < len(value) <= 40 else value
        # Anything else cannot name a real resource once it carries the prefix.
        return f"{self.world.prefix}{value}" if isinstance(value, str) else value

    def _prefix_fields(self, body: JSON, *keys: str) -> None:
        for key in keys:
            value = body.get(key)
            if isinstance(value, str) and value.strip() and not value.startswith(self.world.prefix):
                body[key] = f"{self.world.prefix}{value}"

    def _dashboard(self, dashboard: JSON) -> None:
        self._prefix_fields(dashboard, "title")
        if isinstance(dashboard.get("id"), int):
            dashboard["id"] = None  # never address an existing dashboard by id
        uid = dashboard.get("uid")
        if isinstance(uid, str) and uid.strip():
            dashboard["uid"] = f"{self.world.prefix}{uid}"[:40]

    def name_fields(self, body: JSON) -> None:
        """Give every name in a request body the run's prefix, in place."""
        self._prefix_fields(body, *NAMING_FIELDS)
        dashboard = body.get("dashboard")
        if isinstance(dashboard, dict):
            self._dashboard(dashboard)
        user_id = body.get("userId")
        if isinstance(user_id, int) and not isinstance(user_id, bool) and user_id > 0:
            body["userId"] = _choose(user_id, self.world.writable_user_ids())

    def apply(self, operation: Operation, path_parameters: JSON | None, body: object) -> None:
        """Rewrite a generated request in place (UnguardedParameter: do not send it)."""
        for name in operation.path_parameters():
            if path_parameters is not None and name in path_parameters:
                pool = self.pool(operation, name)
                path_parameters[name] = self._safe_id(path_parameters[name], pool)
        if isinstance(body, dict):
            self.name_fields(body)
