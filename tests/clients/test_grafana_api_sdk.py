"""grafana-api-sdk (``import grafana_api``) drives the reference server unchanged.

Every test talks to the `live_server` fixture (uvicorn on a loopback port, responses
validated against openapi.yaml) over a real socket, on both database backends. The SDK
is configured through ``APIModel``: ``username``/``password`` send HTTP Basic, ``token``
alone sends ``Authorization: Bearer <token>`` (a service-account token here), and
``username="api_key"`` with the token as password is Grafana's Basic form of a token.

Methods of grafana-api-sdk 0.9.1 that touch the User API and its supporting endpoints,
and where each is covered:

``grafana_api.user.User``
    search_users, search_users_with_paging, get_user_by_id,
    get_user_by_username_or_email, update_user, get_user_organizations,
    get_user_teams, switch_specific_user_context - all covered.
``grafana_api.user.CurrentUser``
    get_user, update_password, switch_current_user_context, get_user_organizations,
    get_user_teams, star_a_dashboard / unstar_a_dashboard (by uid and by numeric id),
    get_auth_tokens, revoke_auth_token - all covered.
``grafana_api.admin.Admin``
    create_global_user, update_user_password, update_user_permissions,
    delete_global_user - covered. get_user_auth_token, revoke_user_auth_token and
    logout_user call /api/admin/users/:id/auth-tokens|revoke-auth-token|logout, which
    are outside this API: covered only as Grafana's 404 "Not found". The SDK has no
    disable/enable call.
``grafana_api.organisation.OrganisationAdmin``
    create_organization, add_organization_user, delete_organization (supporting) -
    covered.
``grafana_api.team.Team``
    add_team, add_team_member, delete_team_by_id (supporting) - covered.
``grafana_api.service_account.ServiceAccount``
    create_service_account, create_service_account_token_by_id (supporting) - covered;
    the other service-account calls are outside this API.
``grafana_api.other_http.OtherHTTP``
    get_health_status (GET /api/health, no credentials) - covered.
``grafana_api.preferences.Preferences``
    get_current_user_preferences / update_current_user_preferences use
    /api/user/preferences, outside this API: covered only as 404.
``grafana_api.dashboard.Dashboard``
    create_or_update_dashboard first resolves a folder through /api/folders and
    /api/search, both outside this API, so dashboards to star are created with a plain
    POST /api/dashboards/db instead.

What the SDK itself does that a reader should know (library behaviour, not server
defects):

* It checks success by comparing the answer's ``message`` with a fixed string and
  raises a bare ``Exception`` otherwise; error answers are returned as plain dicts by
  the generic ``Api.call_the_api``, which the tests use to see statuses.
* search_users, get_user_organizations and get_auth_tokens raise on an empty list,
  although ``[]`` is a normal Grafana answer (e.g. a user who never logged in through
  the form has no auth tokens).
* Team.add_team sends the team *name* as its ``email``; Grafana stores that verbatim.
* Admin.create_global_user sends the organization as ``"OrgId"``. Grafana decodes JSON
  with Go's encoding/json, which matches keys case-insensitively, so Grafana puts the
  user into that organization; the test below expects exactly that.
* create_service_account_token_by_id also sends a ``role``, which Grafana ignores.
* For a token, Grafana answers /api/user/orgs (and the other user-only routes) with a
  bodiless 304; CurrentUser.get_user_organizations then fails inside the SDK
  (``TypeError``), so that answer is checked through ``Api.call_the_api``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from grafana_api.admin import Admin
from grafana_api.api import Api
from grafana_api.model import APIModel, GlobalUser, RequestsMethods, TeamObject, UserObject
from grafana_api.organisation import OrganisationAdmin
from grafana_api.other_http import OtherHTTP
from grafana_api.preferences import Preferences
from grafana_api.service_account import ServiceAccount
from grafana_api.team import Team
from grafana_api.user import CurrentUser, User

TIMEOUT = 10.0
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def basic(url: str, username: str = "admin", password: str = "admin") -> APIModel:
    return APIModel(host=url, username=username, password=password, timeout=TIMEOUT)


def bearer(url: str, token: str) -> APIModel:
    return APIModel(host=url, token=token, timeout=TIMEOUT)


def avatar(email: str) -> str:
    return "/avatar/" + hashlib.md5(email.lower().encode()).hexdigest()


def create_user(model: APIModel, login: str, password: str = "secret-pw") -> int:
    return Admin(model).create_global_user(
        GlobalUser(name=login.title(), email=f"{login}@example.com", login=login, password=password)
    )


def create_dashboard(url: str, uid: str, title: str) -> int:
    """Plain POST /api/dashboards/db: the SDK's own call needs /api/folders."""
    saved = httpx.post(
        url + "/api/dashboards/db",
        auth=("admin", "admin"),
        json={"dashboard": {"id": None, "uid": uid, "title": title}, "overwrite": False},
        timeout=TIMEOUT,
    )
    assert saved.status_code == 200
    dashboard_id: int = saved.json()["id"]
    return dashboard_id


