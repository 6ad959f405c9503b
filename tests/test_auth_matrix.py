"""Every operation of openapi.yaml against every kind of caller: never more access than the
contract grants, on SQLite and on PostgreSQL; and the brute-force lock-out.

Callers: anonymous, a wrong password, a disabled user, a plain user (Viewer, not a server
admin), a revoked session, an expired session, a service-account token (the account is
an Admin of its org) and the token of a deleted service account - plus the Grafana Admin
as the control that proves each sample request is one that can succeed.

Who may succeed comes from each operation's `x-grafana-access` in the contract (read by
`contract`): server-admin operations need a Grafana Admin; org-admin and org-editor
operations need that role in the caller's org; the caller's own data needs a user (a token
gets 304/403) or any identity. Calls
without usable credentials must get 401 everywhere except the public operations. Where
the contract grants access, the request must succeed - the matrix is not vacuous.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import delete, update
from starlette.testclient import TestClient

import contract
from handlers.store import Store
from handlers.store.schema import login_attempts, org_users, user_auth_tokens, users
from tests.conftest import ADMIN
from tests.support.api import (
    PASSWORD,
    add_org_user,
    add_team_member,
    bearer,
    create_dashboard,
    create_org,
    create_service_account_token,
    create_team,
    create_user,
    log_in,
    new_client,
)

DAY = 24 * 3600
# Logging out ends a session caller's session: it goes last.
OPERATIONS = sorted(
    (op for op in contract.load().operations if op.served),
    key=lambda op: op.operation_id == "logout",
)
UNAUTHENTICATED = [
    "anonymous",
    "wrong-password",
    "disabled-user",
    "revoked-session",
    "expired-session",
    "deleted-service-account-token",
]
CALLERS = ["grafana-admin", "plain-user", "service-account-token", *UNAUTHENTICATED]


@dataclass
class Caller:
    name: str
    headers: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
    login: str = ""  # for requests about the caller itself
    password: str = PASSWORD
    spare_session: int = 0  # one of the caller's sessions that it may revoke
    second_spare: int = 0  # another one (revoked through the admin route)

    def grants(self, operation: contract.Operation) -> bool:
        if not operation.secured:
            return True
        if self.name in UNAUTHENTICATED:
            return False
        # Every caller's org is org 1, which the samples' org parameters name too: the
        # plain user is a Viewer there, the service account an Admin.
        facts = {
            "grafana-admin": (True, True, "Admin"),
            "plain-user": (True, False, "Viewer"),
            "service-account-token": (False, False, "Admin"),
        }
        is_user, is_admin, role = facts[self.name]
        return operation.access.refusal(is_user=is_user, is_admin=is_admin, org_role=role) is None


@dataclass
class World:
    """The objects the sample requests act on, made fresh for every caller."""

    target: int
    doomed_user: int
    joiner: str
    login_user: str
    org2: int
    doomed_org: int
    team: int
    doomed_team: int
    dashboard_id: int
    dashboard_uid: str
    doomed_dashboard_uid: str
    service_account: int
    leaver: int  # a member of org 1 that removeOrgUser removes
    quitter: int  # a member of `team` that removeTeamMember removes


def build_world(admin: TestClient) -> World:
    target = create_user(admin, "target")
    org2 = create_org(admin, "second org")
    add_org_user(admin, org2, "target")
    create_user(admin, "joiner", org_id=org2)
    dashboard = create_dashboard(admin, "Starred")
    account, _ = create_service_account_token(admin, "tokened")
    create_user(admin, "login-user")
    team = create_team(admin, "team")
    quitter = create_user(admin, "quitter")
    add_team_member(admin, team, quitter)
    return World(
        target=target,
        doomed_user=create_user(admin, "doomed"),
        joiner="joiner",
        login_user="login-user",
        org2=org2,
        doomed_org=create_org(admin, "doomed org"),
        team=team,
        doomed_team=create_team(admin, "doomed team"),
        dashboard_id=dashboard["id"],
        dashboard_uid=dashboard["uid"],
        doomed_dashboard_uid=create_dashboard(admin, "Doomed")["uid"],
        service_account=account,
        leaver=create_user(admin, "leaver"),
        quitter=quitter,
    )


def sample(operation_id: str, w: World, me: Caller) -> tuple[str, dict[str, Any] | None]:
    """A request the operation can grant: (path and query, JSON body)."""
    samples: dict[str, tuple[str, dict[str, Any] | None]] = {
        "searchUsers": ("/api/users?perpage=5", None),
        "searchUsersWithPaging": ("/api/users/search?query=target", None),
        "getUserByLoginOrEmail": ("/api/users/lookup?loginOrEmail=target", None),
        "getUserByID": (f"/api/users/{w.target}", None),
        "updateUser": (f"/api/users/{w.target}", {"login": "target", "name": "T"}),
        "getUserOrgList": (f"/api/users/{w.target}/orgs", None),
        "getUserTeams": (f"/api/users/{w.target}/teams", None),
        "updateUserActiveOrg": (f"/api/users/{w.target}/using/{w.org2}", None),
        "getSignedInUser": ("/api/user", None),
        "updateSignedInUser": ("/api/user", {"login": me.login, "name": "Me"}),
        "changeUserPassword": (
            "/api/user/password",
            {"oldPassword": me.password, "newPassword": me.password},
        ),
        "userSetUsingOrg": ("/api/user/using/1", None),
        "getSignedInUserOrgList": ("/api/user/orgs", None),
        "getSignedInUserTeamList": ("/api/user/teams", None),
        "getStars": ("/api/user/stars", None),
        "starDashboard": (f"/api/user/stars/dashboard/{w.dashboard_id}", None),
        "unstarDashboard": (f"/api/user/stars/dashboard/{w.dashboard_id}", None),
        "starDashboardByUID": (f"/api/user/stars/dashboard/uid/{w.dashboard_uid}", None),
        "unstarDashboardByUID": (f"/api/user/stars/dashboard/uid/{w.dashboard_uid}", None),
        "getUserAuthTokens": ("/api/user/auth-tokens", None),
        "revokeUserAuthToken": ("/api/user/revoke-auth-token", {"authTokenId": me.spare_session}),
        "getLoginPage": ("/login", None),
        "login": ("/login", {"user": w.login_user, "password": PASSWORD}),
        "logout": ("/logout", None),
        "adminCreateUser": ("/api/admin/users", {"login": "created", "password": "pw-123"}),
        "adminDeleteUser": (f"/api/admin/users/{w.doomed_user}", None),
        "adminUpdateUserPassword": (f"/api/admin/users/{w.target}/password", {"password": "pw2x"}),
        "adminUpdateUserPermissions": (
            f"/api/admin/users/{w.target}/permissions",
            {"isGrafanaAdmin": False},
        ),
        "adminDisableUser": (f"/api/admin/users/{w.target}/disable", None),
        "adminEnableUser": (f"/api/admin/users/{w.target}/enable", None),
        "adminLogoutUser": (f"/api/admin/users/{w.target}/logout", None),
        "adminGetUserAuthTokens": (f"/api/admin/users/{w.target}/auth-tokens", None),
        # The admin (id 1) revoking one of its own spare sessions; others are refused first.
        "adminRevokeUserAuthToken": (
            "/api/admin/users/1/revoke-auth-token",
            {"authTokenId": me.second_spare},
        ),
        "createOrg": ("/api/orgs", {"name": "created org"}),
        "deleteOrgByID": (f"/api/orgs/{w.doomed_org}", None),
        "addOrgUser": ("/api/orgs/1/users", {"loginOrEmail": w.joiner, "role": "Viewer"}),
        "searchOrgs": ("/api/orgs?query=doomed", None),
        "getOrgByName": ("/api/orgs/name/second%20org", None),
        "getOrgUsers": ("/api/orgs/1/users", None),
        "updateOrgUser": (f"/api/orgs/1/users/{w.target}", {"role": "Viewer"}),
        "removeOrgUser": (f"/api/orgs/1/users/{w.leaver}", None),
        "searchTeams": ("/api/teams/search?query=team", None),
        "removeTeamMember": (f"/api/teams/{w.team}/members/{w.quitter}", None),
        "getTeamMembers": (f"/api/teams/{w.team}/members", None),
        "getDashboardByUID": (f"/api/dashboards/uid/{w.dashboard_uid}", None),
        "listTokens": (f"/api/serviceaccounts/{w.service_account}/tokens", None),
        "createTeam": ("/api/teams", {"name": "created team"}),
        "getTeamByID": (f"/api/teams/{w.team}", None),
        "deleteTeamByID": (f"/api/teams/{w.doomed_team}", None),
        "addTeamMember": (f"/api/teams/{w.team}/members", {"userId": w.target}),
        "postDashboard": ("/api/dashboards/db", {"dashboard": {"title": "Created"}}),
        "deleteDashboardByUID": (f"/api/dashboards/uid/{w.doomed_dashboard_uid}", None),
        "createServiceAccount": ("/api/serviceaccounts", {"name": "created", "role": "Viewer"}),
        "createToken": (f"/api/serviceaccounts/{w.service_account}/tokens", {"name": "new"}),
        "getHealth": ("/api/health", None),
    }
    return samples[operation_id]


def spare_session(app: Any, login: str, password: str = PASSWORD) -> int:
    """Log the user in once more and return that session's id."""
    with new_client(app) as device:
        log_in(device, login, password)
        return int(
            next(t["id"] for t in device.get("/api/user/auth-tokens").json() if t["isActive"])
        )


