"""For each operation: who the contract lets in, and one well-formed request to try it with.

Requests that change things act on fresh throwaway resources, so a server that wrongly lets a
caller through harms nothing the run did not create.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.fresh import Fresh
from conformance.guard import GHOST_ID
from conformance.world import World

# The contract's authorization rules (its prose, made executable).
GRAFANA_ADMIN = "grafana-admin"  # users, admin_users, creating and deleting orgs
ORG_ADMIN = "org-admin"  # members, teams and service accounts of an org
ORG_EDITOR = "org-editor"  # dashboards of an org
USER_304 = "user-only-304"  # the caller's own data: a service account gets 304
USER_403 = "user-only-403"  # the caller's sessions: a service account gets 403
ANYONE = "any-identity"

RULES = {
    **dict.fromkeys(
        [
            "searchUsers",
            "searchUsersWithPaging",
            "getUserByLoginOrEmail",
            "getUserByID",
            "updateUser",
            "getUserOrgList",
            "getUserTeams",
            "updateUserActiveOrg",
            "adminCreateUser",
            "adminDeleteUser",
            "adminUpdateUserPassword",
            "adminUpdateUserPermissions",
            "adminDisableUser",
            "adminEnableUser",
            "createOrg",
            "deleteOrgByID",
        ],
        GRAFANA_ADMIN,
    ),
    **dict.fromkeys(
        [
            "addOrgUser",
            "createTeam",
            "deleteTeamByID",
            "addTeamMember",
            "createServiceAccount",
            "createToken",
        ],
        ORG_ADMIN,
    ),
    **dict.fromkeys(["postDashboard", "deleteDashboardByUID"], ORG_EDITOR),
    **dict.fromkeys(
        [
            "updateSignedInUser",
            "changeUserPassword",
            "userSetUsingOrg",
            "getSignedInUserOrgList",
            "getSignedInUserTeamList",
        ],
        USER_304,
    ),
    **dict.fromkeys(["getUserAuthTokens", "revokeUserAuthToken"], USER_403),
    **dict.fromkeys(
        [
            "getSignedInUser",
            "getStars",
            "starDashboard",
            "unstarDashboard",
            "starDashboardByUID",
            "unstarDashboardByUID",
        ],
        ANYONE,
    ),
}


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


def sample(operation_id: str, world: World, fresh: Fresh, current_org: int) -> Sample:
    """A well-formed request for the operation (KeyError: the suite lacks one - add it)."""
    return _SAMPLES[operation_id](world, fresh, current_org)