def raw(model: APIModel, path: str, method: str = "GET", body: str | None = None) -> Any:
    """The SDK's generic call, asking it to add the HTTP status to the answer."""
    return Api(model).call_the_api(path, RequestsMethods[method], body, response_status_code=True)


def test_create_global_user_returns_the_id_and_get_user_by_id_shows_the_profile(
    live_server: str,
) -> None:
    admin = basic(live_server)
    user_id = Admin(admin).create_global_user(
        GlobalUser(name="Alice", email="Alice@Example.com", login="Alice", password="pw-alice")
    )
    assert isinstance(user_id, int)

    profile = User(admin).get_user_by_id(user_id)
    assert profile["id"] == user_id
    assert profile["login"] == "alice"
    assert profile["email"] == "alice@example.com"
    assert profile["name"] == "Alice"
    assert profile["orgId"] == 1
    assert profile["isGrafanaAdmin"] is False
    assert profile["authLabels"] == []
    assert profile["avatarUrl"] == avatar("alice@example.com")


def test_create_global_user_with_an_org_id_puts_the_user_in_that_org(live_server: str) -> None:
    admin = basic(live_server)
    org_id = OrganisationAdmin(admin).create_organization("Second Org")
    assert org_id > 1

    # The SDK sends {"OrgId": ...}; Go's JSON decoding binds it to Grafana's orgId.
    user_id = Admin(admin).create_global_user(
        GlobalUser(
            name="Olga", email="olga@example.com", login="olga", password="pw-olga", org_id=org_id
        )
    )

    assert User(admin).get_user_organizations(user_id) == [
        {"orgId": org_id, "name": "Second Org", "role": "Viewer"}
    ]
    assert User(admin).get_user_by_id(user_id)["orgId"] == org_id


def test_search_users_and_search_users_with_paging_honour_page_sort_and_query(
    live_server: str,
) -> None:
    admin = basic(live_server)
    for login in ("carol", "alice", "bob"):
        create_user(admin, login)

    everyone = User(admin).search_users()
    assert [hit["login"] for hit in everyone] == ["admin", "alice", "bob", "carol"]
    assert everyone[1]["lastSeenAtAge"] == "10 years"

    second_page = User(admin).search_users(results_per_page=2, page=2, sort="login-desc")
    assert [hit["login"] for hit in second_page] == ["alice", "admin"]

    paged = User(admin).search_users_with_paging(results_per_page=2, page=1, query="ali")
    assert paged["totalCount"] == 1
    assert paged["page"] == 1
    assert paged["perPage"] == 2
    assert [hit["login"] for hit in paged["users"]] == ["alice"]

    by_email = User(admin).search_users_with_paging(sort="email-desc")
    assert by_email["totalCount"] == 4
    assert by_email["perPage"] == 1000
    assert [hit["email"] for hit in by_email["users"]] == [
        "carol@example.com",
        "bob@example.com",
        "alice@example.com",
        "admin@localhost",
    ]