def make_caller(name: str, app: Any, admin: TestClient, store: Store) -> Caller:
    if name == "grafana-admin":
        return Caller(
            name,
            auth=ADMIN,
            login="admin",
            password="admin",
            spare_session=spare_session(app, "admin", "admin"),
            second_spare=spare_session(app, "admin", "admin"),
        )
    if name == "plain-user":
        create_user(admin, "plain")
        return Caller(
            name, auth=("plain", PASSWORD), login="plain", spare_session=spare_session(app, "plain")
        )
    if name == "service-account-token":
        _, token = create_service_account_token(admin, "robot", role="Admin")
        return Caller(name, headers=bearer(token), login="plain")
    if name == "anonymous":
        return Caller(name)
    if name == "wrong-password":
        create_user(admin, "forgetful")
        return Caller(name, auth=("forgetful", "not-the-password"))
    if name == "disabled-user":
        user_id = create_user(admin, "disabled")
        assert admin.post(f"/api/admin/users/{user_id}/disable").status_code == 200
        return Caller(name, auth=("disabled", PASSWORD))
    if name in ("revoked-session", "expired-session"):
        user_id = create_user(admin, name)
        with new_client(app) as device:
            cookie = log_in(device, name)
        if name == "revoked-session":
            token = spare_session(app, name)  # revoke the cookie's session from another one
            with new_client(app) as owner:
                owner.auth = (name, PASSWORD)
                first = owner.get("/api/user/auth-tokens").json()[0]["id"]
                assert first != token
                revoked = owner.post("/api/user/revoke-auth-token", json={"authTokenId": first})
                assert revoked.status_code == 200, revoked.text
        else:  # older than login_maximum_lifetime_duration (30 days)
            with store.db.write() as conn:
                conn.execute(
                    update(user_auth_tokens)
                    .where(user_auth_tokens.c.user_id == user_id)
                    .values(created_at=int(time.time()) - 31 * DAY)
                )
        return Caller(name, headers={"Cookie": f"grafana_session={cookie}"})
    assert name == "deleted-service-account-token"
    account, token = create_service_account_token(admin, "ghost", role="Admin")
    with store.db.write() as conn:  # the account goes; its token row is left behind
        conn.execute(delete(org_users).where(org_users.c.user_id == account))
        conn.execute(delete(users).where(users.c.id == account))
    return Caller(name, headers=bearer(token))


