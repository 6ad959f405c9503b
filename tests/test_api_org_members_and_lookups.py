"""The supporting reads and member changes that Grafana automation calls (Ansible's
community.grafana organization and team modules, grafana-client, sync tools): orgs by
name and in a list, an org's users with their roles, role changes and removals, team
search and member removal, a dashboard by uid, a service account's tokens. Expectations
come from Grafana's handlers (pkg/api/org.go, org_users.go, teamapi/, serviceaccounts/api/)
and from grafana-client's tests against real Grafana containers."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.support.api import (
    AVATAR,
    JANE,
    PASSWORD,
    TIMESTAMP,
    UID,
    add_org_user,
    add_team_member,
    assert_access_denied,
    create_dashboard,
    create_org,
    create_service_account_token,
    create_team,
    create_user,
    message,
)

# -- organizations by name and in a list ----------------------------------------------


def test_listing_orgs_in_id_order_filtered_and_paged_from_page_zero(admin: TestClient) -> None:
    for name in ("Beta", "Alpha", "Alpine"):
        create_org(admin, name)
    everyone = admin.get("/api/orgs").json()
    assert everyone == [
        {"id": 1, "name": "Main Org."},
        {"id": 2, "name": "Beta"},
        {"id": 3, "name": "Alpha"},
        {"id": 4, "name": "Alpine"},
    ]
    assert [o["name"] for o in admin.get("/api/orgs?query=Alp").json()] == ["Alpha", "Alpine"]
    assert [o["name"] for o in admin.get("/api/orgs?name=Alpha").json()] == ["Alpha"]
    # Grafana's offset is perpage * page: page 1 is the second page, no page the first.
    assert [o["id"] for o in admin.get("/api/orgs?perpage=2").json()] == [1, 2]
    assert [o["id"] for o in admin.get("/api/orgs?perpage=2&page=1").json()] == [3, 4]
    assert admin.get("/api/orgs?perpage=2&page=2").json() == []
    # Values that are no integer are ignored, as Grafana's QueryInt does.
    assert len(admin.get("/api/orgs?perpage=many&page=x").json()) == 4


def test_only_grafana_admins_list_or_find_orgs(admin: TestClient) -> None:
    create_user(admin, "jane")
    assert_access_denied(admin.get("/api/orgs", auth=JANE), "orgs:read")
    assert_access_denied(admin.get("/api/orgs/name/Main%20Org.", auth=JANE), "orgs:read")


def test_an_org_is_found_by_its_exact_name_with_its_address(admin: TestClient) -> None:
    org_id = create_org(admin, "Second Org.")
    found = admin.get("/api/orgs/name/Second Org.")
    assert (found.status_code, found.json()) == (
        200,
        {
            "id": org_id,
            "name": "Second Org.",
            "address": {
                "address1": "",
                "address2": "",
                "city": "",
                "zipCode": "",
                "state": "",
                "country": "",
            },
        },
    )
    for name in ("second org.", "Second", "users"):
        missing = admin.get(f"/api/orgs/name/{name}")
        assert (missing.status_code, missing.json()) == (404, message("Organization not found"))


# -- an organization's users ----------------------------------------------------------


def test_an_orgs_users_with_their_roles_by_login_without_service_accounts(
    admin: TestClient,
) -> None:
    zed = create_user(admin, "zed", email="zed@example.com", name="Zed")
    bob = create_user(admin, "bob")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "zed", "Editor")
    add_org_user(admin, org_id, "bob")
    create_service_account_token(admin)  # in org 1, and never listed
    users = admin.get(f"/api/orgs/{org_id}/users").json()
    assert [(u["login"], u["userId"], u["role"]) for u in users] == [
        ("admin", 1, "Admin"),
        ("bob", bob, "Viewer"),
        ("zed", zed, "Editor"),
    ]
    entry = users[2]
    assert TIMESTAMP.match(entry.pop("lastSeenAt"))
    assert AVATAR.match(entry.pop("avatarUrl"))
    assert UID.match(entry.pop("uid"))
    assert entry == {
        "orgId": org_id,
        "userId": zed,
        "email": "zed@example.com",
        "name": "Zed",
        "login": "zed",
        "role": "Editor",
        "lastSeenAtAge": "10 years",
        "isDisabled": False,
        "authLabels": None,
        "isExternallySynced": False,
        "isProvisioned": False,
    }
    assert [u["login"] for u in admin.get("/api/orgs/1/users").json()] == ["admin", "bob", "zed"]
    assert admin.get("/api/orgs/999/users").json() == []


def test_org_admins_read_their_orgs_users_and_no_other(admin: TestClient) -> None:
    create_user(admin, "jane")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane", "Admin")
    assert admin.get(f"/api/orgs/{org_id}/users", auth=JANE).status_code == 200
    assert_access_denied(admin.get("/api/orgs/1/users", auth=JANE), "org.users:read")


def test_changing_a_members_role(admin: TestClient) -> None:
    jane = create_user(admin, "jane")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane")
    changed = admin.patch(f"/api/orgs/{org_id}/users/{jane}", json={"role": "Editor"})
    assert (changed.status_code, changed.json()) == (200, message("Organization user updated"))
    assert {"orgId": org_id, "name": "Second", "role": "Editor"} in admin.get(
        f"/api/users/{jane}/orgs"
    ).json()


@pytest.mark.parametrize(
    ("user", "body", "expected"),
    [
        ("jane", {"role": "Boss"}, (400, "Invalid role specified")),
        ("jane", {}, (400, "bad request data")),
        (
            "admin",
            {"role": "Viewer"},
            (400, "Cannot change role so that there is no organization admin left"),
        ),
        ("bob", {"role": "Viewer"}, (500, "Failed update org user")),
        ("nobody", {"role": "Viewer"}, (500, "Failed update org user")),
    ],
)
def test_role_changes_grafana_refuses(
    admin: TestClient, user: str, body: dict[str, str], expected: tuple[int, str]
) -> None:
    """An unknown role is the handler's 400, the last Admin stays, and a user who is no
    member (or no user at all) is Grafana's 500."""
    ids = {"jane": create_user(admin, "jane"), "bob": create_user(admin, "bob")}
    ids.update(admin=1, nobody=999)
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane")
    response = admin.patch(f"/api/orgs/{org_id}/users/{ids[user]}", json=body)
    assert (response.status_code, response.json()) == (expected[0], message(expected[1]))