def test_get_user_by_username_or_email_finds_the_user_either_way(live_server: str) -> None:
    admin = basic(live_server)
    user_id = create_user(admin, "dave")

    by_login = User(admin).get_user_by_username_or_email("dave")
    assert by_login["id"] == user_id
    assert by_login["email"] == "dave@example.com"
    assert by_login["authLabels"] is None
    assert by_login["avatarUrl"] == ""

    by_email = User(admin).get_user_by_username_or_email("DAVE@example.com")
    assert by_email["id"] == user_id

    missing = raw(admin, "/api/users/lookup?loginOrEmail=nobody")
    assert missing == {"message": "user not found", "status": 404}


def test_update_user_sends_every_field_and_the_profile_follows(live_server: str) -> None:
    admin = basic(live_server)
    user_id = create_user(admin, "erin")

    User(admin).update_user(
        user_id,
        UserObject(email="Erin.Doe@Example.com", name="Erin Doe", login="ErinD", theme="light"),
    )

    profile = User(admin).get_user_by_id(user_id)
    assert profile["name"] == "Erin Doe"
    assert profile["email"] == "erin.doe@example.com"
    assert profile["login"] == "erind"
    assert profile["theme"] == "light"


def test_user_organizations_and_switch_specific_user_context(live_server: str) -> None:
    admin = basic(live_server)
    user_id = create_user(admin, "frank")
    org_id = OrganisationAdmin(admin).create_organization("Analytics")
    added = OrganisationAdmin(admin).add_organization_user(org_id, "frank", "Editor")
    assert added == user_id

    assert User(admin).get_user_organizations(user_id) == [
        {"orgId": org_id, "name": "Analytics", "role": "Editor"},
        {"orgId": 1, "name": "Main Org.", "role": "Viewer"},
    ]

    User(admin).switch_specific_user_context(user_id, org_id)
    assert User(admin).get_user_by_id(user_id)["orgId"] == org_id

    foreign = raw(admin, f"/api/users/{user_id}/using/{org_id + 100}", "POST", "{}")
    assert foreign == {"message": "Not a valid organization", "status": 401}

    OrganisationAdmin(admin).delete_organization(org_id)
    assert User(admin).get_user_organizations(user_id) == [
        {"orgId": 1, "name": "Main Org.", "role": "Viewer"}
    ]


def test_user_teams_list_the_teams_the_user_belongs_to(live_server: str) -> None:
    admin = basic(live_server)
    user_id = create_user(admin, "grace")
    assert User(admin).get_user_teams(user_id) == []

    team_id = Team(admin).add_team(TeamObject(name="Platform", email="", org_id=1))
    Team(admin).add_team_member(team_id, user_id)

    teams = User(admin).get_user_teams(user_id)
    assert len(teams) == 1
    assert teams[0]["id"] == team_id
    assert teams[0]["name"] == "Platform"
    assert teams[0]["email"] == "Platform"  # the SDK sends the name as the e-mail
    assert teams[0]["memberCount"] == 2  # the creating admin is added automatically
    assert teams[0]["avatarUrl"] == avatar("Platform")

    Team(admin).delete_team_by_id(team_id)
    assert User(admin).get_user_teams(user_id) == []


def test_the_current_user_reads_its_profile_orgs_and_teams_and_switches_context(
    live_server: str,
) -> None:
    admin = basic(live_server)
    user_id = create_user(admin, "heidi", password="heidi-pw")
    org_id = OrganisationAdmin(admin).create_organization("Second Org")
    OrganisationAdmin(admin).add_organization_user(org_id, "heidi@example.com", "Admin")
    team_id = Team(admin).add_team(TeamObject(name="Heidis", email="", org_id=1))
    Team(admin).add_team_member(team_id, user_id)

    heidi = CurrentUser(basic(live_server, "heidi", "heidi-pw"))
    me = heidi.get_user()
    assert me["id"] == user_id
    assert me["login"] == "heidi"
    assert me["orgId"] == 1

    assert heidi.get_user_organizations() == [
        {"orgId": 1, "name": "Main Org.", "role": "Viewer"},
        {"orgId": org_id, "name": "Second Org", "role": "Admin"},
    ]
    assert [team["id"] for team in heidi.get_user_teams()] == [team_id]

    heidi.switch_current_user_context(org_id)
    assert heidi.get_user()["orgId"] == org_id
    assert heidi.get_user_teams() == []  # teams of the current org only

    heidi.switch_current_user_context(1)
    assert heidi.get_user()["orgId"] == 1


