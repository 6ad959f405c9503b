"""Operations tagged `users` on one user by id: read, update, orgs and teams, switching org."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from handlers.store import Store
from tests.support.api import (
    PASSWORD,
    UID,
    add_org_user,
    add_team_member,
    assert_profile_times,
    create_org,
    create_service_account_token,
    create_team,
    create_user,
    errutil,
    jane_profile,
    message,
    set_columns,
    team_entry,
)

NEED_LOGIN = errutil(
    "Need to specify either username or email", "user.empty-username-and-email", 400
)


# -- GET /api/users/{user_id} ----------------------------------------------------------


def test_get_user_by_id_returns_the_full_profile(admin: TestClient) -> None:
    user_id = create_user(admin, "Jane", email="Jane@Example.com", name="Jane Doe")
    response = admin.get(f"/api/users/{user_id}")
    body = assert_profile_times(response.json())
    assert response.status_code == 200
    assert UID.match(body.pop("uid"))
    assert body == jane_profile(user_id)


def test_get_user_by_id_shows_an_external_users_auth_label(admin: TestClient, store: Store) -> None:
    user_id = create_user(admin, "ldapuser")
    store.link_external(user_id, "ldap", "cn=ldapuser")
    body = admin.get(f"/api/users/{user_id}").json()
    assert (body["isExternal"], body["authLabels"]) == (True, ["LDAP"])


def test_get_user_by_id_has_no_avatar_for_a_user_without_email(
    admin: TestClient, store: Store
) -> None:
    user_id = create_user(admin, "noemail")
    set_columns(store, user_id, email="")
    response = admin.get(f"/api/users/{user_id}")
    assert (response.status_code, response.json()["avatarUrl"]) == (200, "")


@pytest.mark.parametrize("user_id", ["0", "999", "9223372036854775807"])
def test_get_user_by_unknown_id_is_not_found(admin: TestClient, user_id: str) -> None:
    response = admin.get(f"/api/users/{user_id}")
    assert (response.status_code, response.json()) == (404, message("user not found"))


def test_get_user_by_id_of_a_service_account_is_not_found(admin: TestClient) -> None:
    account_id, _ = create_service_account_token(admin)
    response = admin.get(f"/api/users/{account_id}")
    assert (response.status_code, response.json()) == (404, message("user not found"))


def test_a_negative_user_id_parses_and_names_no_user(admin: TestClient) -> None:
    response = admin.get("/api/users/-5")
    assert (response.status_code, response.json()) == (404, message("user not found"))


@pytest.mark.parametrize("user_id", ["abc", "9223372036854775808", "1_0"])
def test_a_user_id_that_is_no_integer_is_looked_up_as_a_uid(
    admin: TestClient, user_id: str
) -> None:
    response = admin.get(f"/api/users/{user_id}")
    assert (response.status_code, response.json()) == (404, message("User not found"))


def test_a_uid_is_looked_up_only_for_an_authenticated_caller(client: TestClient) -> None:
    """Grafana's resolver runs after authentication: no credentials, no lookup (401)."""
    response = client.get("/api/users/no-such-uid")
    assert response.status_code == 401


