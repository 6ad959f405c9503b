"""grafana-client's `users` and `admin` methods against the reference server."""

from __future__ import annotations

import hashlib

import pytest
from grafana_client.client import (
    GrafanaBadInputError,
    GrafanaClientError,
    GrafanaUnauthorizedError,
)

from tests.clients.steps import connect, create_user


def avatar(email: str) -> str:
    return "/avatar/" + hashlib.md5(email.lower().encode()).hexdigest()


def test_admin_create_user_returns_the_id_and_get_user_shows_the_new_profile(
    live_server: str,
) -> None:
    grafana = connect(live_server)
    created = grafana.admin.create_user(
        {"name": "Alice", "email": "Alice@Example.com", "login": "Alice", "password": "pw-alice"}
    )
    assert created["message"] == "User created"
    assert isinstance(created["id"], int)
    assert created["uid"]

    profile = grafana.users.get_user(created["id"])
    assert profile["id"] == created["id"]
    assert profile["uid"] == created["uid"]
    assert profile["login"] == "alice"
    assert profile["email"] == "alice@example.com"
    assert profile["name"] == "Alice"
    assert profile["orgId"] == 1
    assert profile["isGrafanaAdmin"] is False
    assert profile["isDisabled"] is False
    assert profile["authLabels"] == []
    assert profile["avatarUrl"] == avatar("alice@example.com")


def test_search_users_walks_every_page_and_honours_query_page_and_perpage(
    live_server: str,
) -> None:
    grafana = connect(live_server)
    for login in ("carol", "alice", "bob"):
        create_user(grafana, login)

    everyone = grafana.users.search_users()
    assert [hit["login"] for hit in everyone] == ["admin", "alice", "bob", "carol"]
    assert everyone[0]["isAdmin"] is True
    assert everyone[1]["email"] == "alice@example.com"
    assert everyone[1]["lastSeenAtAge"] == "10 years"

    # Without `page` the library keeps asking for the next page until one is empty.
    two_per_page = grafana.users.search_users(perpage=2)
    assert [hit["login"] for hit in two_per_page] == ["admin", "alice", "bob", "carol"]

    second_page = grafana.users.search_users(page=2, perpage=3)
    assert [hit["login"] for hit in second_page] == ["carol"]

    matching = grafana.users.search_users(query="BO")
    assert [hit["login"] for hit in matching] == ["bob"]


def test_find_user_looks_up_by_login_or_by_a_url_encoded_email(live_server: str) -> None:
    grafana = connect(live_server)
    user_id = create_user(grafana, "dave")

    by_email = grafana.users.find_user("Dave@Example.com")
    assert by_email["id"] == user_id
    assert by_email["login"] == "dave"
    # Grafana builds the lookup answer from the raw user row: these are its quirks.
    assert by_email["authLabels"] is None
    assert by_email["avatarUrl"] == ""

    by_login = grafana.users.find_user("DAVE")
    assert by_login["id"] == user_id

    with pytest.raises(GrafanaClientError) as missing:
        grafana.users.find_user("nobody@example.com")
    assert missing.value.status_code == 404
    assert missing.value.response["message"] == "user not found"


def test_update_user_changes_name_email_login_and_theme(live_server: str) -> None:
    grafana = connect(live_server)
    user_id = create_user(grafana, "erin")

    answer = grafana.users.update_user(
        user_id,
        {"name": "Erin Doe", "email": " Erin.Doe@Example.com ", "login": "ErinD", "theme": "dark"},
    )
    assert answer == {"message": "User updated"}

    profile = grafana.users.get_user(user_id)
    assert profile["name"] == "Erin Doe"
    assert profile["email"] == "erin.doe@example.com"
    assert profile["login"] == "erind"
    assert profile["theme"] == "dark"

    with pytest.raises(GrafanaBadInputError) as empty:
        grafana.users.update_user(user_id, {"name": "only a name"})
    assert empty.value.response["message"] == "Need to specify either username or email"