def test_a_role_above_the_callers_own_is_refused(admin: TestClient) -> None:
    """As when adding members: the caller's role where they are counts (a Viewer there)."""
    create_user(admin, "jane")
    bob = create_user(admin, "bob")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane", "Admin")
    add_org_user(admin, org_id, "bob")
    response = admin.patch(f"/api/orgs/{org_id}/users/{bob}", auth=JANE, json={"role": "Editor"})
    assert (response.status_code, response.json()) == (
        403,
        message("Cannot assign a role higher than user's role"),
    )


def test_removing_a_member_keeps_the_user_and_moves_their_current_org(admin: TestClient) -> None:
    jane = create_user(admin, "jane")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane")
    assert admin.post(f"/api/users/{jane}/using/{org_id}").status_code == 200
    team_id = create_team(admin, "Ops")  # in org 1: untouched by leaving the second org
    add_team_member(admin, team_id, jane)
    removed = admin.delete(f"/api/orgs/{org_id}/users/{jane}")
    assert (removed.status_code, removed.json()) == (
        200,
        message("User removed from organization"),
    )
    profile = admin.get(f"/api/users/{jane}").json()
    assert profile["orgId"] == 1, "her current org moves to the one she still has"
    assert admin.get(f"/api/users/{jane}/orgs").json() == [
        {"orgId": 1, "name": "Main Org.", "role": "Viewer"}
    ]
    assert [t["id"] for t in admin.get(f"/api/users/{jane}/teams").json()] == [team_id]
    again = admin.delete(f"/api/orgs/{org_id}/users/{jane}")
    assert (again.status_code, again.json()) == (200, message("User removed from organization"))


def test_a_user_removed_from_every_org_keeps_the_account_without_one(admin: TestClient) -> None:
    jane = create_user(admin, "jane")
    removed = admin.delete(f"/api/orgs/1/users/{jane}")
    assert removed.status_code == 200
    profile = admin.get(f"/api/users/{jane}").json()
    assert (profile["login"], "orgId" in profile) == ("jane", False)
    assert admin.get(f"/api/users/{jane}/orgs").json() == []


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [
        ("1", (400, "Cannot remove last organization admin")),
        ("999", (500, "Failed to remove user from organization")),
        ("x", (404, "User not found")),
    ],
)
def test_removals_grafana_refuses(
    admin: TestClient, user_id: str, expected: tuple[int, str]
) -> None:
    response = admin.delete(f"/api/orgs/1/users/{user_id}")
    assert (response.status_code, response.json()) == (expected[0], message(expected[1]))


