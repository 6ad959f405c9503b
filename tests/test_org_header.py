"""X-Grafana-Org-Id (and targetOrgId): a request runs in the organization it asks for,
as the contract's x-grafana-org-selection states it."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

import contract
from tests.support.api import (
    PASSWORD,
    add_org_user,
    bearer,
    create_org,
    create_service_account_token,
    create_team,
    create_user,
    errutil,
    session,
)

HEADER = "X-Grafana-Org-Id"


def team_names(response: object) -> list[str]:
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    return [t["name"] for t in response.json()["teams"]]  # type: ignore[attr-defined]


@pytest.fixture
def second_org(admin: TestClient) -> int:
    """Org 2 with one team; admin's org 1 has another. Bob is an Admin of org 2 and a Viewer
    of org 1 (his current org)."""
    org_id = create_org(admin, "Second")
    create_team(admin, "main-team")
    assert admin.post("/api/teams", json={"name": "second-team"}, headers={HEADER: str(org_id)})
    create_user(admin, "bob")
    add_org_user(admin, org_id, "bob", role="Admin")
    return org_id


def test_the_header_runs_one_request_in_an_org_the_user_belongs_to(
    admin: TestClient, second_org: int
) -> None:
    bob = ("bob", PASSWORD)
    assert admin.get("/api/teams/search", auth=bob).status_code == 403  # a Viewer in org 1
    inside = admin.get("/api/teams/search", auth=bob, headers={HEADER: str(second_org)})
    assert team_names(inside) == ["second-team"]
    # For that request only: the stored current org is still org 1.
    assert admin.get("/api/user", auth=bob, headers={HEADER: str(second_org)}).json()["orgId"] == 1
    assert admin.get("/api/teams/search", auth=bob).status_code == 403


def test_a_user_outside_the_org_asked_for_runs_in_none(admin: TestClient, second_org: int) -> None:
    create_user(admin, "carol")
    assert admin.patch("/api/orgs/1/users/3", json={"role": "Admin"}).status_code == 200
    carol = ("carol", PASSWORD)
    assert team_names(admin.get("/api/teams/search", auth=carol)) == ["main-team"]
    outside = admin.get("/api/teams/search", auth=carol, headers={HEADER: str(second_org)})
    assert outside.status_code == 403  # no role there: not even org 1's Admin role
    # What needs no org role is still answered.
    assert admin.get("/api/user", auth=carol, headers={HEADER: str(second_org)}).status_code == 200


@pytest.mark.parametrize(
    ("value", "picks_second"),
    [
        ("2", True),
        ("+2", True),
        ("02", True),
        ("2.0", False),
        ("two", False),
        ("", False),
        ("9223372036854775808", False),
        ("-2", False),
    ],
)
def test_the_header_is_read_as_go_parses_an_int64(
    admin: TestClient, second_org: int, value: str, picks_second: bool
) -> None:
    assert second_org == 2
    answer = admin.get("/api/teams/search", auth=("bob", PASSWORD), headers={HEADER: value})
    assert answer.status_code == (200 if picks_second else 403)


def test_the_query_parameter_wins_over_the_header(admin: TestClient, second_org: int) -> None:
    query = contract.load().org_selection.query
    both = admin.get(
        f"/api/teams/search?{query}={second_org}", auth=("bob", PASSWORD), headers={HEADER: "1"}
    )
    assert team_names(both) == ["second-team"]
    # A query value that picks no org leaves the header to decide.
    header = admin.get(
        f"/api/teams/search?{query}=0", auth=("bob", PASSWORD), headers={HEADER: str(second_org)}
    )
    assert team_names(header) == ["second-team"]


def test_a_session_cookie_follows_the_header_too(app: object, second_org: int) -> None:
    with session(app, "bob") as bob:
        assert bob.get("/api/teams/search").status_code == 403
        assert team_names(bob.get("/api/teams/search", headers={HEADER: str(second_org)})) == [
            "second-team"
        ]


def test_a_token_works_only_in_its_own_org(
    admin: TestClient, client: TestClient, second_org: int
) -> None:
    _, token = create_service_account_token(admin, role="Admin")
    for same in ({}, {HEADER: "1"}, {HEADER: "not-a-number"}, {HEADER: "0"}):
        answer = client.get("/api/teams/search", headers={**bearer(token), **same})
        assert team_names(answer) == ["main-team"], same
    for other in (str(second_org), "7", "-1"):
        refused = client.get("/api/teams/search", headers={**bearer(token), HEADER: other})
        assert (refused.status_code, refused.json()) == (
            401,
            errutil(
                "API key does not belong to the requested organization",
                "api-key.organization-mismatch",
                401,
            ),
        )
    as_basic = client.get("/api/user", auth=("api_key", token), headers={HEADER: str(second_org)})
    assert as_basic.status_code == 401