@pytest.mark.parametrize("caller_name", CALLERS)
def test_no_caller_gets_more_than_the_contract_grants(
    caller_name: str, app: Any, admin: TestClient, store: Store
) -> None:
    world = build_world(admin)
    caller = make_caller(caller_name, app, admin, store)
    wrong = []
    with new_client(app) as client:
        for operation in OPERATIONS:
            operation_id, secured = operation.operation_id, operation.secured
            url, body = sample(operation_id, world, caller)
            client.cookies.clear()
            answer = client.request(
                operation.method,
                url,
                json=body,
                headers=caller.headers,
                auth=caller.auth,
                follow_redirects=False,
            )
            status = answer.status_code
            granted = caller.grants(operation)
            if status >= 500:
                wrong.append(f"{operation_id}: {status} {answer.text}")
            elif granted and not 200 <= status < 400:
                wrong.append(f"{operation_id}: granted but {status} {answer.text}")
            elif not granted and 200 <= status < 300:
                wrong.append(f"{operation_id}: not granted but {status} {answer.text}")
            elif caller.name in UNAUTHENTICATED and secured and status != 401:
                wrong.append(f"{operation_id}: no usable credentials but {status}")
    assert not wrong, f"{caller_name}:\n" + "\n".join(wrong)


# -- the lock-out ----------------------------------------------------------------------------