def test_member_changes_take_a_user_uid_from_13_0(admin: TestClient) -> None:
    jane = create_user(admin, "jane")
    uid = admin.get(f"/api/users/{jane}").json()["uid"]
    response = admin.patch(f"/api/orgs/1/users/{uid}", json={"role": "Editor"})
    assert (response.status_code, response.json()) == (200, message("Organization user updated"))
    assert admin.get(f"/api/users/{jane}/orgs").json()[0]["role"] == "Editor"


@pytest.mark.grafana("12.3")
def test_before_13_0_a_member_id_that_is_no_integer_is_invalid(admin: TestClient) -> None:
    jane = create_user(admin, "jane")
    uid = admin.get(f"/api/users/{jane}").json()["uid"]
    for response in (
        admin.patch(f"/api/orgs/1/users/{uid}", json={"role": "Editor"}),
        admin.delete(f"/api/orgs/1/users/{uid}"),
    ):
        assert (response.status_code, response.json()) == (400, message("userId is invalid"))


# -- teams: search and member removal ---------------------------------------------------


def test_searching_teams_by_name_with_paging(admin: TestClient) -> None:
    ops, dev, devops = (create_team(admin, n) for n in ("Ops", "Dev", "DevOps"))
    jane = create_user(admin, "jane")
    add_team_member(admin, devops, jane)
    every = admin.get("/api/teams/search").json()
    assert (every["totalCount"], every["page"], every["perPage"]) == (3, 1, 1000)
    assert [(t["name"], t["memberCount"], t["permission"]) for t in every["teams"]] == [
        ("Dev", 1, 0),
        ("DevOps", 2, 0),
        ("Ops", 1, 0),
    ]
    found = admin.get("/api/teams/search?query=OPS").json()
    assert (found["totalCount"], [t["id"] for t in found["teams"]]) == (2, [devops, ops])
    named = admin.get("/api/teams/search?name=Dev").json()
    assert [t["id"] for t in named["teams"]] == [dev]
    second = admin.get("/api/teams/search?perpage=2&page=2").json()
    assert (second["totalCount"], [t["id"] for t in second["teams"]]) == (3, [ops])


def test_team_search_sees_the_callers_current_org_only(admin: TestClient) -> None:
    create_team(admin, "Ops")
    create_user(admin, "jane")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane", "Admin")
    assert admin.post(f"/api/user/using/{org_id}", auth=JANE).status_code == 200
    assert admin.get("/api/teams/search", auth=JANE).json()["teams"] == []
    create_user(admin, "bob")
    assert_access_denied(admin.get("/api/teams/search", auth=("bob", PASSWORD)), "teams:read")


def test_listing_a_teams_members_by_login_with_their_permission(admin: TestClient) -> None:
    zed = create_user(admin, "zed", name="Zed")
    amy = create_user(admin, "amy")
    team_id = create_team(admin, "Ops")  # the admin, its creator, is its team admin
    other = create_team(admin, "Dev")
    add_team_member(admin, team_id, zed)
    add_team_member(admin, other, amy)
    members = admin.get(f"/api/teams/{team_id}/members").json()
    assert [(m["login"], m["permission"]) for m in members] == [("admin", 4), ("zed", 0)]
    entry = members[1]
    assert AVATAR.match(entry.pop("avatarUrl"))
    assert UID.match(entry.pop("teamUID")) and UID.match(entry.pop("userUID"))
    assert entry == {
        "orgId": 1,
        "teamId": team_id,
        "userId": zed,
        "auth_module": "",
        "email": "zed@example.com",
        "name": "Zed",
        "login": "zed",
        "labels": [],
        "permission": 0,
    }
    assert admin.get("/api/teams/999/members").json() == []
    every = admin.get("/api/teams/0/members").json()
    assert sorted((m["teamId"], m["login"]) for m in every) == [
        (team_id, "admin"),
        (team_id, "zed"),
        (other, "admin"),
        (other, "amy"),
    ]
    create_user(admin, "bob")
    assert_access_denied(
        admin.get(f"/api/teams/{team_id}/members", auth=("bob", PASSWORD)),
        "teams.permissions:read",
    )


def test_removing_a_team_member(admin: TestClient) -> None:
    jane = create_user(admin, "jane")
    team_id = create_team(admin, "Ops")
    add_team_member(admin, team_id, jane)
    removed = admin.delete(f"/api/teams/{team_id}/members/{jane}")
    assert (removed.status_code, removed.json()) == (200, message("Team Member removed"))
    assert admin.get(f"/api/users/{jane}/teams").json() == []
    again = admin.delete(f"/api/teams/{team_id}/members/{jane}")
    assert (again.status_code, again.json()) == (404, message("Team member not found"))
    unknown = admin.delete(f"/api/teams/999/members/{jane}")
    assert (unknown.status_code, unknown.json()) == (404, message("Team not found"))
    bad = admin.delete(f"/api/teams/{team_id}/members/jane")
    assert (bad.status_code, bad.json()) == (400, message("userId is invalid"))


