"""The supporting operations a conformance run sets state up with, and the service routes."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import update
from starlette.testclient import TestClient

from handlers.store import Store
from handlers.store.schema import api_keys
from tests.support.api import (
    BAD_CREDENTIALS,
    PASSWORD,
    UID,
    UNAUTHORIZED,
    add_org_user,
    assert_access_denied,
    bearer,
    create_dashboard,
    create_org,
    create_service_account_token,
    create_team,
    create_user,
    errutil,
    message,
    session,
)

JANE = ("jane", PASSWORD)
BAD_REQUEST_DATA = message("bad request data")
PERMISSION_DENIED = message("Permission denied")
SPEC = Path(__file__).resolve().parent.parent / "openapi.yaml"


# -- POST /login and GET /logout -------------------------------------------------------


def test_login_answers_logged_in_and_sets_grafanas_cookies(
    admin: TestClient, client: TestClient
) -> None:
    create_user(admin, "jane")
    before = int(time.time())
    response = client.post("/login", json={"user": "jane", "password": PASSWORD})
    assert (response.status_code, response.json()) == (
        200,
        {"message": "Logged in", "redirectUrl": "/"},
    )
    cookies = response.headers.get_list("set-cookie")
    token = response.cookies["grafana_session"]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert cookies[0] == (
        f"grafana_session={token}; HttpOnly; Max-Age=2592000; Path=/; SameSite=lax"
    )
    expiry = int(response.cookies["grafana_session_expiry"])
    assert before + 2592000 <= expiry <= int(time.time()) + 2592000
    assert "HttpOnly" not in cookies[1]
    assert client.get("/api/user").json()["login"] == "jane"


@pytest.mark.parametrize("user", ["jane", "JANE", "jane@example.com", "Jane@Example.COM"])
def test_login_accepts_the_login_or_email_in_any_case(
    admin: TestClient, client: TestClient, user: str
) -> None:
    create_user(admin, "jane")
    response = client.post("/login", json={"user": user, "password": PASSWORD})
    assert (response.status_code, response.json()["message"]) == (200, "Logged in")


@pytest.mark.parametrize(("user", "password"), [("jane", "wrong"), ("nobody", PASSWORD)])
def test_login_with_bad_credentials_is_unauthorized(
    admin: TestClient, client: TestClient, user: str, password: str
) -> None:
    create_user(admin, "jane")
    response = client.post("/login", json={"user": user, "password": password})
    assert (response.status_code, response.json()) == (401, BAD_CREDENTIALS)
    assert "grafana_session" not in response.cookies


@pytest.mark.parametrize(
    "body", [{}, {"user": "jane"}, {"user": "", "password": "x"}, {"user": 1, "password": "x"}]
)
def test_login_without_user_and_password_is_bad_login_data(client: TestClient, body: Any) -> None:
    response = client.post("/login", json=body)
    assert (response.status_code, response.json()) == (
        400,
        errutil("bad login data", "form-auth.invalid", 400),
    )


def test_login_of_a_disabled_user_is_unauthorized(admin: TestClient, client: TestClient) -> None:
    user_id = create_user(admin, "jane")
    admin.post(f"/api/admin/users/{user_id}/disable")
    response = client.post("/login", json={"user": "jane", "password": PASSWORD})
    assert (response.status_code, response.json()) == (
        401,
        errutil("Unauthorized", "identity.disabled", 401),
    )


def test_logout_ends_the_session_and_redirects_to_login(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    browser = session(app, "jane")
    cookie = browser.cookies["grafana_session"]
    response = browser.get("/logout", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (302, "/login")
    assert any(
        c.startswith('grafana_session=""') or c.startswith("grafana_session=;")
        for c in response.headers.get_list("set-cookie")
    )
    replay = browser.get("/api/user", cookies={"grafana_session": cookie})
    assert (replay.status_code, replay.json()) == (401, UNAUTHORIZED)


def test_logout_without_a_session_still_redirects(client: TestClient) -> None:
    response = client.get("/logout", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (302, "/login")


# -- POST /api/admin/users -------------------------------------------------------------


def test_creating_a_user_stores_login_and_email_lower_cased(admin: TestClient) -> None:
    response = admin.post(
        "/api/admin/users",
        json={
            "login": "Jane",
            "email": "Jane@Example.com",
            "name": "Jane Doe",
            "password": PASSWORD,
        },
    )
    body = response.json()
    assert response.status_code == 200
    assert UID.match(body.pop("uid"))
    assert body == {"id": 2, "message": "User created"}
    profile = admin.get("/api/users/2").json()
    assert (profile["login"], profile["email"], profile["name"], profile["orgId"]) == (
        "jane",
        "jane@example.com",
        "Jane Doe",
        1,
    )
    assert admin.get("/api/users/2/orgs").json() == [
        {"orgId": 1, "name": "Main Org.", "role": "Viewer"}
    ]


@pytest.mark.parametrize(
    ("given", "login", "email"),
    [
        ({"login": "Solo"}, "solo", "solo"),
        ({"email": "Solo@Example.com"}, "solo@example.com", "solo@example.com"),
    ],
)
def test_a_missing_login_or_email_defaults_to_the_other(
    admin: TestClient, given: Any, login: str, email: str
) -> None:
    response = admin.post("/api/admin/users", json={**given, "password": PASSWORD})
    profile = admin.get(f"/api/users/{response.json()['id']}").json()
    assert (response.status_code, profile["login"], profile["email"]) == (200, login, email)


def test_creating_a_user_in_a_given_org_makes_them_its_viewer(admin: TestClient) -> None:
    org_id = create_org(admin, "Second")
    user_id = create_user(admin, "jane", org_id=org_id)
    assert admin.get(f"/api/users/{user_id}").json()["orgId"] == org_id
    assert admin.get(f"/api/users/{user_id}/orgs").json() == [
        {"orgId": org_id, "name": "Second", "role": "Viewer"}
    ]


def test_creating_a_user_in_an_unknown_org_is_refused(admin: TestClient) -> None:
    response = admin.post(
        "/api/admin/users", json={"login": "jane", "password": PASSWORD, "orgId": 99}
    )
    assert (response.status_code, response.json()) == (400, message("organization not found"))


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (
            {"login": "JANE", "password": PASSWORD},
            "User with email '' or username 'JANE' already exists",
        ),
        (
            {"login": "other", "email": "Jane@Example.com", "password": PASSWORD},
            "User with email 'Jane@Example.com' or username 'other' already exists",
        ),
    ],
)
def test_creating_a_user_whose_login_or_email_is_taken_fails_a_precondition(
    admin: TestClient, body: Any, text: str
) -> None:
    create_user(admin, "jane")
    response = admin.post("/api/admin/users", json=body)
    assert (response.status_code, response.json()) == (412, message(text))


@pytest.mark.parametrize(
    "body",
    [{"login": "jane"}, {"login": "jane", "password": ""}, {"login": "jane", "password": 1234}],
)
def test_creating_a_user_without_a_password_is_bad_request_data(
    admin: TestClient, body: Any
) -> None:
    response = admin.post("/api/admin/users", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


def test_creating_a_user_with_a_short_password_breaks_the_policy(admin: TestClient) -> None:
    response = admin.post("/api/admin/users", json={"login": "jane", "password": "abc"})
    assert (response.status_code, response.json()) == (
        400,
        errutil("New password is too short", "password.password-policy-too-short", 400),
    )


def test_creating_a_user_without_login_or_email_is_refused(admin: TestClient) -> None:
    response = admin.post("/api/admin/users", json={"name": "Nobody", "password": PASSWORD})
    assert (response.status_code, response.json()) == (
        400,
        errutil("Need to specify either username or email", "user.empty-username-and-email", 400),
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "action"),
    [
        ("POST", "/api/admin/users", {"login": "x", "password": PASSWORD}, "users:create"),
        ("DELETE", "/api/admin/users/1", None, "users:delete"),
        ("PUT", "/api/admin/users/1/password", {"password": "hijacked"}, "users.password:write"),
        ("POST", "/api/admin/users/1/disable", None, "users:disable"),
        ("POST", "/api/admin/users/1/enable", None, "users:enable"),
        ("POST", "/api/orgs", {"name": "Mine"}, "orgs:create"),
        ("DELETE", "/api/orgs/1", None, "orgs:delete"),
    ],
)
def test_admin_operations_refuse_other_users_with_the_rbac_body(
    admin: TestClient, method: str, path: str, body: Any, action: str
) -> None:
    create_user(admin, "jane")
    assert_access_denied(admin.request(method, path, auth=JANE, json=body), action)


def test_changing_grafana_admin_rights_needs_a_grafana_admin(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put("/api/admin/users/2/permissions", auth=JANE, json={"isGrafanaAdmin": True})
    assert (response.status_code, response.json()) == (403, PERMISSION_DENIED)


# -- DELETE /api/admin/users/{user_id} -------------------------------------------------


def test_deleting_a_user_removes_them_and_their_sessions(admin: TestClient, app: Any) -> None:
    user_id = create_user(admin, "jane")
    browser = session(app, "jane")
    response = admin.delete(f"/api/admin/users/{user_id}")
    assert (response.status_code, response.json()) == (200, message("User deleted"))
    assert admin.get(f"/api/users/{user_id}").status_code == 404
    assert browser.get("/api/user").status_code == 401
    assert [hit["login"] for hit in admin.get("/api/users").json()] == ["admin"]


@pytest.mark.parametrize("target", ["unknown", "service account"])
def test_deleting_a_user_who_does_not_exist_is_not_found(admin: TestClient, target: str) -> None:
    user_id = 999 if target == "unknown" else create_service_account_token(admin)[0]
    response = admin.delete(f"/api/admin/users/{user_id}")
    assert (response.status_code, response.json()) == (404, message("user not found"))


# -- PUT /api/admin/users/{user_id}/password -------------------------------------------


def test_resetting_a_password_replaces_it_and_ends_every_session(
    admin: TestClient, app: Any
) -> None:
    user_id = create_user(admin, "jane")
    browser = session(app, "jane")
    response = admin.put(f"/api/admin/users/{user_id}/password", json={"password": "reset-pw"})
    assert (response.status_code, response.json()) == (200, message("User password updated"))
    assert admin.get("/api/user", auth=("jane", "reset-pw")).status_code == 200
    assert admin.get("/api/user", auth=JANE).status_code == 401
    assert browser.get("/api/user").status_code == 401


def test_resetting_the_password_of_an_unknown_user_is_not_found(admin: TestClient) -> None:
    response = admin.put("/api/admin/users/999/password", json={"password": "reset-pw"})
    assert (response.status_code, response.json()) == (404, message("user not found"))


@pytest.mark.parametrize("body", [{}, {"password": ""}])
def test_resetting_to_no_password_is_bad_request_data(admin: TestClient, body: Any) -> None:
    response = admin.put("/api/admin/users/1/password", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


def test_resetting_to_a_short_password_breaks_the_policy(admin: TestClient) -> None:
    response = admin.put("/api/admin/users/1/password", json={"password": "abc"})
    assert (response.status_code, response.json()) == (
        400,
        errutil("New password is too short", "password.password-policy-too-short", 400),
    )


# -- PUT /api/admin/users/{user_id}/permissions ----------------------------------------


def test_granting_and_revoking_grafana_admin_rights(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    granted = admin.put(f"/api/admin/users/{user_id}/permissions", json={"isGrafanaAdmin": True})
    assert (granted.status_code, granted.json()) == (200, message("User permissions updated"))
    assert admin.get("/api/users", auth=JANE).status_code == 200
    revoked = admin.put(f"/api/admin/users/{user_id}/permissions", json={"isGrafanaAdmin": False})
    assert (revoked.status_code, revoked.json()) == (200, message("User permissions updated"))
    assert admin.get(f"/api/users/{user_id}").json()["isGrafanaAdmin"] is False
    assert_access_denied(admin.get("/api/users", auth=JANE), "users:read")


def test_the_last_grafana_admin_cannot_be_demoted(admin: TestClient) -> None:
    response = admin.put("/api/admin/users/1/permissions", json={"isGrafanaAdmin": False})
    assert (response.status_code, response.json()) == (
        400,
        message("cannot remove last grafana admin"),
    )


def test_changing_rights_of_an_unknown_user_is_not_found(admin: TestClient) -> None:
    response = admin.put("/api/admin/users/999/permissions", json={"isGrafanaAdmin": True})
    assert (response.status_code, response.json()) == (404, message("user not found"))


# -- POST /api/admin/users/{user_id}/disable and /enable -------------------------------


def test_disabling_and_enabling_a_user(admin: TestClient, app: Any) -> None:
    user_id = create_user(admin, "jane")
    browser = session(app, "jane")
    disabled = admin.post(f"/api/admin/users/{user_id}/disable")
    assert (disabled.status_code, disabled.json()) == (200, message("User disabled"))
    assert admin.get(f"/api/users/{user_id}").json()["isDisabled"] is True
    assert browser.get("/api/user").status_code == 401
    enabled = admin.post(f"/api/admin/users/{user_id}/enable")
    assert (enabled.status_code, enabled.json()) == (200, message("User enabled"))
    assert admin.get("/api/user", auth=JANE).status_code == 200


@pytest.mark.parametrize("action", ["disable", "enable"])
def test_disabling_an_unknown_user_is_not_found(admin: TestClient, action: str) -> None:
    response = admin.post(f"/api/admin/users/999/{action}")
    assert (response.status_code, response.json()) == (404, message("user not found"))


@pytest.mark.parametrize("action", ["disable", "enable"])
def test_an_external_user_cannot_be_disabled_or_enabled_here(
    admin: TestClient, store: Store, action: str
) -> None:
    user_id = create_user(admin, "jane")
    store.link_external(user_id, "ldap", "cn=jane")
    response = admin.post(f"/api/admin/users/{user_id}/{action}")
    assert (response.status_code, response.json()) == (
        500,
        message(f"Could not {action} external user"),
    )


# -- orgs ------------------------------------------------------------------------------


def test_creating_an_org_makes_the_creator_its_admin(admin: TestClient) -> None:
    response = admin.post("/api/orgs", json={"name": "Second"})
    assert (response.status_code, response.json()) == (
        200,
        {"orgId": 2, "message": "Organization created"},
    )
    assert {"orgId": 2, "name": "Second", "role": "Admin"} in admin.get("/api/user/orgs").json()


def test_an_org_name_can_only_be_taken_once(admin: TestClient) -> None:
    create_org(admin, "Second")
    response = admin.post("/api/orgs", json={"name": "Second"})
    assert (response.status_code, response.json()) == (409, message("Organization name taken"))


@pytest.mark.parametrize("body", [{}, {"name": ""}])
def test_an_org_needs_a_name(admin: TestClient, body: Any) -> None:
    response = admin.post("/api/orgs", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


def test_deleting_an_org_removes_its_memberships(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane")
    response = admin.delete(f"/api/orgs/{org_id}")
    assert (response.status_code, response.json()) == (200, message("Organization deleted"))
    assert admin.get(f"/api/users/{user_id}/orgs").json() == [
        {"orgId": 1, "name": "Main Org.", "role": "Viewer"}
    ]


def test_deleting_an_unknown_org_is_not_found(admin: TestClient) -> None:
    response = admin.delete("/api/orgs/999")
    assert (response.status_code, response.json()) == (
        404,
        message("Failed to delete organization. ID not found"),
    )


def test_the_callers_current_org_cannot_be_deleted(admin: TestClient) -> None:
    response = admin.delete("/api/orgs/1")
    assert (response.status_code, response.json()) == (
        400,
        message("Can not delete org for current user"),
    )


def test_adding_a_user_to_an_org_by_login_or_email(admin: TestClient) -> None:
    jane, bob = create_user(admin, "jane"), create_user(admin, "bob")
    org_id = create_org(admin, "Second")
    by_login = admin.post(
        f"/api/orgs/{org_id}/users", json={"loginOrEmail": "JANE", "role": "Editor"}
    )
    by_email = admin.post(
        f"/api/orgs/{org_id}/users", json={"loginOrEmail": "bob@example.com", "role": "Admin"}
    )
    assert (by_login.status_code, by_login.json()) == (
        200,
        {"message": "User added to organization", "userId": jane},
    )
    assert (by_email.status_code, by_email.json()) == (
        200,
        {"message": "User added to organization", "userId": bob},
    )
    assert admin.get(f"/api/users/{bob}/orgs").json()[1] == {
        "orgId": org_id,
        "name": "Second",
        "role": "Admin",
    }


def test_adding_a_member_again_is_a_conflict(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    response = admin.post("/api/orgs/1/users", json={"loginOrEmail": "jane", "role": "Viewer"})
    assert (response.status_code, response.json()) == (
        409,
        {"message": "User is already member of this organization", "userId": user_id},
    )


@pytest.mark.parametrize("who", ["nobody", "sa-1-robot"])
def test_adding_an_unknown_user_or_a_service_account_is_not_found(
    admin: TestClient, who: str
) -> None:
    create_service_account_token(admin, name="robot")
    org_id = create_org(admin, "Second")
    response = admin.post(f"/api/orgs/{org_id}/users", json={"loginOrEmail": who, "role": "Viewer"})
    assert (response.status_code, response.json()) == (404, message("User not found"))


def test_adding_a_user_to_an_unknown_org_is_not_found(admin: TestClient) -> None:
    response = admin.post("/api/orgs/999/users", json={"loginOrEmail": "admin", "role": "Viewer"})
    assert (response.status_code, response.json()) == (404, message("Organization not found"))


@pytest.mark.parametrize(
    "body", [{"loginOrEmail": "jane", "role": "Boss"}, {"loginOrEmail": "jane"}, {"role": "Viewer"}]
)
def test_adding_a_user_with_a_malformed_body_is_bad_request_data(
    admin: TestClient, body: Any
) -> None:
    create_user(admin, "jane")
    response = admin.post("/api/orgs/1/users", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


def test_only_an_org_admin_may_add_members(admin: TestClient) -> None:
    create_user(admin, "jane")
    create_user(admin, "bob")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane", "Admin")
    refused = admin.post(
        f"/api/orgs/{org_id}/users",
        auth=("bob", PASSWORD),
        json={"loginOrEmail": "bob", "role": "Admin"},
    )
    allowed = admin.post(
        f"/api/orgs/{org_id}/users", auth=JANE, json={"loginOrEmail": "bob", "role": "Viewer"}
    )
    assert_access_denied(refused, "org.users:add")
    assert (allowed.status_code, allowed.json()["message"]) == (200, "User added to organization")


# -- teams -----------------------------------------------------------------------------


def test_creating_a_team_answers_its_id_and_uid(admin: TestClient) -> None:
    response = admin.post("/api/teams", json={"name": "Ops", "email": "ops@example.com"})
    body = response.json()
    assert response.status_code == 200
    assert UID.match(body.pop("uid"))
    assert body == {"teamId": 1, "message": "Team created"}


def test_a_team_name_is_unique_in_its_org(admin: TestClient) -> None:
    create_team(admin, "Ops")
    response = admin.post("/api/teams", json={"name": "Ops"})
    assert (response.status_code, response.json()) == (409, message("Team name taken"))


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "Ops", "email": 7}])
def test_a_team_needs_a_name(admin: TestClient, body: Any) -> None:
    response = admin.post("/api/teams", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


def test_org_viewers_may_not_manage_teams(admin: TestClient) -> None:
    create_user(admin, "jane")
    team_id = create_team(admin, "Ops")
    for method, path, body, action in [
        ("POST", "/api/teams", {"name": "Mine"}, "teams:create"),
        ("DELETE", f"/api/teams/{team_id}", None, "teams:delete"),
        ("POST", f"/api/teams/{team_id}/members", {"userId": 2}, "teams.permissions:write"),
    ]:
        assert_access_denied(admin.request(method, path, auth=JANE, json=body), action)


def test_deleting_a_team(admin: TestClient) -> None:
    team_id = create_team(admin, "Ops")
    response = admin.delete(f"/api/teams/{team_id}")
    assert (response.status_code, response.json()) == (200, message("Team deleted"))
    assert admin.get("/api/user/teams").json() == []


def test_deleting_an_unknown_team_is_not_found(admin: TestClient) -> None:
    response = admin.delete("/api/teams/999")
    assert (response.status_code, response.json()) == (
        404,
        message("Failed to delete Team. ID not found"),
    )


def test_adding_team_members(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    team_id = create_team(admin, "Ops")
    added = admin.post(f"/api/teams/{team_id}/members", json={"userId": user_id})
    again = admin.post(f"/api/teams/{team_id}/members", json={"userId": user_id})
    assert (added.status_code, added.json()) == (200, message("Member added to Team"))
    assert (again.status_code, again.json()) == (400, message("User is already added to this team"))
    assert [t["memberCount"] for t in admin.get("/api/user/teams", auth=JANE).json()] == [2]


def test_adding_a_member_to_an_unknown_team_is_not_found(admin: TestClient) -> None:
    response = admin.post("/api/teams/999/members", json={"userId": 1})
    assert (response.status_code, response.json()) == (404, message("Team not found"))


def test_adding_an_unknown_user_to_a_team_is_not_found(admin: TestClient) -> None:
    team_id = create_team(admin, "Ops")
    response = admin.post(f"/api/teams/{team_id}/members", json={"userId": 999})
    assert (response.status_code, response.json()) == (404, message("User not found"))


@pytest.mark.parametrize("body", [{}, {"userId": 0}, {"userId": "2"}])
def test_adding_a_team_member_without_a_user_id_is_bad_request_data(
    admin: TestClient, body: Any
) -> None:
    team_id = create_team(admin, "Ops")
    response = admin.post(f"/api/teams/{team_id}/members", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


# -- dashboards ------------------------------------------------------------------------


def test_saving_a_new_dashboard(admin: TestClient) -> None:
    response = admin.post(
        "/api/dashboards/db", json={"dashboard": {"id": None, "uid": None, "title": "My Board!"}}
    )
    body = response.json()
    assert response.status_code == 200
    uid = body.pop("uid")
    assert UID.match(uid)
    assert body == {
        "id": 1,
        "url": f"/d/{uid}/my-board",
        "status": "success",
        "version": 1,
        "slug": "my-board",
        "folderUid": "",
    }


def test_saving_a_dashboard_with_its_uid_again_makes_a_new_version(admin: TestClient) -> None:
    create_dashboard(admin, "Board", uid="board-1")
    response = admin.post(
        "/api/dashboards/db", json={"dashboard": {"uid": "board-1", "title": "Renamed"}}
    )
    assert (response.status_code, response.json()) == (
        200,
        {
            "id": 1,
            "uid": "board-1",
            "url": "/d/board-1/renamed",
            "status": "success",
            "version": 2,
            "slug": "renamed",
            "folderUid": "",
        },
    )


def test_a_dashboard_title_is_unique_in_its_folder(admin: TestClient) -> None:
    create_dashboard(admin, "Board")
    response = admin.post("/api/dashboards/db", json={"dashboard": {"title": "Board"}})
    assert (response.status_code, response.json()) == (
        412,
        {
            "message": "A dashboard with the same name in the folder already exists",
            "status": "name-exists",
        },
    )


def test_overwrite_takes_over_the_dashboard_of_the_same_title(admin: TestClient) -> None:
    create_dashboard(admin, "Board", uid="board-1")
    response = admin.post(
        "/api/dashboards/db", json={"dashboard": {"title": "Board"}, "overwrite": True}
    )
    assert (response.status_code, response.json()) == (
        200,
        {
            "id": 1,
            "uid": "board-1",
            "url": "/d/board-1/board",
            "status": "success",
            "version": 2,
            "slug": "board",
            "folderUid": "",
        },
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"dashboard": {}},
        {"dashboard": {"title": ""}},
        {"dashboard": {"title": "x", "uid": "u" * 41}},
    ],
)
def test_a_dashboard_needs_a_title(admin: TestClient, body: Any) -> None:
    response = admin.post("/api/dashboards/db", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


@pytest.mark.parametrize("uid", ["has space", "ctl\x02", "slash/uid", "dot.uid", "é"])
def test_a_dashboard_uid_is_letters_digits_dash_and_underscore(admin: TestClient, uid: str) -> None:
    body = {"dashboard": {"title": "Odd", "uid": uid}}
    response = admin.post("/api/dashboards/db", json=body)
    assert (response.status_code, response.json()) == (
        400,
        message("uid contains illegal characters"),
    )
    fine = {"dashboard": {"title": "Fine", "uid": "A-z_0" + "9" * 35}}
    assert admin.post("/api/dashboards/db", json=fine).status_code == 200


def test_deleting_a_dashboard(admin: TestClient) -> None:
    saved = create_dashboard(admin, "Board", uid="board-1")
    response = admin.delete("/api/dashboards/uid/board-1")
    assert (response.status_code, response.json()) == (
        200,
        {"title": "Board", "message": "Dashboard Board deleted", "id": saved["id"]},
    )
    again = admin.delete("/api/dashboards/uid/board-1")
    assert (again.status_code, again.json()) == (404, message("Dashboard not found"))


def test_org_viewers_may_not_save_or_delete_dashboards(admin: TestClient) -> None:
    create_user(admin, "jane")
    create_dashboard(admin, "Board", uid="board-1")
    saved = admin.post("/api/dashboards/db", auth=JANE, json={"dashboard": {"title": "Mine"}})
    deleted = admin.delete("/api/dashboards/uid/board-1", auth=JANE)
    assert_access_denied(saved, "dashboards:create")
    assert_access_denied(deleted, "dashboards:delete")


# -- service accounts and tokens -------------------------------------------------------


def test_creating_a_service_account(admin: TestClient) -> None:
    response = admin.post(
        "/api/serviceaccounts", json={"name": "CI Robot", "role": "Editor", "isDisabled": False}
    )
    body = response.json()
    assert response.status_code == 201
    assert UID.match(body.pop("uid"))
    assert body == {
        "id": 2,
        "name": "CI Robot",
        "login": "sa-1-ci-robot",
        "orgId": 1,
        "isDisabled": False,
        "role": "Editor",
        "tokens": 0,
        "avatarUrl": "/avatar/f9c44a4f3c13cec3ed90c3b34ea339a1",
    }


def test_a_service_account_name_is_unique(admin: TestClient) -> None:
    create_service_account_token(admin, name="robot")
    response = admin.post("/api/serviceaccounts", json={"name": "Robot"})
    assert (response.status_code, response.json()) == (
        400,
        errutil("service account already exists", "serviceaccounts.ErrAlreadyExists", 400),
    )


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x", "role": "Boss"}])
def test_a_service_account_needs_a_name_and_a_valid_role(admin: TestClient, body: Any) -> None:
    response = admin.post("/api/serviceaccounts", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


def test_a_service_account_token_authenticates_as_bearer_and_as_basic_api_key(
    admin: TestClient, client: TestClient
) -> None:
    account_id, token = create_service_account_token(admin, name="robot")
    assert re.fullmatch(r"glsa_[A-Za-z0-9]{32}_[0-9a-f]{8}", token)
    as_bearer = client.get("/api/user", headers=bearer(token))
    as_basic = client.get("/api/user", auth=("api_key", token))
    assert (as_bearer.status_code, as_bearer.json()["uid"]) == (
        200,
        f"service-account:{account_id}",
    )
    assert (as_basic.status_code, as_basic.json()) == (200, as_bearer.json())


def test_creating_a_token_for_an_unknown_service_account_is_not_found(
    admin: TestClient,
) -> None:
    for account_id in (999, 1):  # nobody, and a user who is no service account
        response = admin.post(f"/api/serviceaccounts/{account_id}/tokens", json={"name": "t"})
        assert (response.status_code, response.json()) == (
            404,
            message("service account not found"),
        )


def test_a_token_name_is_unique(admin: TestClient) -> None:
    account_id, _ = create_service_account_token(admin, name="robot")
    response = admin.post(f"/api/serviceaccounts/{account_id}/tokens", json={"name": "robot-token"})
    assert (response.status_code, response.json()) == (
        400,
        errutil(
            "service account token with given name already exists",
            "serviceaccounts.ErrTokenAlreadyExists",
            400,
        ),
    )


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "t", "secondsToLive": "1h"}])
def test_a_token_needs_a_name(admin: TestClient, body: Any) -> None:
    account_id, _ = create_service_account_token(admin, name="robot")
    response = admin.post(f"/api/serviceaccounts/{account_id}/tokens", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


def test_a_token_stops_working_when_it_expires(
    admin: TestClient, client: TestClient, store: Store
) -> None:
    account_id, _ = create_service_account_token(admin, name="robot")
    response = admin.post(
        f"/api/serviceaccounts/{account_id}/tokens", json={"name": "short", "secondsToLive": 3600}
    )
    token = response.json()["key"]
    assert client.get("/api/user", headers=bearer(token)).status_code == 200
    with store.db.write() as conn:
        conn.execute(
            update(api_keys).where(api_keys.c.name == "short").values(expires=int(time.time()) - 1)
        )
    expired = client.get("/api/user", headers=bearer(token))
    assert (expired.status_code, expired.json()) == (
        401,
        errutil("Invalid API key", "api-key.invalid", 401),
    )


def test_tokens_of_a_disabled_service_account_do_not_work(
    admin: TestClient, client: TestClient
) -> None:
    response = admin.post("/api/serviceaccounts", json={"name": "sleepy", "isDisabled": True})
    account_id = response.json()["id"]
    token = admin.post(f"/api/serviceaccounts/{account_id}/tokens", json={"name": "t"}).json()[
        "key"
    ]
    refused = client.get("/api/user", headers=bearer(token))
    assert (refused.status_code, refused.json()) == (
        401,
        errutil("Invalid API key", "api-key.invalid", 401),
    )


def test_org_viewers_may_not_manage_service_accounts(admin: TestClient) -> None:
    create_user(admin, "jane")
    account_id, _ = create_service_account_token(admin, name="robot")
    created = admin.post("/api/serviceaccounts", auth=JANE, json={"name": "mine"})
    token = admin.post(
        f"/api/serviceaccounts/{account_id}/tokens", auth=JANE, json={"name": "mine"}
    )
    assert_access_denied(created, "serviceaccounts:create")
    assert_access_denied(token, "serviceaccounts:write")


# -- health, metrics, the spec and its docs --------------------------------------------


def test_health_needs_no_credentials(client: TestClient) -> None:
    response = client.get("/api/health")
    assert (response.status_code, response.json()) == (
        200,
        {"commit": "0.1.0", "database": "ok", "version": "11.6.0-userapi"},
    )


def test_health_reports_a_failing_database_with_503(
    client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "ping", lambda: False)
    response = client.get("/api/health")
    assert (response.status_code, response.json()) == (
        503,
        {"commit": "0.1.0", "database": "failing", "version": "11.6.0-userapi"},
    )


def _counter(client: TestClient, labels: str) -> float:
    """The value of one http_requests_total series in /metrics (0 when absent)."""
    prefix = f"http_requests_total{{{labels}}} "
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.removeprefix(prefix))
    return 0.0


def test_metrics_count_requests_per_route_and_status(admin: TestClient, client: TestClient) -> None:
    ok = 'method="GET",route="/api/users/{id}",status="200"'
    missing = 'method="GET",route="/api/users/{id}",status="404"'
    before = (_counter(client, ok), _counter(client, missing))
    admin.get("/api/users/1")
    admin.get("/api/users/2")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    # The app serves many tests, so count what these two requests added.
    assert (_counter(client, ok) - before[0], _counter(client, missing) - before[1]) == (1, 1)


def test_the_contract_is_served_as_json(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    assert response.json() == json.loads(json.dumps(yaml.safe_load(SPEC.read_text())))


def test_the_interactive_docs_are_served(client: TestClient) -> None:
    response = client.get("/docs/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Swagger UI</title>" in response.text


def test_a_failed_basic_login_to_the_admin_api_is_unauthorized(client: TestClient) -> None:
    response = client.get("/api/users", auth=("admin", "wrong"))
    assert (response.status_code, response.json()) == (401, BAD_CREDENTIALS)
