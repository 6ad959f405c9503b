"""Layer 5: every operation and every kind of caller - allowed, 401 or 403 as the contract says."""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import contract
from conformance import samples, tolerances
from conformance.conftest import PasswordChange
from conformance.fresh import Fresh
from conformance.guard import GHOST_ID
from conformance.options import RunOptions
from conformance.plugin import active_options
from conformance.samples import Sample
from conformance.target import ANONYMOUS, Credentials, Target
from conformance.world import World
from contract import Refusal

_options = active_options()
_contract = _options.contract
_operations = [
    op
    for op in _contract.operations
    if op.served and (not _options.operations or op.operation_id in _options.operations)
]
SECURED = [op.operation_id for op in _operations if op.secured]
PUBLIC = [op.operation_id for op in _operations if not op.secured]
# Callers without valid credentials, tried on every operation. None of them sends a
# password that could fail (Grafana counts failed logins, per login and per client
# address): wrong credentials are a made-up service-account token here, and the one
# wrong password of the run is tried once (test_a_wrong_password_gets_401).
LOCKED_OUT = ["anonymous", "invalid-token", "disabled-user", "revoked-session"]
ACCESS_DENIED_ID = re.compile(r"^ACE\d{10}$")


# Requests whose success needs a set-up the contract cannot describe (a fresh target, the
# caller's own login kept...), by operation; every other operation gets samples.derived.
Maker = Callable[[World, Fresh, int], Sample]  # the int is the caller's current org
PREPARED: dict[str, Maker] = {
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
    "updateOrgUser": lambda w, f, o: Sample(
        "PATCH", f"/api/orgs/{w.org}/users/{f.member().id}", {"role": "Viewer"}
    ),
    "removeOrgUser": lambda w, f, o: Sample("DELETE", f"/api/orgs/{w.org}/users/{f.member().id}"),
    "removeTeamMember": lambda w, f, o: _team_member(f),
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


def _team_member(fresh: Fresh) -> Sample:
    team, member = fresh.team_member()
    return Sample("DELETE", f"/api/teams/{team.id}/members/{member.id}")


def _login(fresh: Fresh) -> Sample:
    user = fresh.user("login")
    return Sample("POST", "/login", {"user": user.login, "password": user.password})


def _sample(operation: contract.Operation, world: World, fresh: Fresh, current_org: int) -> Sample:
    prepared = PREPARED.get(operation.operation_id)
    if prepared is None:
        return samples.derived(operation, world, fresh)
    return prepared(world, fresh, current_org)


@pytest.fixture(scope="module")
def callers(target: Target, world: World, fresh: Fresh) -> Iterator[dict[str, Credentials]]:
    revoked = fresh.user("revoked")
    cookie = fresh.session(revoked)
    with target.session(revoked.basic) as owner:
        token_id = owner.get("/api/user/auth-tokens").json()[0]["id"]
        assert (
            owner.post("/api/user/revoke-auth-token", json={"authTokenId": token_id}).status_code
            == 200
        )
    made_up = f"glsa_{secrets.token_hex(16)}_{secrets.token_hex(4)}"  # a token's shape
    yield {
        "anonymous": ANONYMOUS,
        "invalid-token": Credentials(bearer=made_up),
        "disabled-user": world.disabled.basic,
        "revoked-session": Credentials(session=cookie),
        "ordinary-user": world.plain.basic,
        "service-account-token": world.token_credentials,
        "grafana-admin": world.root.basic,
    }


def _call(
    operation_id: str,
    caller: str,
    callers: dict[str, Credentials],
    target: Target,
    world: World,
    fresh: Fresh,
) -> tuple[httpx.Response, int]:
    """The operation's sample request sent as `caller`; the answer and the caller's org."""
    credentials = callers[caller]
    with target.session(credentials) as client:
        current_org = world.org
        if caller == "ordinary-user":
            current_org = int(client.get("/api/user").json()["orgId"])
        request = _sample(_contract[operation_id], world, fresh, current_org)
        response = client.request(request.method, request.path, json=request.json)
    with contextlib.suppress(ValueError):  # a body that is not JSON created nothing
        world.ledger.adopt(_contract[operation_id], response.status_code, response.json())
    return response, current_org


def _org_of(operation: contract.Operation, response: httpx.Response, current_org: int) -> int:
    """The organization an operation's access rule is judged in."""
    parameter = operation.access.org_parameter
    if parameter is None:
        return current_org
    values = operation.path_values(response.request.url.path)
    return int(values[parameter])


def _stated(operation_id: str, response: httpx.Response, options: RunOptions) -> bool:
    """Whether an accepted version difference of the operation states exactly this answer
    (e.g. 401 "Invalid old password" for a wrong old password in older releases)."""
    with contextlib.suppress(ValueError, AttributeError):
        answer = (response.status_code, response.json().get("message"))
        return answer in _contract.stated(_contract[operation_id], options.tolerances)
    return False


def _expect(
    operation_id: str, response: httpx.Response, options: RunOptions, refusal: Refusal | None
) -> None:
    """The answer is what the contract's access rule gives this caller."""
    if refusal is None:
        assert response.status_code not in (401, 403) or _stated(operation_id, response, options), (
            f"refused with {response.status_code}: {response.text[:200]}"
        )
        return
    assert response.status_code == refusal.status, (
        f"expected {refusal.status}, got {response.status_code}: {response.text[:200]}"
    )
    if refusal.message is None:
        assert response.content == b"", f"a {refusal.status} carries no body"
        return
    body = response.json()
    assert isinstance(body.get("message"), str), f"{refusal.status} body {body!r}"
    if refusal.status == 403 and tolerances.either_403_body(
        _contract, operation_id, options.tolerances
    ):
        return  # a tolerated version may deny with the other body shape
    if not refusal.rbac:
        assert body["message"] == refusal.message, f"{refusal.status} body {body!r}"
    else:
        # The permission list's wording differs between Grafana versions: keys only.
        assert ACCESS_DENIED_ID.match(str(body.get("accessErrorId"))), f"403 body {body!r}"
        assert body.get("title") == "Access denied", f"403 body {body!r}"


@pytest.mark.parametrize("caller", LOCKED_OUT)
@pytest.mark.parametrize("operation_id", SECURED)
def test_callers_without_valid_credentials_get_401(
    operation_id: str,
    caller: str,
    callers: dict[str, Credentials],
    target: Target,
    world: World,
    fresh: Fresh,
) -> None:
    response, _ = _call(operation_id, caller, callers, target, world, fresh)
    assert response.status_code == 401, f"{caller} got {response.status_code}"
    assert isinstance(response.json().get("message"), str)


def test_a_wrong_password_gets_401(password_change: PasswordChange) -> None:
    """GET /api/user with a user's password from before they changed it: the run's one
    wrong password on purpose (its answer is shared with the password chain)."""
    changed = password_change
    assert changed.with_new.status_code == 200, (
        f"no wrong password to try: after a password change the new one got "
        f"{changed.with_new.status_code}"
    )
    if changed.with_old is None:
        pytest.skip(changed.not_sent)
    response = changed.with_old
    assert response.status_code == 401, f"a wrong password got {response.status_code}"
    assert isinstance(response.json().get("message"), str), response.text


def _refusal(
    caller: str,
    operation: contract.Operation,
    response: httpx.Response,
    current_org: int,
    world: World,
) -> Refusal | None:
    """What the operation's access rule gives this signed-in caller."""
    if caller == "grafana-admin":
        return None
    if caller == "ordinary-user":
        role = world.memberships[world.plain.id].get(_org_of(operation, response, current_org))
        return operation.access.refusal(is_user=True, is_admin=False, org_role=role)
    # The token's service account belongs to the run's org only.
    in_org = _org_of(operation, response, world.org) == world.org
    role = world.token_role if in_org else None
    return operation.access.refusal(is_user=False, is_admin=False, org_role=role)


@pytest.mark.parametrize("caller", ["ordinary-user", "service-account-token", "grafana-admin"])
@pytest.mark.parametrize("operation_id", SECURED)
def test_each_signed_in_caller_gets_exactly_what_the_contract_allows(
    operation_id: str,
    caller: str,
    callers: dict[str, Credentials],
    target: Target,
    world: World,
    fresh: Fresh,
    conformance_options: RunOptions,
) -> None:
    response, current_org = _call(operation_id, caller, callers, target, world, fresh)
    refusal = _refusal(caller, _contract[operation_id], response, current_org, world)
    _expect(operation_id, response, conformance_options, refusal)


@pytest.mark.parametrize("operation_id", PUBLIC)
def test_public_operations_need_no_credentials(
    operation_id: str,
    callers: dict[str, Credentials],
    target: Target,
    world: World,
    fresh: Fresh,
    conformance_options: RunOptions,
) -> None:
    response, _ = _call(operation_id, "anonymous", callers, target, world, fresh)
    _expect(operation_id, response, conformance_options, None)


@pytest.mark.skipif(
    _contract["getSignedInUser"].access.non_user is not None,
    reason="the expected release refuses service accounts on GET /api/user",
)
def test_a_service_account_token_sees_a_minimal_profile(target: Target, world: World) -> None:
    with target.session(world.token_credentials) as client:
        profile = client.get("/api/user").json()
    assert (profile["id"], profile["authLabels"]) == (0, None), profile