# -- a dashboard by uid, a service account's tokens -------------------------------------


def test_getting_a_dashboard_by_uid(admin: TestClient) -> None:
    saved = create_dashboard(admin, "Production Overview")
    create_user(admin, "jane")
    body = admin.get(f"/api/dashboards/uid/{saved['uid']}").json()
    assert body["dashboard"] == {
        "id": saved["id"],
        "uid": saved["uid"],
        "title": "Production Overview",
        "version": 1,
    }
    meta = body["meta"]
    assert TIMESTAMP.match(meta.pop("created")) and TIMESTAMP.match(meta.pop("updated"))
    assert meta == {
        "type": "db",
        "canSave": True,
        "canEdit": True,
        "canAdmin": True,
        "canStar": True,
        "canDelete": True,
        "slug": "production-overview",
        "url": f"/d/{saved['uid']}/production-overview",
        "expires": "0001-01-01T00:00:00Z",
        "version": 1,
        "isFolder": False,
        "folderId": 0,
        "folderUid": "",
        "folderTitle": "General",
        "folderUrl": "",
        "provisioned": False,
        "provisionedExternalId": "",
    }
    viewer = admin.get(f"/api/dashboards/uid/{saved['uid']}", auth=JANE).json()["meta"]
    assert [viewer[k] for k in ("canSave", "canEdit", "canDelete", "canStar")] == [
        False,
        False,
        False,
        True,
    ]
    missing = admin.get("/api/dashboards/uid/nope")
    assert (missing.status_code, missing.json()) == (404, message("Dashboard not found"))


def test_listing_a_service_accounts_tokens_without_secrets(admin: TestClient) -> None:
    account_id, _ = create_service_account_token(admin)
    made = admin.post(
        f"/api/serviceaccounts/{account_id}/tokens", json={"name": "short", "secondsToLive": 3600}
    )
    assert made.status_code == 200
    tokens = admin.get(f"/api/serviceaccounts/{account_id}/tokens").json()
    assert [t["name"] for t in tokens] == ["robot-token", "short"]
    forever, short = tokens
    assert TIMESTAMP.match(forever.pop("created")) and TIMESTAMP.match(short.pop("created"))
    assert forever == {
        "id": forever["id"],
        "name": "robot-token",
        "lastUsedAt": None,
        "expiration": None,
        "secondsUntilExpiration": 0,
        "hasExpired": False,
        "isRevoked": False,
    }
    assert TIMESTAMP.match(short["expiration"])
    assert 3590 <= short["secondsUntilExpiration"] <= 3600
    assert "key" not in short
    assert admin.get("/api/serviceaccounts/9999/tokens").json() == []


# -- access-control metadata (accesscontrol=true) ---------------------------------------

TEAM_ACTIONS = {
    "teams:delete",
    "teams.permissions:read",
    "teams.permissions:write",
    "teams:read",
    "teams:write",
}
ORG_USER_ACTIONS = {
    "org.users:read",
    "users.permissions:read",
    "org.users:add",
    "org.users:write",
    "org.users:remove",
}


def test_teams_and_org_users_carry_an_org_admins_actions_when_asked(admin: TestClient) -> None:
    """Grafana's getMultiAccessControlMetadata (teams:id:) and searchOrgUsersHelper
    (users:id:) list the caller's actions per resource: an org Admin's fixed roles."""
    team_id = create_team(admin, "Ops")
    searched = admin.get("/api/teams/search?accesscontrol=true").json()["teams"]
    assert [t["accessControl"] for t in searched] == [dict.fromkeys(TEAM_ACTIONS, True)]
    one = admin.get(f"/api/teams/{team_id}", params={"accesscontrol": "1"}).json()
    assert one["accessControl"] == dict.fromkeys(TEAM_ACTIONS, True)
    users = admin.get("/api/orgs/1/users?accesscontrol=true").json()
    assert [u["accessControl"] for u in users] == [dict.fromkeys(ORG_USER_ACTIONS, True)]
    # Not asked (or not true as Go reads it): null for teams, left out for org users.
    assert admin.get(f"/api/teams/{team_id}?accesscontrol=yes").json()["accessControl"] is None
    assert "accessControl" not in admin.get("/api/orgs/1/users").json()[0]
