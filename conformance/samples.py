"""For each operation, one well-formed request to try it with (who may send it: the contract).

Requests that change things act on fresh throwaway resources, so a server that wrongly lets a
caller through harms nothing the run did not create. The auth matrix prepares the requests
whose success needs a set-up (its PREPARED table); any other operation gets a request
derived from the contract alone, so a new operation is covered without a Python edit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from conformance.fresh import Fresh
from conformance.guard import Guard, UnguardedParameter
from conformance.world import World
from contract import Operation


@dataclass(frozen=True)
class Sample:
    method: str
    path: str
    json: Any = None


# Fresh or seeded resources for a path parameter of an operation with no prepared sample:
# reads see seeded resources, writes and deletes get throwaway ones.
_RESOURCES: dict[str, Callable[[Operation, World, Fresh], object]] = {
    "user_id": lambda op, w, f: w.plain.id if op.is_read else f.user("target").id,
    "org_id": lambda op, w, f: f.org() if op.method == "DELETE" else w.org,
    "team_id": lambda op, w, f: f.team().id if op.method == "DELETE" else w.spare_team.id,
    "dashboard_id": lambda op, w, f: w.dashboards[1].id,
    "dashboard_uid": lambda op, w, f: w.dashboards[1].uid,
    "uid": lambda op, w, f: f.dashboard().uid if op.method == "DELETE" else w.dashboards[1].uid,
    "serviceAccountId": lambda op, w, f: w.service_account_id,
    "org_name": lambda op, w, f: w.org_name,
}


def derived(operation: Operation, world: World, fresh: Fresh) -> Sample:
    """A request built from the contract alone: path ids of fresh (or, for reads, seeded)
    resources; required query parameters and the body from the contract's examples, with
    the guard's prefix on every name in the body."""
    path = operation.path
    for name in operation.path_parameters():
        make = _RESOURCES.get(name)
        if make is None:
            raise UnguardedParameter(f"{operation.label}: no resource for {name!r}")
        path = path.replace(f"{{{name}}}", quote(str(make(operation, world, fresh)), safe=""))
    query = {
        str(p["name"]): str(_example(p))
        for p in operation.parameters
        if p.get("in") == "query" and p.get("required")
    }
    body = operation.request_example
    if isinstance(body, dict):
        body = copy.deepcopy(body)
        Guard(world).name_fields(body)
    return Sample(operation.method, f"{path}?{urlencode(query)}" if query else path, body)


def _example(parameter: Mapping[str, Any]) -> object:
    if "example" in parameter:
        return parameter["example"]
    examples: Mapping[str, Any] = parameter.get("examples") or {}
    first: Any = next(iter(examples.values()), {})
    return first.get("value", "") if isinstance(first, Mapping) else ""
