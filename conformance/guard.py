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

GHOST_ID = 987_654_321_987  # no Grafana has this many rows
_INTEGER = re.compile(r"^[+-]?\d+$")
JSON = dict[str, Any]


def _pool(*values: object) -> list[object]:
    return list(values)


def _choose(value: object, pool: Sequence[object]) -> object:
    return pool[zlib.crc32(repr(value).encode()) % len(pool)]


class Guard:
    def __init__(self, world: World) -> None:
        self.world = world
        w = world
        readable: list[object] = [*w.readable_user_ids(), GHOST_ID]
        victims: list[object] = [*w.writable_user_ids(), GHOST_ID]
        starred = w.dashboards[:2]
        self.path_pools: dict[str, dict[str, list[object]]] = {
            **{
                op: {"user_id": readable}
                for op in ("getUserByID", "getUserOrgList", "getUserTeams")
            },
            **{
                op: {"user_id": victims}
                for op in (
                    "updateUser",
                    "adminUpdateUserPassword",
                    "adminUpdateUserPermissions",
                    "adminDisableUser",
                    "adminEnableUser",
                )
            },
            "updateUserActiveOrg": {
                "user_id": victims,
                "org_id": _pool(w.org, w.main_org, w.spare_orgs[0], GHOST_ID),
            },
            "adminDeleteUser": {"user_id": _pool(*(a.id for a in w.doomed), GHOST_ID)},
            "userSetUsingOrg": {"org_id": _pool(w.org, w.main_org, GHOST_ID)},
            "deleteOrgByID": {"org_id": _pool(*w.spare_orgs, GHOST_ID)},
            "addOrgUser": {"org_id": _pool(w.org, GHOST_ID)},
            "deleteTeamByID": {"team_id": _pool(w.doomed_team.id, GHOST_ID)},
            "addTeamMember": {"team_id": _pool(w.spare_team.id, GHOST_ID)},
            "starDashboard": {"dashboard_id": _pool(*(d.id for d in starred), GHOST_ID)},
            "unstarDashboard": {"dashboard_id": _pool(*(d.id for d in starred), GHOST_ID)},
            "starDashboardByUID": {"dashboard_uid": [*(d.uid for d in starred), w.ghost_uid]},
            "unstarDashboardByUID": {"dashboard_uid": [*(d.uid for d in starred), w.ghost_uid]},
            "deleteDashboardByUID": {"uid": [w.doomed_dashboard.uid, w.ghost_uid]},
            "createToken": {"serviceAccountId": _pool(w.service_account_id, GHOST_ID)},
        }
        names = self._prefix_fields
        self.body_rules: dict[str, Callable[[JSON], None]] = {
            "adminCreateUser": lambda b: names(b, "login", "email"),
            "updateUser": lambda b: names(b, "login", "email"),
            "updateSignedInUser": lambda b: names(b, "login", "email"),
            "createOrg": lambda b: names(b, "name"),
            "createTeam": lambda b: names(b, "name"),
            "createServiceAccount": lambda b: names(b, "name"),
            "login": lambda b: names(b, "user"),
            "postDashboard": self._dashboard,
            "addTeamMember": self._team_member,
        }

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

    def _dashboard(self, body: JSON) -> None:
        dashboard = body.get("dashboard")
        if isinstance(dashboard, dict):
            self._prefix_fields(dashboard, "title")
            if isinstance(dashboard.get("id"), int):
                dashboard["id"] = None  # never address an existing dashboard by id
            uid = dashboard.get("uid")
            if isinstance(uid, str) and uid.strip():
                dashboard["uid"] = f"{self.world.prefix}{uid}"[:40]

    def _team_member(self, body: JSON) -> None:
        user_id = body.get("userId")
        if isinstance(user_id, int) and not isinstance(user_id, bool) and user_id > 0:
            body["userId"] = _choose(user_id, self.world.writable_user_ids())

    def apply(self, operation_id: str, path_parameters: JSON | None, body: object) -> None:
        """Rewrite a generated request in place."""
        for name, pool in self.path_pools.get(operation_id, {}).items():
            if path_parameters is not None and name in path_parameters:
                path_parameters[name] = self._safe_id(path_parameters[name], pool)
        rule = self.body_rules.get(operation_id)
        if rule is not None and isinstance(body, dict):
            rule(body)