def test_user_organisations_are_listed_by_name_and_switching_changes_the_active_org(
    live_server: str,
) -> None:
    grafana = connect(live_server)
    user_id = create_user(grafana, "frank")
    org = grafana.organization.create_organization("Analytics")
    assert org["message"] == "Organization created"
    added = grafana.organizations.organization_user_add(
        org["orgId"], {"loginOrEmail": "frank", "role": "Editor"}
    )
    assert added == {"message": "User added to organization", "userId": user_id}

    assert grafana.users.get_user_organisations(user_id) == [
        {"orgId": org["orgId"], "name": "Analytics", "role": "Editor"},
        {"orgId": 1, "name": "Main Org.", "role": "Viewer"},
    ]

    switched = grafana.user.switch_user_organisation(user_id, org["orgId"])
    assert switched == {"message": "Active organization changed"}
    assert grafana.users.get_user(user_id)["orgId"] == org["orgId"]

    with pytest.raises(GrafanaUnauthorizedError) as foreign:
        grafana.user.switch_user_organisation(user_id, org["orgId"] + 100)
    assert foreign.value.response == {"message": "Not a valid organization"}

    assert grafana.organizations.delete_organization(org["orgId"]) == {
        "message": "Organization deleted"
    }
    assert grafana.users.get_user_organisations(user_id) == [
        {"orgId": 1, "name": "Main Org.", "role": "Viewer"}
    ]


def test_user_teams_list_the_teams_of_the_current_org_with_member_counts(
    live_server: str,
) -> None:
    grafana = connect(live_server)
    user_id = create_user(grafana, "grace")
    assert grafana.users.get_user_teams(user_id) == []

    team = grafana.teams.add_team({"name": "Platform Team"})
    assert team["message"] == "Team created"
    added = grafana.teams.add_team_member(team["teamId"], user_id)
    assert added == {"message": "Member added to Team"}

    teams = grafana.users.get_user_teams(user_id)
    assert len(teams) == 1
    assert teams[0]["id"] == team["teamId"]
    assert teams[0]["uid"] == team["uid"]
    assert teams[0]["name"] == "Platform Team"
    assert teams[0]["orgId"] == 1
    assert teams[0]["memberCount"] == 2  # the creating admin is added automatically
    assert teams[0]["avatarUrl"] == avatar("PlatformTeam@localhost")

    assert grafana.teams.delete_team(team["teamId"]) == {"message": "Team deleted"}
    assert grafana.users.get_user_teams(user_id) == []


def test_admin_calls_reset_password_promote_disable_enable_and_delete_a_user(
    live_server: str,
) -> None:
    admin = connect(live_server)
    user_id = create_user(admin, "judy", password="judy-pw")

    assert admin.admin.change_user_password(user_id, "judy-new-pw") == {
        "message": "User password updated"
    }
    judy = connect(live_server, ("judy", "judy-new-pw"))
    assert judy.user.get_actual_user()["id"] == user_id

    assert admin.admin.change_user_permissions(user_id, True) == {
        "message": "User permissions updated"
    }
    assert admin.users.get_user(user_id)["isGrafanaAdmin"] is True
    # Now a server admin, judy may use the `users` operations herself.
    assert [hit["login"] for hit in judy.users.search_users()] == ["admin", "judy"]
    admin.admin.change_user_permissions(user_id, False)
    assert admin.users.get_user(user_id)["isGrafanaAdmin"] is False

    assert admin.admin.set_user_enabled(user_id, False) == {"message": "User disabled"}
    assert admin.users.get_user(user_id)["isDisabled"] is True
    with pytest.raises(GrafanaUnauthorizedError):
        judy.user.get_actual_user()
    assert admin.admin.set_user_enabled(user_id, True) == {"message": "User enabled"}
    assert judy.user.get_actual_user()["isDisabled"] is False

    assert admin.admin.delete_user(user_id) == {"message": "User deleted"}
    with pytest.raises(GrafanaClientError) as gone:
        admin.users.get_user(user_id)
    assert gone.value.status_code == 404
    assert gone.value.response["message"] == "user not found"