def test_update_password_replaces_the_current_users_password(live_server: str) -> None:
    admin = basic(live_server)
    create_user(admin, "ivan", password="old-secret")
    ivan = basic(live_server, "ivan", "old-secret")

    wrong = raw(
        ivan,
        "/api/user/password",
        "PUT",
        '{"oldPassword": "not-it", "newPassword": "new-secret", "confirmNew": "new-secret"}',
    )
    assert wrong["status"] == 400
    assert wrong["message"] == "Invalid old password"

    CurrentUser(ivan).update_password("old-secret", "new-secret", "new-secret")

    assert CurrentUser(basic(live_server, "ivan", "new-secret")).get_user()["login"] == "ivan"
    stale = raw(ivan, "/api/user")
    assert stale["status"] == 401
    assert stale["message"] == "Invalid username or password"


@pytest.mark.grafana("12.0")  # the last release serving stars by numeric id
def test_dashboards_are_starred_and_unstarred_by_uid_and_by_numeric_id(live_server: str) -> None:
    admin = basic(live_server)
    dashboard_id = create_dashboard(live_server, "ops-board", "Ops Board")
    me = CurrentUser(admin)

    me.star_a_dashboard(dashboard_uid="ops-board")
    assert Api(admin).call_the_api("/api/user/stars") == ["ops-board"]
    me.unstar_a_dashboard(dashboard_uid="ops-board")
    assert Api(admin).call_the_api("/api/user/stars") == []

    me.star_a_dashboard(dashboard_id=dashboard_id)
    assert Api(admin).call_the_api("/api/user/stars") == ["ops-board"]
    me.unstar_a_dashboard(dashboard_id=dashboard_id)
    assert Api(admin).call_the_api("/api/user/stars") == []

    unknown = raw(admin, "/api/user/stars/dashboard/uid/no-such-board", "POST", "{}")
    assert unknown["status"] == 404
    assert unknown["message"] == "Dashboard not found"


def test_auth_tokens_of_a_form_login_are_listed_and_revoked(live_server: str) -> None:
    admin = basic(live_server)
    user_id = create_user(admin, "judy", password="judy-pw")
    login = httpx.post(
        live_server + "/login",
        json={"user": "judy", "password": "judy-pw"},
        headers={"User-Agent": FIREFOX},
        timeout=TIMEOUT,
    )
    assert login.status_code == 200
    session = login.cookies["grafana_session"]

    judy = CurrentUser(basic(live_server, "judy", "judy-pw"))
    tokens = judy.get_auth_tokens()
    assert len(tokens) == 1
    assert tokens[0]["isActive"] is False  # basic auth carries no session
    assert tokens[0]["browser"] == "Firefox"
    assert tokens[0]["browserVersion"] == "120.0"
    assert tokens[0]["os"] == "Linux"
    assert tokens[0]["clientIp"] == "127.0.0.1"

    cookie = httpx.get(
        live_server + "/api/user", cookies={"grafana_session": session}, timeout=TIMEOUT
    )
    assert cookie.json()["id"] == user_id

    judy.revoke_auth_token(tokens[0]["id"])
    assert Api(basic(live_server, "judy", "judy-pw")).call_the_api("/api/user/auth-tokens") == []
    revoked = httpx.get(
        live_server + "/api/user", cookies={"grafana_session": session}, timeout=TIMEOUT
    )
    assert revoked.status_code == 401


