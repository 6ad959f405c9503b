"""Form login and logout, and what a Grafana admin does to users through /api/admin/users."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from handlers.store import Store
from tests.support.api import (
    BAD_CREDENTIALS,
    BAD_REQUEST_DATA,
    JANE,
    PASSWORD,
    UID,
    UNAUTHORIZED,
    assert_access_denied,
    create_org,
    create_service_account_token,
    create_user,
    errutil,
    message,
    session,
)

PERMISSION_DENIED = message("Permission denied")


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


def test_the_login_page_sends_a_signed_in_browser_home(admin: TestClient, app: Any) -> None:
    """Grafana's login view redirects a caller whose session is live (pkg/api/login.go)."""
    create_user(admin, "jane")
    browser = session(app, "jane")
    home = browser.get("/login", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (302, "/")
    browser.get("/logout", follow_redirects=False)
    form = browser.get("/login", follow_redirects=False)
    assert (form.status_code, form.headers["content-type"]) == (200, "text/html; charset=utf-8")
    stale = browser.get("/login", cookies={"grafana_session": "no-such-session"})
    assert stale.status_code == 200


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


def test_a_new_login_may_be_another_users_email_as_in_grafana(admin: TestClient) -> None:
    """Grafana compares a new login with logins and a new e-mail with e-mails only."""
    jane = create_user(admin, "jane")  # e-mail jane@example.com
    body = {"login": "jane@example.com", "email": "jane", "password": PASSWORD}
    response = admin.post("/api/admin/users", json=body)
    assert response.status_code == 200, response.text
    other = admin.get(f"/api/users/{response.json()['id']}").json()
    assert (other["login"], other["email"]) == ("jane@example.com", "jane")
    assert admin.get(f"/api/users/{jane}").json()["login"] == "jane"


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


def test_resetting_the_password_of_an_unknown_user_is_a_500_as_in_grafana(
    admin: TestClient,
) -> None:
    response = admin.put("/api/admin/users/999/password", json={"password": "reset-pw"})
    assert (response.status_code, response.json()) == (
        500,
        message("Failed to update user password"),
    )


@pytest.mark.grafana("11.6")
def test_an_older_grafana_words_that_500_differently(admin: TestClient) -> None:
    response = admin.put("/api/admin/users/999/password", json={"password": "reset-pw"})
    assert (response.status_code, response.json()) == (
        500,
        message("Could not read user from database"),
    )


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


def test_changing_rights_of_an_unknown_user_is_a_500_as_in_grafana(admin: TestClient) -> None:
    response = admin.put("/api/admin/users/999/permissions", json={"isGrafanaAdmin": True})
    assert (response.status_code, response.json()) == (
        500,
        message("Failed to update user permissions"),
    )


@pytest.mark.grafana("11.6")
def test_an_older_grafana_reports_success_for_rights_of_an_unknown_user(
    admin: TestClient,
) -> None:
    response = admin.put("/api/admin/users/999/permissions", json={"isGrafanaAdmin": True})
    assert (response.status_code, response.json()) == (200, message("User permissions updated"))


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