def fail_passwords(client: TestClient, login: str, times: int) -> None:
    for attempt in range(times):
        wrong = (
            client.get("/api/user", auth=(login, f"wrong-{attempt}"))
            if attempt % 2
            else client.post("/login", json={"user": login, "password": f"wrong-{attempt}"})
        )
        assert wrong.status_code == 401, wrong.text


def test_five_failed_passwords_in_five_minutes_lock_the_login(
    admin: TestClient, client: TestClient, store: Store
) -> None:
    create_user(admin, "victim")
    create_user(admin, "bystander")
    fail_passwords(client, "victim", 4)
    assert client.get("/api/user", auth=("victim", PASSWORD)).status_code == 200
    fail_passwords(client, "VICTIM", 1)  # the fifth, counted case-insensitively
    for attempt in (
        client.get("/api/user", auth=("victim", PASSWORD)),
        client.post("/login", json={"user": "victim", "password": PASSWORD}),
    ):
        assert attempt.status_code == 401, "the right password must not get through a lock-out"
    assert client.get("/api/user", auth=("bystander", PASSWORD)).status_code == 200
    with store.db.write() as conn:  # five minutes later the attempts no longer count
        conn.execute(update(login_attempts).values(created=login_attempts.c.created - 301))
    assert client.get("/api/user", auth=("victim", PASSWORD)).status_code == 200


def test_a_locked_out_admin_is_still_served_through_an_earlier_session(
    app: Any, client: TestClient
) -> None:
    with new_client(app) as browser:
        log_in(browser, "admin", "admin")
        fail_passwords(client, "admin", 5)
        assert client.get("/api/user", auth=ADMIN).status_code == 401
        assert browser.get("/api/users").status_code == 200
        created = browser.post("/api/admin/users", json={"login": "after", "password": "pw-1"})
        assert created.status_code == 200, created.text


def test_failures_for_a_login_nobody_has_do_not_lock_the_account_created_later(
    admin: TestClient, client: TestClient, store: Store
) -> None:
    """Grafana counts a failed password only for an existing user (its password client
    records an attempt on a wrong password, not on an unknown name): five failures
    before the account exists must not lock it once an admin creates it."""
    fail_passwords(client, "newcomer", 5)
    assert store.failed_logins_since("newcomer", 0) == 0
    create_user(admin, "newcomer")
    assert client.get("/api/user", auth=("newcomer", PASSWORD)).status_code == 200