def test_admin_calls_reset_password_promote_and_delete_a_user(live_server: str) -> None:
    admin = basic(live_server)
    user_id = create_user(admin, "kate", password="kate-pw")

    Admin(admin).update_user_password(user_id, "kate-new-pw")
    kate = basic(live_server, "kate", "kate-new-pw")
    assert CurrentUser(kate).get_user()["id"] == user_id

    Admin(admin).update_user_permissions(user_id, is_grafana_admin=True)
    assert User(admin).get_user_by_id(user_id)["isGrafanaAdmin"] is True
    # Now a server admin, kate may use the `users` operations herself.
    assert [hit["login"] for hit in User(kate).search_users()] == ["admin", "kate"]
    Admin(admin).update_user_permissions(user_id, is_grafana_admin=False)
    assert User(admin).get_user_by_id(user_id)["isGrafanaAdmin"] is False

    Admin(admin).delete_global_user(user_id)
    assert raw(admin, f"/api/users/{user_id}") == {"message": "user not found", "status": 404}


def test_a_service_account_token_works_as_bearer_and_as_api_key_basic(live_server: str) -> None:
    admin = basic(live_server)
    account = ServiceAccount(admin).create_service_account("ci-bot", "Admin")
    assert account["login"] == "sa-1-ci-bot"
    assert account["role"] == "Admin"
    token = ServiceAccount(admin).create_service_account_token_by_id(account["id"], "ci", "Admin")
    assert token["name"] == "ci"
    key: str = token["key"]
    assert key.startswith("glsa_")

    for model in (bearer(live_server, key), basic(live_server, "api_key", key)):
        me = CurrentUser(model).get_user()
        assert me["id"] == 0
        assert me["uid"] == f"service-account:{account['id']}"
        assert me["login"] == "sa-1-ci-bot"
        assert me["orgId"] == 1

    bot = bearer(live_server, key)
    create_dashboard(live_server, "bot-board", "Bot")
    CurrentUser(bot).star_a_dashboard(dashboard_uid="bot-board")
    assert Api(bot).call_the_api("/api/user/stars") == ["bot-board"]
    CurrentUser(bot).unstar_a_dashboard(dashboard_uid="bot-board")
    assert Api(bot).call_the_api("/api/user/stars") == []

    # Service accounts hold org roles only: the server-admin operations deny them,
    # and the user-only routes answer 304 without a body.
    denied = raw(bot, "/api/users")
    assert denied["status"] == 403
    assert denied["accessErrorId"].startswith("ACE")
    assert raw(bot, "/api/user/orgs") == {"status": 304, "data": ""}
    assert raw(bot, "/api/user/auth-tokens") == {
        "message": "entity not allowed to get tokens",
        "status": 403,
    }


def test_the_admin_session_routes_answer_through_the_sdks_generic_call(
    live_server: str,
) -> None:
    admin = basic(live_server)
    user_id = create_user(admin, "lena")
    tokens = f"/api/admin/users/{user_id}/auth-tokens"
    # Without the status: the SDK cannot attach one to an empty list.
    assert Api(admin).call_the_api(tokens, RequestsMethods.GET) == []
    revoke = f"/api/admin/users/{user_id}/revoke-auth-token"
    assert raw(admin, revoke, "POST", '{"authTokenId": 1}') == {
        "message": "User auth token not found",
        "status": 404,
    }
    logout = f"/api/admin/users/{user_id}/logout"
    assert raw(admin, logout, "POST", "{}") == {"message": "User logged out", "status": 200}


def test_get_health_status_reports_the_database_and_version(live_server: str) -> None:
    health = OtherHTTP(basic(live_server)).get_health_status()
    assert health["database"] == "ok"
    assert isinstance(health["version"], str)
    assert health["version"]
    assert isinstance(health["commit"], str)


def test_user_methods_outside_this_api_get_grafanas_404_not_found(live_server: str) -> None:
    admin = basic(live_server)

    assert Preferences(admin).get_current_user_preferences() == {"message": "Not found"}
    outside = [
        ("GET", "/api/user/preferences", None),
        ("PATCH", "/api/user/preferences", '{"theme": "dark"}'),
    ]
    for method, path, body in outside:
        answer = raw(admin, path, method, body)
        assert (method, path, answer) == (method, path, {"message": "Not found", "status": 404})
