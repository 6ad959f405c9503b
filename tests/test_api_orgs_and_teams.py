"""The supporting org and team operations a conformance run sets state up with."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support.api import (
    BAD_REQUEST_DATA,
    JANE,
    PASSWORD,
    UID,
    add_org_user,
    assert_access_denied,
    create_org,
    create_service_account_token,
    create_team,
    create_user,
    message,
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
        message(
            "Cannot delete your active organization. Please switch to a different "
            "organization first."
        ),
    )


@pytest.mark.grafana("11.6")
def test_before_12_0_the_current_org_refusal_has_the_old_words(admin: TestClient) -> None:
    response = admin.delete("/api/orgs/1")
    assert (response.status_code, response.json()) == (
        400,
        message("Can not delete org for current user"),
    )


@pytest.mark.parametrize(
    ("org_id", "expected"),
    [
        ("-9999", (404, "Failed to delete organization. ID not found")),
        ("x1", (400, "orgId is invalid")),
    ],
)
def test_a_negative_org_id_is_no_org_and_text_is_no_id(
    admin: TestClient, org_id: str, expected: tuple[int, str]
) -> None:
    """Grafana parses the id with strconv.ParseInt: negative numbers parse (and name no
    org), text does not (400, never a 404 from routing)."""
    response = admin.delete(f"/api/orgs/{org_id}")
    assert (response.status_code, response.json()) == (expected[0], message(expected[1]))


@pytest.mark.grafana("12.3")
def test_grafana_12_3_answers_a_negative_org_deletion_with_a_500(admin: TestClient) -> None:
    response = admin.delete("/api/orgs/-9999")
    assert (response.status_code, response.json()) == (
        500,
        message("Failed to delete organization"),
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


@pytest.mark.parametrize("body", [{"loginOrEmail": "jane"}, {"role": "Viewer"}])
def test_adding_a_user_with_a_malformed_body_is_bad_request_data(
    admin: TestClient, body: Any
) -> None:
    create_user(admin, "jane")
    response = admin.post("/api/orgs/1/users", json=body)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


def test_adding_a_user_with_an_unknown_role_is_refused_in_grafanas_words(
    admin: TestClient,
) -> None:
    """Grafana's binder takes any text for the role; its handler refuses an unknown one
    (pkg/api/org_users.go addOrgUserHelper: Role.IsValid)."""
    create_user(admin, "jane")
    response = admin.post("/api/orgs/1/users", json={"loginOrEmail": "jane", "role": "Boss"})
    assert (response.status_code, response.json()) == (400, message("Invalid role specified"))


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


def test_getting_a_team_shows_its_members_count_and_the_callers_permission(
    admin: TestClient,
) -> None:
    jane = create_user(admin, "jane")
    team_id = create_team(admin, "Ops")  # the creating admin becomes its team admin (4)
    admin.post(f"/api/teams/{team_id}/members", json={"userId": jane})
    response = admin.get(f"/api/teams/{team_id}")
    assert response.status_code == 200
    body = response.json()
    assert UID.match(body.pop("uid"))
    assert body.pop("avatarUrl").startswith("/avatar/")
    assert body == {
        "id": team_id,
        "orgId": 1,
        "name": "Ops",
        "email": "",
        "externalUID": "",
        "isProvisioned": False,
        "memberCount": 2,
        "permission": 4,
        "accessControl": None,
    }


@pytest.mark.grafana("11.6")
def test_before_12_0_a_team_has_no_provisioning_fields(admin: TestClient) -> None:
    team = admin.get(f"/api/teams/{create_team(admin, 'Ops')}").json()
    assert "externalUID" not in team and "isProvisioned" not in team


def test_getting_an_unknown_team_or_another_orgs_is_not_found(admin: TestClient) -> None:
    other_org = create_org(admin, "Other")
    admin.post(f"/api/user/using/{other_org}")
    elsewhere = create_team(admin, "Elsewhere")
    admin.post("/api/user/using/1")
    for team_id in (999, elsewhere):
        response = admin.get(f"/api/teams/{team_id}")
        assert (response.status_code, response.json()) == (404, message("Team not found"))


def test_org_viewers_may_not_read_a_team(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.get(f"/api/teams/{create_team(admin, 'Ops')}", auth=JANE)
    assert_access_denied(response, "teams:read")


def test_deleting_an_unknown_team_is_not_found(admin: TestClient) -> None:
    response = admin.delete("/api/teams/999")
    assert (response.status_code, response.json()) == (404, message("Team not found"))


@pytest.mark.grafana("11.6")
def test_before_12_0_deleting_an_unknown_team_has_the_old_words(admin: TestClient) -> None:
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


def test_an_org_admin_cannot_give_a_role_above_their_own_current_one(admin: TestClient) -> None:
    """Grafana compares the role given with the caller's role in their current org
    (pkg/api/org_users.go): jane administers the second org but is a Viewer where she is."""
    create_user(admin, "jane")
    create_user(admin, "bob")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane", "Admin")
    higher = admin.post(
        f"/api/orgs/{org_id}/users", auth=JANE, json={"loginOrEmail": "bob", "role": "Editor"}
    )
    assert (higher.status_code, higher.json()) == (
        403,
        message("Cannot assign a role higher than user's role"),
    )
    by_admin = admin.post(
        f"/api/orgs/{org_id}/users", json={"loginOrEmail": "bob", "role": "Admin"}
    )
    assert by_admin.status_code == 200, by_admin.text