def test_every_users_route_takes_the_uid_in_place_of_the_id(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    uid = admin.get(f"/api/users/{user_id}").json()["uid"]
    assert admin.get(f"/api/users/{uid}").json()["id"] == user_id
    assert admin.get(f"/api/users/{uid}/orgs").status_code == 200
    disabled = admin.post(f"/api/admin/users/{uid}/disable")
    assert (disabled.status_code, disabled.json()) == (200, message("User disabled"))


@pytest.mark.grafana("11.2")
@pytest.mark.parametrize("user_id", ["abc", "9223372036854775808"])
def test_before_11_4_a_user_id_that_is_no_integer_is_invalid(
    admin: TestClient, user_id: str
) -> None:
    response = admin.get(f"/api/users/{user_id}")
    assert (response.status_code, response.json()) == (400, message("id is invalid"))


# -- PUT /api/users/{user_id} ----------------------------------------------------------


def test_update_user_changes_every_given_field(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    response = admin.put(
        f"/api/users/{user_id}",
        json={"login": "jdoe", "email": "jdoe@example.org", "name": "J. Doe", "theme": "light"},
    )
    assert (response.status_code, response.json()) == (200, message("User updated"))
    body = admin.get(f"/api/users/{user_id}").json()
    assert (body["login"], body["email"], body["name"], body["theme"]) == (
        "jdoe",
        "jdoe@example.org",
        "J. Doe",
        "light",
    )


def test_update_user_trims_and_lower_cases_login_and_email_but_not_name(
    admin: TestClient,
) -> None:
    user_id = create_user(admin, "jane")
    response = admin.put(
        f"/api/users/{user_id}",
        json={"login": "  JDoe ", "email": " JDoe@Example.ORG\t", "name": " Jane "},
    )
    body = admin.get(f"/api/users/{user_id}").json()
    assert response.status_code == 200
    assert (body["login"], body["email"], body["name"]) == ("jdoe", "jdoe@example.org", " Jane ")


def test_update_user_keeps_fields_sent_empty(admin: TestClient) -> None:
    user_id = create_user(admin, "jane", name="Jane")
    admin.put(f"/api/users/{user_id}", json={"theme": "dark", "login": "jane"})
    response = admin.put(
        f"/api/users/{user_id}", json={"login": "jane", "email": "", "name": "", "theme": ""}
    )
    body = admin.get(f"/api/users/{user_id}").json()
    assert response.status_code == 200
    assert (body["email"], body["name"], body["theme"]) == ("jane@example.com", "Jane", "dark")


def test_update_user_with_only_an_email_makes_it_the_login_too(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    response = admin.put(f"/api/users/{user_id}", json={"email": "New@Example.org"})
    body = admin.get(f"/api/users/{user_id}").json()
    assert response.status_code == 200
    assert (body["login"], body["email"]) == ("new@example.org", "new@example.org")


def test_update_user_accepts_any_theme_text(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    response = admin.put(f"/api/users/{user_id}", json={"login": "jane", "theme": "neon"})
    assert (response.status_code, admin.get(f"/api/users/{user_id}").json()["theme"]) == (
        200,
        "neon",
    )


@pytest.mark.parametrize("body", [{}, {"name": "Only Name"}, {"login": "  ", "email": ""}])
def test_update_user_without_login_or_email_is_a_bad_request(
    admin: TestClient, body: dict[str, str]
) -> None:
    user_id = create_user(admin, "jane")
    response = admin.put(f"/api/users/{user_id}", json=body)
    assert (response.status_code, response.json()) == (400, NEED_LOGIN)


@pytest.mark.parametrize(
    "body",
    [
        {"login": "BOB"},  # another user's login, differently cased
        {"login": "jane", "email": "Bob@Example.com"},  # another user's e-mail
    ],
)
@pytest.mark.grafana("11.6")  # from 12.0 the clash is a 500 (update-conflict-500)
def test_update_user_into_another_users_login_or_email_is_a_conflict(
    admin: TestClient, body: dict[str, str]
) -> None:
    user_id = create_user(admin, "jane")
    create_user(admin, "bob")
    response = admin.put(f"/api/users/{user_id}", json=body)
    assert (response.status_code, response.json()) == (
        409,
        message("Update would result in user login conflict"),
    )


def test_update_user_may_keep_its_own_login_and_email(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    response = admin.put(
        f"/api/users/{user_id}", json={"login": "JANE", "email": "jane@example.com"}
    )
    assert (response.status_code, response.json()) == (200, message("User updated"))


def test_update_of_an_external_user_is_forbidden(admin: TestClient, store: Store) -> None:
    user_id = create_user(admin, "ldapuser")
    store.link_external(user_id, "ldap", "cn=ldapuser")
    response = admin.put(f"/api/users/{user_id}", json={"login": "other"})
    assert (response.status_code, response.json()) == (403, message("Cannot update external User"))


def test_update_of_an_unknown_user_is_not_found(admin: TestClient) -> None:
    response = admin.put("/api/users/999", json={"login": "ghost"})
    assert (response.status_code, response.json()) == (404, message("user not found"))


def test_update_of_a_service_account_is_not_found(admin: TestClient) -> None:
    account_id, _ = create_service_account_token(admin)
    response = admin.put(f"/api/users/{account_id}", json={"login": "hijack"})
    assert (response.status_code, response.json()) == (404, message("user not found"))


@pytest.mark.parametrize("body", [{"login": 5}, {"login": "x", "name": ["a"]}, ["login"]])
def test_update_user_with_a_body_of_the_wrong_shape_is_bad_request_data(
    admin: TestClient, body: Any
) -> None:
    user_id = create_user(admin, "jane")
    response = admin.put(f"/api/users/{user_id}", json=body)
    assert (response.status_code, response.json()) == (400, message("bad request data"))
    assert admin.get(f"/api/users/{user_id}").json()["login"] == "jane"


def test_update_user_ignores_unknown_fields(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    response = admin.put(f"/api/users/{user_id}", json={"login": "jane", "isGrafanaAdmin": True})
    body = admin.get(f"/api/users/{user_id}").json()
    assert (response.status_code, body["isGrafanaAdmin"]) == (200, False)


def test_update_user_moves_updated_at_but_not_created_at(admin: TestClient, store: Store) -> None:
    user_id = create_user(admin, "jane")
    long_ago = datetime(2020, 1, 2, 3, 4, 5)
    set_columns(store, user_id, created=long_ago, updated=long_ago)
    admin.put(f"/api/users/{user_id}", json={"login": "jane", "name": "Jane"})
    body = admin.get(f"/api/users/{user_id}").json()
    assert body["createdAt"] == "2020-01-02T03:04:05Z"
    assert body["updatedAt"] > "2020-01-02T03:04:05Z"


# -- GET /api/users/{user_id}/orgs -----------------------------------------------------


def test_user_orgs_lists_memberships_by_name_ignoring_case(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    zeta = create_org(admin, "zeta")
    alpha = create_org(admin, "Alpha")
    add_org_user(admin, zeta, "jane", "Editor")
    add_org_user(admin, alpha, "jane", "Admin")
    response = admin.get(f"/api/users/{user_id}/orgs")
    assert (response.status_code, response.json()) == (
        200,
        [
            {"orgId": alpha, "name": "Alpha", "role": "Admin"},
            {"orgId": 1, "name": "Main Org.", "role": "Viewer"},
            {"orgId": zeta, "name": "zeta", "role": "Editor"},
        ],
    )


@pytest.mark.parametrize("user_id", ["999", "0"])
def test_user_orgs_of_an_unknown_user_is_an_empty_list(admin: TestClient, user_id: str) -> None:
    response = admin.get(f"/api/users/{user_id}/orgs")
    assert (response.status_code, response.json()) == (200, [])


def test_user_orgs_of_a_service_account_is_an_empty_list(admin: TestClient) -> None:
    account_id, _ = create_service_account_token(admin)
    response = admin.get(f"/api/users/{account_id}/orgs")
    assert (response.status_code, response.json()) == (200, [])


# -- GET /api/users/{user_id}/teams ----------------------------------------------------


def test_user_teams_lists_the_users_teams_in_the_callers_org(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    team_id = create_team(admin, "My Test Team")
    create_team(admin, "Other Team")
    add_team_member(admin, team_id, user_id)
    response = admin.get(f"/api/users/{user_id}/teams")
    body = response.json()
    assert response.status_code == 200
    assert UID.match(body[0].pop("uid"))
    assert body == [
        team_entry(team_id, "My Test Team", "", "/avatar/3f49c15916554246daa714b9bd0ee398", 2)
    ]


def test_user_teams_hides_teams_of_orgs_other_than_the_callers(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane")
    admin.post(f"/api/user/using/{org_id}")
    add_team_member(admin, create_team(admin, "Elsewhere"), user_id)
    in_second = admin.get(f"/api/users/{user_id}/teams")
    admin.post("/api/user/using/1")
    in_main = admin.get(f"/api/users/{user_id}/teams")
    assert (in_second.status_code, [t["name"] for t in in_second.json()]) == (200, ["Elsewhere"])
    assert (in_main.status_code, in_main.json()) == (200, [])


def test_user_teams_of_an_unknown_user_is_an_empty_list(admin: TestClient) -> None:
    response = admin.get("/api/users/999/teams")
    assert (response.status_code, response.json()) == (200, [])


# -- POST /api/users/{user_id}/using/{org_id} ------------------------------------------


def test_switching_a_users_org_changes_their_current_org(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane", "Editor")
    response = admin.post(f"/api/users/{user_id}/using/{org_id}")
    assert (response.status_code, response.json()) == (200, message("Active organization changed"))
    assert admin.get(f"/api/users/{user_id}").json()["orgId"] == org_id
    own = admin.get("/api/user", auth=("jane", PASSWORD))
    assert own.json()["orgId"] == org_id


@pytest.mark.parametrize("target", ["member-less org", "missing org", "missing user"])
def test_switching_to_an_org_the_user_is_not_in_is_unauthorized(
    admin: TestClient, target: str
) -> None:
    user_id = create_user(admin, "jane")
    org_id = create_org(admin, "Second")
    path = {
        "member-less org": f"/api/users/{user_id}/using/{org_id}",
        "missing org": f"/api/users/{user_id}/using/999",
        "missing user": f"/api/users/999/using/{org_id}",
    }[target]
    response = admin.post(path)
    assert (response.status_code, response.json()) == (401, message("Not a valid organization"))
    assert admin.get(f"/api/users/{user_id}").json()["orgId"] == 1


def test_switching_to_a_negative_org_id_is_no_org_of_the_users(admin: TestClient) -> None:
    """strconv.ParseInt takes -1, which names no org the user belongs to (Grafana's
    validateUsingOrg), so it is the 401 of any org that is not the user's."""
    response = admin.post("/api/users/1/using/-1")
    assert (response.status_code, response.json()) == (401, message("Not a valid organization"))


ADMIN_USER_ACTIONS = {
    "users:read",
    "users.authtoken:read",
    "users.quotas:read",
    "users.password:write",
    "users:write",
    "users:delete",
    "users:enable",
    "users:disable",
    "users.permissions:write",
    "users.logout",
    "users.authtoken:write",
    "users.quotas:write",
}


@pytest.mark.parametrize("value", ["true", "1", "T"])
def test_access_control_metadata_lists_a_grafana_admins_actions_on_the_user(
    admin: TestClient, value: str
) -> None:
    """Grafana's getUserUserProfile adds the caller's actions on the user (scope
    global.users:*: the fixed users reader and writer roles of a Grafana Admin)."""
    user_id = create_user(admin, "jane")
    for path in (f"/api/users/{user_id}", "/api/user"):
        body = admin.get(path, params={"accesscontrol": value}).json()
        assert body["accessControl"] == dict.fromkeys(ADMIN_USER_ACTIONS, True), path


def test_access_control_metadata_is_left_out_unless_asked_and_held(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    for value in ("false", "yes", ""):
        assert (
            "accessControl" not in admin.get(f"/api/users/{user_id}?accesscontrol={value}").json()
        )
    own = admin.get("/api/user", params={"accesscontrol": "true"}, auth=("jane", PASSWORD))
    assert (own.status_code, "accessControl" in own.json()) == (200, False)
