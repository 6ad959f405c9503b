"""grafana-client's organization, team, dashboard and service-account calls that user
automation makes around the User API (what Ansible's community.grafana modules and sync
scripts do): find an org by name, list orgs and an org's users, change a member's role and
remove them, search teams and remove a member, read a dashboard by uid and list a service
account's tokens - through the library, unchanged."""

from __future__ import annotations

import pytest
from grafana_client.client import GrafanaBadInputError, GrafanaClientError, GrafanaServerError

from tests.clients.steps import connect, create_user


def test_an_org_is_found_listed_and_its_members_managed(live_server: str) -> None:
    grafana = connect(live_server)
    jane = create_user(grafana, "jane")
    org_id = grafana.organization.create_organization({"name": "Ops Org."})["orgId"]
    grafana.organizations.organization_user_add(org_id, {"loginOrEmail": "jane", "role": "Viewer"})

    assert grafana.organization.find_organization("Ops Org.")["id"] == org_id
    assert {"id": org_id, "name": "Ops Org."} in grafana.organizations.list_organization()
    members = grafana.organizations.organization_user_list(org_id)
    assert [(m["login"], m["role"]) for m in members] == [("admin", "Admin"), ("jane", "Viewer")]

    updated = grafana.organizations.organization_user_update(org_id, jane, "Editor")
    assert updated == {"message": "Organization user updated"}
    roles = {m["login"]: m["role"] for m in grafana.organizations.organization_user_list(org_id)}
    assert roles["jane"] == "Editor"

    removed = grafana.organizations.organization_user_delete(org_id, jane)
    assert removed == {"message": "User removed from organization"}
    assert [m["login"] for m in grafana.organizations.organization_user_list(org_id)] == ["admin"]


def test_what_grafana_refuses_reaches_the_library_as_grafana_says_it(live_server: str) -> None:
    grafana = connect(live_server)
    with pytest.raises(GrafanaClientError) as unknown:
        grafana.organization.find_organization("No Such Org.")
    assert (unknown.value.status_code, unknown.value.response) == (
        404,
        {"message": "Organization not found"},
    )
    with pytest.raises(GrafanaBadInputError) as last_admin:
        grafana.organizations.organization_user_delete(1, 1)
    assert last_admin.value.response == {"message": "Cannot remove last organization admin"}
    with pytest.raises(GrafanaServerError) as not_a_member:
        grafana.organizations.organization_user_update(1, 999, "Viewer")
    assert (not_a_member.value.status_code, not_a_member.value.response) == (
        500,
        {"message": "Failed update org user"},
    )


def test_teams_are_searched_and_members_removed(live_server: str) -> None:
    grafana = connect(live_server)
    jane = create_user(grafana, "jane")
    ops = grafana.teams.add_team({"name": "Ops"})["teamId"]
    grafana.teams.add_team({"name": "Dev"})
    grafana.teams.add_team_member(ops, jane)

    assert [t["name"] for t in grafana.teams.search_teams()] == ["Dev", "Ops"]
    assert [t["name"] for t in grafana.teams.search_teams(query="op", perpage=1)] == ["Ops"]
    assert [t["id"] for t in grafana.teams.get_team_by_name("Ops")] == [ops]
    members = grafana.teams.get_team_members(ops)
    assert [(m["login"], m["permission"]) for m in members] == [("admin", 4), ("jane", 0)]

    assert grafana.teams.remove_team_member(ops, jane) == {"message": "Team Member removed"}
    with pytest.raises(GrafanaClientError) as again:
        grafana.teams.remove_team_member(ops, jane)
    assert (again.value.status_code, again.value.response) == (
        404,
        {"message": "Team member not found"},
    )


def test_a_dashboard_by_uid_and_a_service_accounts_tokens(live_server: str) -> None:
    grafana = connect(live_server)
    saved = grafana.dashboard.update_dashboard({"dashboard": {"title": "Prod", "panels": []}})
    found = grafana.dashboard.get_dashboard(saved["uid"])
    assert (found["dashboard"]["uid"], found["dashboard"]["title"], found["meta"]["slug"]) == (
        saved["uid"],
        "Prod",
        "prod",
    )
    account = grafana.serviceaccount.create({"name": "ci-bot", "role": "Viewer"})
    grafana.serviceaccount.create_token(account["id"], {"name": "ci"})
    tokens = grafana.serviceaccount.get_tokens(account["id"])
    assert [(t["name"], t["hasExpired"], t["expiration"]) for t in tokens] == [("ci", False, None)]
