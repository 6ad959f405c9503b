"""Deleting the organization new users join (auto_assign_org_id, 1) or users' current one,
and service accounts, which no switch of the current organization moves."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.support.api import (
    PASSWORD,
    add_org_user,
    create_org,
    create_service_account_token,
    create_user,
    message,
)


def delete_org_1(admin: TestClient) -> int:
    """Move the admin to a new org, then delete org 1; returns the new org's id."""
    second = create_org(admin, "Second")
    assert admin.post(f"/api/user/using/{second}").status_code == 200
    assert admin.delete("/api/orgs/1").json() == message("Organization deleted")
    return second


def test_without_org_1_a_user_created_without_an_org_is_refused(admin: TestClient) -> None:
    second = delete_org_1(admin)
    refused = admin.post("/api/admin/users", json={"login": "newbie", "password": PASSWORD})
    assert (refused.status_code, refused.json()) == (400, message("organization not found"))
    assert admin.get("/api/users/lookup", params={"loginOrEmail": "newbie"}).status_code == 404
    # Naming an org that exists still works, and org 1 is not brought back.
    user_id = create_user(admin, "placed", org_id=second)
    assert admin.get(f"/api/users/{user_id}").json()["orgId"] == second
    assert admin.get("/api/orgs/1").status_code == 404


def test_users_whose_current_org_was_deleted_run_in_no_org(admin: TestClient) -> None:
    create_user(admin, "stranded")
    second = delete_org_1(admin)
    stranded = ("stranded", PASSWORD)
    # Still signed in (what needs no org role answers), but a member of nothing.
    assert admin.get("/api/user", auth=stranded).status_code == 200
    assert admin.get("/api/user/orgs", auth=stranded).json() == []
    assert admin.get("/api/teams/search", auth=stranded).status_code == 403
    # Joining another org gives them a role there again.
    add_org_user(admin, second, "stranded", role="Admin")
    assert admin.post(f"/api/user/using/{second}", auth=stranded).status_code == 200
    assert admin.get("/api/teams/search", auth=stranded).status_code == 200


def test_a_service_account_is_never_switched_to_an_organization(admin: TestClient) -> None:
    second = create_org(admin, "Second")
    account_id, token = create_service_account_token(admin, role="Admin")
    for org_id in (1, second):
        refused = admin.post(f"/api/users/{account_id}/using/{org_id}")
        assert (refused.status_code, refused.json()) == (401, message("Not a valid organization"))
    # Its token still works in its own org.
    answer = admin.get("/api/teams/search", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200


def test_a_grafana_admin_in_no_org_creates_nothing_there(admin: TestClient) -> None:
    header = {"X-Grafana-Org-Id": "4242"}  # no such org: the request runs in none
    for method, path, body in (
        ("POST", "/api/serviceaccounts", {"name": "ghost"}),
        ("POST", "/api/teams", {"name": "ghost"}),
        ("GET", "/api/teams/search", None),
        ("POST", "/api/dashboards/db", {"dashboard": {"title": "ghost"}}),
    ):
        answer = admin.request(method, path, json=body, headers=header)
        assert answer.status_code == 403, (path, answer.status_code, answer.text)
    assert admin.get("/api/teams/search").json()["totalCount"] == 0
