"""grafana-client as the signed-in user, a service account and async; calls outside this API."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import niquests.exceptions
import pytest
from grafana_client import AsyncGrafanaApi, GrafanaApi
from grafana_client.client import (
    GrafanaBadInputError,
    GrafanaClientError,
    GrafanaUnauthorizedError,
)

from tests.clients.steps import TIMEOUT, connect, create_user
from tests.support.api import ADMIN


def service_account_token(grafana: GrafanaApi, name: str = "ci-bot") -> tuple[int, str]:
    account: dict[str, Any] = grafana.serviceaccount.create({"name": name, "role": "Admin"})
    token: dict[str, Any] = grafana.serviceaccount.create_token(account["id"], {"name": "ci"})
    assert token["key"].startswith("glsa_")
    return account["id"], token["key"]


def test_the_signed_in_user_reads_its_profile_orgs_and_teams_and_switches_org(
    live_server: str,
) -> None:
    admin = connect(live_server)
    user_id = create_user(admin, "heidi", password="heidi-pw")
    org = admin.organization.create_organization("Second Org")
    admin.organizations.organization_user_add(
        org["orgId"], {"loginOrEmail": "heidi@example.com", "role": "Admin"}
    )
    team = admin.teams.add_team({"name": "Heidi's team"})
    admin.teams.add_team_member(team["teamId"], user_id)

    # Basic auth with the e-mail address instead of the login works as in Grafana.
    heidi = connect(live_server, ("heidi@example.com", "heidi-pw"))
    me = heidi.user.get_actual_user()
    assert me["id"] == user_id
    assert me["login"] == "heidi"
    assert me["orgId"] == 1
    assert me["isGrafanaAdmin"] is False

    assert heidi.user.get_actual_user_organisations() == [
        {"orgId": 1, "name": "Main Org.", "role": "Viewer"},
        {"orgId": org["orgId"], "name": "Second Org", "role": "Admin"},
    ]
    assert [t["name"] for t in heidi.user.get_actual_user_teams()] == ["Heidi's team"]

    switched = heidi.user.switch_actual_user_organisation(org["orgId"])
    assert switched == {"message": "Active organization changed"}
    assert heidi.user.get_actual_user()["orgId"] == org["orgId"]
    # Teams are listed for the caller's current org only.
    assert heidi.user.get_actual_user_teams() == []

    # organizations.switch_organization is the same POST /api/user/using/:id.
    back = heidi.organizations.switch_organization(1)
    assert back == {"message": "Active organization changed"}
    assert heidi.user.get_actual_user()["orgId"] == 1

    with pytest.raises(GrafanaUnauthorizedError) as foreign:
        heidi.user.switch_actual_user_organisation(org["orgId"] + 100)
    assert foreign.value.response == {"message": "Not a valid organization"}


def test_change_actual_user_password_replaces_the_password(live_server: str) -> None:
    admin = connect(live_server)
    create_user(admin, "ivan", password="old-secret")
    ivan = connect(live_server, ("ivan", "old-secret"))

    with pytest.raises(GrafanaBadInputError) as wrong_old:
        ivan.user.change_actual_user_password("not-the-password", "new-secret")
    assert wrong_old.value.response["message"] == "Invalid old password"

    with pytest.raises(GrafanaBadInputError) as too_short:
        ivan.user.change_actual_user_password("old-secret", "abc")
    assert too_short.value.response["message"] == "New password is too short"

    changed = ivan.user.change_actual_user_password("old-secret", "new-secret")
    assert changed == {"message": "User password changed"}

    assert connect(live_server, ("ivan", "new-secret")).user.get_actual_user()["login"] == "ivan"
    with pytest.raises(GrafanaUnauthorizedError) as stale:
        ivan.user.get_actual_user()
    assert stale.value.response["message"] == "Invalid username or password"


@pytest.mark.grafana("12.0")  # the last release serving stars by numeric id
def test_dashboards_are_starred_and_unstarred_by_uid_and_by_numeric_id(
    live_server: str,
) -> None:
    grafana = connect(live_server)
    saved = grafana.dashboard.update_dashboard(
        {"dashboard": {"id": None, "uid": "ops-board", "title": "Ops Board"}, "overwrite": False}
    )
    assert saved["status"] == "success"
    assert saved["uid"] == "ops-board"
    dashboard_id: int = saved["id"]

    assert grafana.user.star_dashboard("ops-board") == {"message": "Dashboard starred!"}
    assert grafana.client.GET("/user/stars") == ["ops-board"]
    assert grafana.user.unstar_dashboard("ops-board") == {"message": "Dashboard unstarred"}
    assert grafana.client.GET("/user/stars") == []

    assert grafana.user.star_dashboard(dashboard_id) == {"message": "Dashboard starred!"}
    assert grafana.client.GET("/user/stars") == ["ops-board"]
    assert grafana.user.unstar_dashboard(dashboard_id) == {"message": "Dashboard unstarred"}
    assert grafana.client.GET("/user/stars") == []

    with pytest.warns(DeprecationWarning):
        starred = grafana.user.star_actual_user_dashboard(dashboard_id)
    assert starred == {"message": "Dashboard starred!"}
    with pytest.warns(DeprecationWarning):
        unstarred = grafana.user.unstar_actual_user_dashboard(dashboard_id)
    assert unstarred == {"message": "Dashboard unstarred"}
    assert grafana.client.GET("/user/stars") == []

    with pytest.raises(GrafanaClientError) as unknown:
        grafana.user.star_dashboard("no-such-board")
    assert unknown.value.status_code == 404
    assert unknown.value.response["message"] == "Dashboard not found"

    deleted = grafana.dashboard.delete_dashboard("ops-board")
    assert deleted["message"] == "Dashboard Ops Board deleted"


def test_a_service_account_token_authenticates_as_bearer_and_as_api_key_basic(
    live_server: str,
) -> None:
    admin = connect(live_server)
    account_id, key = service_account_token(admin)

    for credential in (key, ("api_key", key)):
        bot = connect(live_server, credential)
        me = bot.user.get_actual_user()
        assert me["id"] == 0
        assert me["uid"] == f"service-account:{account_id}"
        assert me["login"] == "sa-1-ci-bot"
        assert me["orgId"] == 1
        assert me["isGrafanaAdmin"] is False

    bot = connect(live_server, key)
    admin.dashboard.update_dashboard({"dashboard": {"uid": "bot-board", "title": "Bot"}})
    assert bot.user.star_dashboard("bot-board") == {"message": "Dashboard starred!"}
    assert bot.client.GET("/user/stars") == ["bot-board"]
    assert bot.user.unstar_dashboard("bot-board") == {"message": "Dashboard unstarred"}
    assert bot.client.GET("/user/stars") == []

    # Service accounts hold org roles only: the server-admin operations deny them.
    with pytest.raises(GrafanaClientError) as denied:
        bot.users.search_users()
    assert denied.value.status_code == 403
    assert "users:read" in denied.value.response["message"]
    assert denied.value.response["accessErrorId"].startswith("ACE")


def test_user_only_calls_with_a_token_get_a_bodiless_304_that_grafana_client_cannot_decode(
    live_server: str,
) -> None:
    admin = connect(live_server)
    _, key = service_account_token(admin)
    bot = connect(live_server, key)
    calls = {
        "/api/user/orgs": ("GET", bot.user.get_actual_user_organisations),
        "/api/user/teams": ("GET", bot.user.get_actual_user_teams),
        "/api/user/using/1": ("POST", lambda: bot.user.switch_actual_user_organisation(1)),
        "/api/user/password": (
            "PUT",
            lambda: bot.user.change_actual_user_password("x", "new-secret"),
        ),
    }
    headers = {"Authorization": f"Bearer {key}"}
    for path, (method, call) in calls.items():
        body = {"oldPassword": "x", "newPassword": "new-secret"} if method == "PUT" else None
        raw = httpx.request(method, live_server + path, headers=headers, json=body, timeout=TIMEOUT)
        assert (path, raw.status_code, raw.content) == (path, 304, b"")
        with pytest.raises(niquests.exceptions.JSONDecodeError):
            call()


def test_the_trailing_slash_service_account_path_is_served_without_a_redirect(
    live_server: str,
) -> None:
    """grafana-client's serviceaccount.create POSTs to /api/serviceaccounts/ (trailing
    slash). Grafana's router trims a trailing slash before matching (pkg/web/tree.go
    Match), so Grafana answers 201 directly; a client that does not follow redirects
    must see the same."""
    raw = httpx.post(
        live_server + "/api/serviceaccounts/",
        auth=ADMIN,
        json={"name": "slash-bot", "role": "Viewer"},
        follow_redirects=False,
        timeout=TIMEOUT,
    )
    assert raw.status_code == 201
    assert raw.json()["login"] == "sa-1-slash-bot"


def test_user_methods_outside_this_api_get_grafanas_404_not_found(live_server: str) -> None:
    grafana = connect(live_server)
    outside = {
        "user.get_preferences": grafana.user.get_preferences,
        "user.update_preferences": lambda: grafana.user.update_preferences({"theme": "dark"}),
        "user.patch_preferences": lambda: grafana.user.patch_preferences({"theme": "dark"}),
        "health.check": grafana.health.check,
        "connect": grafana.connect,
        "serviceaccount.get": lambda: grafana.serviceaccount.get(1),
        "serviceaccount.search": lambda: grafana.serviceaccount.search(page=1),
    }
    for name, call in outside.items():
        with pytest.raises(GrafanaClientError) as missing:
            call()
        assert (name, missing.value.status_code, missing.value.response) == (
            name,
            404,
            {"message": "Not found"},
        )


def test_the_async_client_reads_users_and_the_signed_in_user(live_server: str) -> None:
    user_id = create_user(connect(live_server), "kim")

    async def scenario() -> dict[str, Any]:
        grafana = AsyncGrafanaApi.from_url(live_server, credential=ADMIN, timeout=TIMEOUT)
        return {
            "me": await grafana.user.get_actual_user(),
            "search": await grafana.users.search_users(query="kim"),
            "user": await grafana.users.get_user(user_id),
            "lookup": await grafana.users.find_user("kim@example.com"),
            "orgs": await grafana.users.get_user_organisations(user_id),
            "teams": await grafana.users.get_user_teams(user_id),
            "my_orgs": await grafana.user.get_actual_user_organisations(),
        }

    seen = asyncio.run(scenario())
    assert seen["me"]["login"] == "admin"
    assert [hit["id"] for hit in seen["search"]] == [user_id]
    assert seen["user"]["login"] == "kim"
    assert seen["lookup"]["id"] == user_id
    assert seen["orgs"] == [{"orgId": 1, "name": "Main Org.", "role": "Viewer"}]
    assert seen["teams"] == []
    assert seen["my_orgs"] == [{"orgId": 1, "name": "Main Org.", "role": "Admin"}]
