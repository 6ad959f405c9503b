"""grafana-client (``import grafana_client``) drives the reference server unchanged.

Every test talks to the `live_server` fixture (uvicorn on a loopback port, responses
validated against openapi.yaml) over a real socket, on both database backends, with
``GrafanaApi.from_url``: HTTP Basic (login or e-mail and password) and service-account
tokens (``credential="glsa_..."`` is sent as ``Authorization: Bearer``; the tuple
``("api_key", token)`` as Basic).

Methods of grafana-client 5.1.4 that touch the User API and its supporting endpoints,
and where each is covered:

``users`` (class ``Users``)
    search_users (single page and the page-by-page iteration), get_user, find_user,
    update_user, get_user_organisations, get_user_teams - all covered.
``user`` (class ``User``)
    get_actual_user, change_actual_user_password, switch_user_organisation,
    switch_actual_user_organisation, get_actual_user_organisations,
    get_actual_user_teams, star_dashboard / unstar_dashboard (by uid and by numeric id),
    star_actual_user_dashboard / unstar_actual_user_dashboard (deprecated aliases of
    the by-id routes) - all covered.
    get_preferences, update_preferences, patch_preferences call /api/user/preferences,
    which is outside this API: covered only as Grafana's 404 "Not found".
``admin`` (class ``Admin``)
    create_user, change_user_password, change_user_permissions, delete_user,
    set_user_enabled (both ways) - covered. settings, stats, pause_all_alerts are not
    about users (404 here).
``organization`` / ``organizations``
    create_organization, organization_user_add, delete_organization (supporting) and
    organizations.switch_organization (POST /api/user/using/:id, the same operation as
    switch_actual_user_organisation) - covered. The remaining org methods (current-org
    users, org preferences, list/update orgs) are outside this API.
``teams``
    add_team, add_team_member, delete_team (supporting) - covered; searching, members
    listing, preferences and external groups are outside this API.
``dashboard``
    update_dashboard (POST /api/dashboards/db) and delete_dashboard (by uid) - covered,
    as the supporting calls that give us something to star.
``serviceaccount``
    create (POSTs to ``/api/serviceaccounts/`` with a trailing slash) and create_token -
    covered, and the token then authenticates the other calls. get, update, delete,
    get_tokens, delete_token and search* are outside this API (404 here).
``health``
    check (and so ``connect()`` / ``version``) reads /api/frontend/settings, which is
    outside this API: covered only as 404. The server's own health route is
    /api/health, which grafana-client never calls.
``AsyncGrafanaApi``
    the same methods as coroutines over ``niquests.AsyncSession``; the read methods
    are covered once to prove the async transport works too.

The User API has no grafana-client method for GET /api/user/stars, GET
/api/user/auth-tokens or POST /api/user/revoke-auth-token; stars are read back with the
library's own generic ``client.GET``.

Library limitation (not a server defect): for a service-account token Grafana answers
/api/user/orgs, /api/user/teams, POST /api/user/using/:id and PUT /api/user/password
with 304 Not Modified and no body. grafana-client tries to decode every non-204 answer
as JSON, so these four methods raise ``niquests.exceptions.JSONDecodeError`` instead of
returning; the test below pins that down with the raw status next to it.
"""

from __future__ import annotations

import asyncio
import hashlib
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

ADMIN = ("admin", "admin")
TIMEOUT = 10.0


def connect(url: str, credential: str | tuple[str, str] = ADMIN) -> GrafanaApi:
    return GrafanaApi.from_url(url, credential=credential, timeout=TIMEOUT)


def avatar(email: str) -> str:
    return "/avatar/" + hashlib.md5(email.lower().encode()).hexdigest()


def create_user(grafana: GrafanaApi, login: str, password: str = "secret-pw") -> int:
    """A user made through the library's own admin call; its id."""
    created: dict[str, Any] = grafana.admin.create_user(
        {
            "name": login.title(),
            "email": f"{login}@example.com",
            "login": login,
            "password": password,
        }
    )
    assert created["message"] == "User created"
    user_id: int = created["id"]
    return user_id


def service_account_token(grafana: GrafanaApi, name: str = "ci-bot") -> tuple[int, str]:
    account: dict[str, Any] = grafana.serviceaccount.create({"name": name, "role": "Admin"})
    token: dict[str, Any] = grafana.serviceaccount.create_token(account["id"], {"name": "ci"})
    assert token["key"].startswith("glsa_")
    return account["id"], token["key"]


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
        "serviceaccount.get_tokens": lambda: grafana.serviceaccount.get_tokens(1),
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
