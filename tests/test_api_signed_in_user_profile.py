"""Operations tagged `signed_in_user`: the caller's own profile, password, orgs and teams."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from handlers.store import Store
from tests.support.api import (
    BAD_CREDENTIALS,
    JANE,
    PASSWORD,
    TIMESTAMP,
    UID,
    UNAUTHORIZED,
    add_org_user,
    add_team_member,
    bearer,
    create_org,
    create_service_account_token,
    create_team,
    create_user,
    errutil,
    jane_profile,
    message,
    session,
    team_entry,
)

# -- GET /api/user ---------------------------------------------------------------------


def test_the_signed_in_user_gets_their_own_profile(admin: TestClient) -> None:
    user_id = create_user(admin, "jane", name="Jane Doe")
    response = admin.get("/api/user", auth=JANE)
    body = response.json()
    assert response.status_code == 200
    assert UID.match(body.pop("uid"))
    assert TIMESTAMP.match(body.pop("createdAt")) and TIMESTAMP.match(body.pop("updatedAt"))
    assert body == jane_profile(user_id)


def test_the_profile_is_the_same_as_the_admin_view_of_the_user(admin: TestClient, app: Any) -> None:
    user_id = create_user(admin, "jane")
    by_session = session(app, "jane").get("/api/user")
    assert (by_session.status_code, by_session.json()) == (
        200,
        admin.get(f"/api/users/{user_id}").json(),
    )


@pytest.mark.parametrize("module", ["ldap", "oauth_github"])
def test_an_external_user_sees_their_external_profile_by_password_and_session(
    admin: TestClient, app: Any, store: Store, module: str
) -> None:
    user_id = create_user(admin, "jane")
    store.link_external(user_id, module, "jane-ext")
    expected = admin.get(f"/api/users/{user_id}").json()
    assert expected["isExternal"] is True and expected["authLabels"]
    by_password = admin.get("/api/user", auth=JANE)
    by_session = session(app, "jane").get("/api/user")
    assert by_password.json() == by_session.json() == expected


def test_the_profile_follows_a_rename_on_the_next_request(admin: TestClient) -> None:
    user_id = create_user(admin, "jane", name="Jane")
    assert admin.get("/api/user", auth=JANE).json()["name"] == "Jane"
    renamed = admin.put(f"/api/users/{user_id}", json={"name": "Jane Roe", "login": "jane"})
    assert renamed.status_code == 200
    assert admin.get("/api/user", auth=JANE).json()["name"] == "Jane Roe"


def test_a_service_account_token_gets_a_minimal_profile(
    admin: TestClient, client: TestClient
) -> None:
    account_id, token = create_service_account_token(admin, name="robot")
    response = client.get("/api/user", headers=bearer(token))
    assert (response.status_code, response.json()) == (
        200,
        {
            "id": 0,
            "uid": f"service-account:{account_id}",
            "email": "",
            "name": "sa-1-robot",
            "login": "sa-1-robot",
            "theme": "",
            "orgId": 1,
            "isGrafanaAdmin": False,
            "isDisabled": False,
            "isExternal": False,
            "isExternallySynced": False,
            "isGrafanaAdminExternallySynced": False,
            "authLabels": None,
            "updatedAt": "0001-01-01T00:00:00Z",
            "createdAt": "0001-01-01T00:00:00Z",
            "avatarUrl": "",
        },
    )


def test_an_anonymous_caller_has_no_profile(client: TestClient) -> None:
    response = client.get("/api/user")
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


# -- service accounts on user-only operations ------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/api/user", {"login": "x"}),
        ("PUT", "/api/user/password", {"oldPassword": "a", "newPassword": "bbbbbb"}),
        ("POST", "/api/user/using/1", None),
        ("GET", "/api/user/orgs", None),
        ("GET", "/api/user/teams", None),
    ],
)
def test_a_service_account_gets_304_without_a_body_where_only_users_make_sense(
    admin: TestClient, client: TestClient, method: str, path: str, body: Any
) -> None:
    _, token = create_service_account_token(admin)
    response = client.request(method, path, headers=bearer(token), json=body)
    assert (response.status_code, response.content) == (304, b"")


def test_a_service_account_may_not_list_session_tokens(
    admin: TestClient, client: TestClient
) -> None:
    _, token = create_service_account_token(admin)
    response = client.get("/api/user/auth-tokens", headers=bearer(token))
    assert (response.status_code, response.json()) == (
        403,
        message("entity not allowed to get tokens"),
    )


def test_a_service_account_may_not_revoke_session_tokens(
    admin: TestClient, client: TestClient
) -> None:
    _, token = create_service_account_token(admin)
    response = client.post(
        "/api/user/revoke-auth-token", headers=bearer(token), json={"authTokenId": 1}
    )
    assert (response.status_code, response.json()) == (
        403,
        message("entity not allowed to revoke tokens"),
    )


def test_a_service_accounts_malformed_revoke_body_is_refused_before_its_identity(
    admin: TestClient, client: TestClient
) -> None:
    _, token = create_service_account_token(admin)
    response = client.post(
        "/api/user/revoke-auth-token", headers=bearer(token), json={"authTokenId": "x"}
    )
    assert (response.status_code, response.json()) == (400, message("bad request data"))


# -- PUT /api/user ---------------------------------------------------------------------


def test_users_may_update_themselves_and_then_sign_in_with_the_new_login(
    admin: TestClient,
) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user", auth=JANE, json={"login": " JDoe ", "name": "J", "theme": "dark"}
    )
    assert (response.status_code, response.json()) == (200, message("User updated"))
    renamed = admin.get("/api/user", auth=("jdoe", PASSWORD))
    body = renamed.json()
    assert renamed.status_code == 200
    assert (body["login"], body["email"], body["name"], body["theme"]) == (
        "jdoe",
        "jane@example.com",
        "J",
        "dark",
    )
    gone = admin.get("/api/user", auth=JANE)
    assert (gone.status_code, gone.json()) == (401, BAD_CREDENTIALS)


def test_a_self_update_without_login_or_email_is_a_bad_request(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put("/api/user", auth=JANE, json={"name": "Nameless"})
    assert (response.status_code, response.json()) == (
        400,
        errutil("Need to specify either username or email", "user.empty-username-and-email", 400),
    )


@pytest.mark.grafana("11.6")  # from 12.0 the clash is a 500 (update-conflict-500)
def test_a_self_update_into_another_login_is_a_conflict(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put("/api/user", auth=JANE, json={"login": "Admin"})
    assert (response.status_code, response.json()) == (
        409,
        message("Update would result in user login conflict"),
    )


def test_an_external_user_may_not_update_themselves(admin: TestClient, store: Store) -> None:
    user_id = create_user(admin, "jane")
    store.link_external(user_id, "oauth_github", "1234")
    response = admin.put("/api/user", auth=JANE, json={"login": "jane2"})
    assert (response.status_code, response.json()) == (403, message("Cannot update external User"))


def test_a_self_update_with_invalid_json_is_bad_request_data(admin: TestClient) -> None:
    response = admin.put(
        "/api/user", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()) == (400, message("bad request data"))


# -- PUT /api/user/password ------------------------------------------------------------


def test_changing_the_password_makes_only_the_new_one_work(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": PASSWORD, "newPassword": "brand-new"}
    )
    assert (response.status_code, response.json()) == (200, message("User password changed"))
    assert admin.get("/api/user", auth=("jane", "brand-new")).status_code == 200
    old = admin.get("/api/user", auth=JANE)
    assert (old.status_code, old.json()) == (401, BAD_CREDENTIALS)


def test_changing_the_password_keeps_existing_sessions(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    browser = session(app, "jane")
    admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": PASSWORD, "newPassword": "brand-new"}
    )
    response = browser.get("/api/user")
    assert (response.status_code, response.json()["login"]) == (200, "jane")


def test_changing_the_password_ignores_confirm_new(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user/password",
        auth=JANE,
        json={"oldPassword": PASSWORD, "newPassword": "brand-new", "confirmNew": "different"},
    )
    assert (response.status_code, response.json()) == (200, message("User password changed"))


def test_changing_the_password_with_a_wrong_old_password_is_refused(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": "wrong", "newPassword": "brand-new"}
    )
    assert (response.status_code, response.json()) == (
        400,
        errutil("Invalid old password", "user.password-missmatch", 400),
    )
    assert admin.get("/api/user", auth=JANE).status_code == 200


@pytest.mark.parametrize("new", ["", "abc", "é"])
def test_a_new_password_under_four_bytes_is_too_short(admin: TestClient, new: str) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": PASSWORD, "newPassword": new}
    )
    assert (response.status_code, response.json()) == (
        400,
        errutil("New password is too short", "password.password-policy-too-short", 400),
    )


@pytest.mark.parametrize("new", ["abcd", "éé"])
def test_a_new_password_of_four_bytes_is_long_enough(admin: TestClient, new: str) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": PASSWORD, "newPassword": new}
    )
    assert (response.status_code, response.json()) == (200, message("User password changed"))
    assert admin.get("/api/user", auth=("jane", new)).status_code == 200


def test_the_old_password_is_checked_before_the_new_one(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": "wrong", "newPassword": "x"}
    )
    assert (response.status_code, response.json()["message"]) == (400, "Invalid old password")


def test_an_external_user_may_not_change_their_password(admin: TestClient, store: Store) -> None:
    user_id = create_user(admin, "jane")
    store.link_external(user_id, "ldap", "cn=jane")
    response = admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": PASSWORD, "newPassword": "brand-new"}
    )
    assert (response.status_code, response.json()) == (403, message("Cannot update external User"))


# -- POST /api/user/using/{org_id} -----------------------------------------------------


def test_users_may_switch_to_an_org_they_belong_to(admin: TestClient) -> None:
    create_user(admin, "jane")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane", "Editor")
    response = admin.post(f"/api/user/using/{org_id}", auth=JANE)
    assert (response.status_code, response.json()) == (200, message("Active organization changed"))
    assert admin.get("/api/user", auth=JANE).json()["orgId"] == org_id


@pytest.mark.parametrize("org", ["other", "missing"])
def test_switching_to_an_org_one_is_not_in_is_unauthorized(admin: TestClient, org: str) -> None:
    create_user(admin, "jane")
    org_id = create_org(admin, "Second") if org == "other" else 999
    response = admin.post(f"/api/user/using/{org_id}", auth=JANE)
    assert (response.status_code, response.json()) == (401, message("Not a valid organization"))
    assert admin.get("/api/user", auth=JANE).json()["orgId"] == 1


def test_switching_to_a_negative_org_id_parses_and_is_no_valid_organization(
    admin: TestClient,
) -> None:
    response = admin.post("/api/user/using/-1")
    assert (response.status_code, response.json()) == (401, message("Not a valid organization"))


# -- GET /api/user/orgs ----------------------------------------------------------------


def test_own_orgs_are_listed_by_name_ignoring_case(admin: TestClient) -> None:
    create_user(admin, "jane")
    beta, alpha = create_org(admin, "beta"), create_org(admin, "Alpha")
    add_org_user(admin, beta, "jane", "Admin")
    add_org_user(admin, alpha, "jane", "None")
    response = admin.get("/api/user/orgs", auth=JANE)
    assert (response.status_code, response.json()) == (
        200,
        [
            {"orgId": alpha, "name": "Alpha", "role": "None"},
            {"orgId": beta, "name": "beta", "role": "Admin"},
            {"orgId": 1, "name": "Main Org.", "role": "Viewer"},
        ],
    )


# -- GET /api/user/teams ---------------------------------------------------------------


def test_own_teams_are_those_of_the_current_org(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    main_team = create_team(admin, "Team 1", email="team@example.com")
    add_team_member(admin, main_team, user_id)
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane")
    admin.post(f"/api/user/using/{org_id}")
    add_team_member(admin, create_team(admin, "Elsewhere"), user_id)
    response = admin.get("/api/user/teams", auth=JANE)
    body = response.json()
    assert response.status_code == 200
    assert UID.match(body[0].pop("uid"))
    assert body == [
        team_entry(
            main_team, "Team 1", "team@example.com", "/avatar/ff1637bedfa6369cbcc915bdabd290f5", 2
        )
    ]


def test_a_team_creator_is_its_admin_member(admin: TestClient) -> None:
    team_id = create_team(admin, "team1")
    response = admin.get("/api/user/teams")
    body = response.json()
    assert response.status_code == 200
    assert [(t["id"], t["memberCount"], t["permission"], t["avatarUrl"]) for t in body] == [
        (team_id, 1, 4, "/avatar/3fcfe295eae3bcb67a49349377428a66")
    ]


def test_a_user_in_no_team_has_an_empty_team_list(admin: TestClient) -> None:
    create_user(admin, "jane")
    create_team(admin, "Not Janes")
    response = admin.get("/api/user/teams", auth=JANE)
    assert (response.status_code, response.json()) == (200, [])
