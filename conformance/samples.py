"""For each operation, one well-formed request to try it with (who may send it: the contract).

Requests that change things act on fresh throwaway resources, so a server that wrongly lets a
caller through harms nothing the run did not create. The prepared samples below set up what
a request needs to succeed; an operation without one gets a request derived from the
contract (its examples), so a new operation is covered without an edit here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from conformance.fresh import Fresh
from conformance.guard import GHOST_ID, Guard, UnguardedParameter
from conformance.world import World
from contract import Operation


@dataclass(frozen=True)
class Sample:
    method: str
    path: str
    json: Any = None


Maker = Callable[[World, Fresh, int], Sample]  # the int is the caller's current org

_SAMPLES: dict[str, Maker] = {
    "searchUsers": lambda w, f, o: Sample("GET", "/api/users?perpage=5"),
    "searchUsersWithPaging": lambda w, f, o: Sample("GET", "/api/users/search?perpage=5"),
    "getUserByLoginOrEmail": lambda w, f, o: Sample(
        "GET", f"/api/users/lookup?loginOrEmail={w.plain.login}"
    ),
    "getUserByID": lambda w, f, o: Sample("GET", f"/api/users/{w.plain.id}"),
    "updateUser": lambda w, f, o: _for_user(f, "PUT", "/api/users/{}", json=None),
    "getUserOrgList": lambda w, f, o: Sample("GET", f"/api/users/{w.plain.id}/orgs"),
    "getUserTeams": lambda w, f, o: Sample("GET", f"/api/users/{w.plain.id}/teams"),
    "updateUserActiveOrg": lambda w, f, o: _for_user(
        f, "POST", f"/api/users/{{}}/using/{w.default_org}"
    ),
    "getSignedInUser": lambda w, f, o: Sample("GET", "/api/user"),
    "updateSignedInUser": lambda w, f, o: Sample("PUT", "/api/user", {"name": "Matrix"}),
    "changeUserPassword": lambda w, f, o: Sample(
        "PUT", "/api/user/password", {"oldPassword": "not-it", "newPassword": "unused-1"}
    ),
    "userSetUsingOrg": lambda w, f, o: Sample("POST", f"/api/user/using/{o}"),
    "getSignedInUserOrgList": lambda w, f, o: Sample("GET", "/api/user/orgs"),
    "getSignedInUserTeamList": lambda w, f, o: Sample("GET", "/api/user/teams"),
    "getStars": lambda w, f, o: Sample("GET", "/api/user/stars"),
    "starDashboard": lambda w, f, o: Sample(
        "POST", f"/api/user/stars/dashboard/{w.dashboards[1].id}"
    ),
    "unstarDashboard": lambda w, f, o: Sample(
        "DELETE", f"/api/user/stars/dashboard/{w.dashboards[1].id}"
    ),
    "starDashboardByUID": lambda w, f, o: Sample(
        "POST", f"/api/user/stars/dashboard/uid/{w.dashboards[1].uid}"
    ),
    "unstarDashboardByUID": lambda w, f, o: Sample(
        "DELETE", f"/api/user/stars/dashboard/uid/{w.dashboards[1].uid}"
    ),
    "getUserAuthTokens": lambda w, f, o: Sample("GET", "/api/user/auth-tokens"),
    "revokeUserAuthToken": lambda w, f, o: Sample(
        "POST", "/api/user/revoke-auth-token", {"authTokenId": GHOST_ID}
    ),
    "login": lambda w, f, o: _login(f),
    "logout": lambda w, f, o: Sample("GET", "/logout"),
    "adminCreateUser": lambda w, f, o: Sample(
        "POST",
        "/api/admin/users",
        {"login": f"{w.prefix}{f.name('matrix')}", "password": "matrix-pass-1"},
    ),
    "adminDeleteUser": lambda w, f, o: _for_user(f, "DELETE", "/api/admin/users/{}"),
    "adminUpdateUserPassword": lambda w, f, o: _for_user(
        f, "PUT", "/api/admin/users/{}/password", json={"password": "matrix-pass-2"}
    ),
    "adminUpdateUserPermissions": lambda w, f, o: _for_user(
        f, "PUT", "/api/admin/users/{}/permissions", json={"isGrafanaAdmin": False}
    ),
    "adminDisableUser": lambda w, f, o: _for_user(f, "POST", "/api/admin/users/{}/disable"),
    "adminEnableUser": lambda w, f, o: _for_user(f, "POST", "/api/admin/users/{}/enable"),
    "createOrg": lambda w, f, o: Sample(
        "POST", "/api/orgs", {"name": f"{w.prefix}{f.name('org')}"}
    ),
    "deleteOrgByID": lambda w, f, o: Sample("DELETE", f"/api/orgs/{f.org()}"),
    "addOrgUser": lambda w, f, o: Sample(
        "POST",
        f"/api/orgs/{w.org}/users",
        {"loginOrEmail": f.user("member").login, "role": "Viewer"},
    ),
    "createTeam": lambda w, f, o: Sample(
        "POST", "/api/teams", {"name": f"{w.prefix}{f.name('team')}"}
    ),
    "deleteTeamByID": lambda w, f, o: Sample("DELETE", f"/api/teams/{f.team().id}"),
    "addTeamMember": lambda w, f, o: Sample(
        "POST", f"/api/teams/{w.spare_team.id}/members", {"userId": f.user("member").id}
    ),
    "postDashboard": lambda w, f, o: Sample(
        "POST", "/api/dashboards/db", {"dashboard": {"title": f"{w.prefix}{f.name('dash')}"}}
    ),
    "deleteDashboardByUID": lambda w, f, o: Sample(
        "DELETE", f"/api/dashboards/uid/{f.dashboard().uid}"
    ),
    "createServiceAccount": lambda w, f, o: Sample(
        "POST", "/api/serviceaccounts", {"name": f"{w.prefix}{f.name('sa')}", "role": "Viewer"}
    ),
    "createToken": lambda w, f, o: Sample(
        "POST",
        f"/api/serviceaccounts/{w.service_account_id}/tokens",
        {"name": f"{w.prefix}{f.name('token')}"},
    ),
    "getHealth": lambda w, f, o: Sample("GET", "/api/health"),
}


def _for_user(fresh: Fresh, method: str, template: str, json: Any = None) -> Sample:
    user = fresh.user("target")
    body = {"login": user.login, "name": "Matrix"} if json is None and method == "PUT" else json
    return Sample(method, template.format(user.id), body)


def _login(fresh: Fresh) -> Sample:
    user = fresh.user("login")
    return Sample("POST", "/login", {"user": user.login, "password": user.password})


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


def sample(operation: Operation, world: World, fresh: Fresh, current_org: int) -> Sample:
    """A well-formed request for the operation: the prepared one, or one derived from the
    contract (UnguardedParameter: the suite cannot make one safely)."""
    prepared = _SAMPLES.get(operation.operation_id)
    if prepared is None:
        return derived(operation, world, fresh)
    return prepared(world, fresh, current_org)
