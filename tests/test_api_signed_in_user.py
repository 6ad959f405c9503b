"""Operations tagged `signed_in_user`: the caller's own profile, orgs, teams, stars, sessions."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from handlers.store import Store
from handlers.store.schema import user_auth_tokens
from tests.support.api import (
    BAD_CREDENTIALS,
    CHROME_ON_LINUX,
    PASSWORD,
    SAFARI_ON_MAC,
    TIMESTAMP,
    UID,
    UNAUTHORIZED,
    add_org_user,
    add_team_member,
    bearer,
    create_dashboard,
    create_org,
    create_service_account_token,
    create_team,
    create_user,
    errutil,
    jane_profile,
    message,
    new_client,
    session,
    team_entry,
)

JANE = ("jane", PASSWORD)
DAY = 24 * 3600


def token_ids(response: Any) -> list[int]:
    return [token["id"] for token in response.json()]


# -- GET /api/user ---------------------------------------------------------------------


def test_the_signed_in_user_gets_their_own_profile(admin: TestClient) -> None:
    user_id = create_user(admin, "jane", name="Jane Doe")
    response = admin.get("/api/user", auth=JANE)
    body = response.json()
    assert response.status_code == 200
    assert UID.match(body.pop("uid"))
    assert TIMESTAMP.match(body.pop("createdAt")) and TIMESTAMP.match(body.pop("updatedAt"))
    assert body == jane_profile(user_id)


def test_the_profile_is_the_same_as_the_admin_view_of_the_user(admin: TestClient, app: Any) -> None:
    user_id = create_user(admin, "jane")
    by_session = session(app, "jane").get("/api/user")
    assert (by_session.status_code, by_session.json()) == (
        200,
        admin.get(f"/api/users/{user_id}").json(),
    )


@pytest.mark.parametrize("module", ["ldap", "oauth_github"])
def test_an_external_user_sees_their_external_profile_by_password_and_session(
    admin: TestClient, app: Any, store: Store, module: str
) -> None:
    user_id = create_user(admin, "jane")
    store.link_external(user_id, module, "jane-ext")
    expected = admin.get(f"/api/users/{user_id}").json()
    assert expected["isExternal"] is True and expected["authLabels"]
    by_password = admin.get("/api/user", auth=JANE)
    by_session = session(app, "jane").get("/api/user")
    assert by_password.json() == by_session.json() == expected


def test_the_profile_follows_a_rename_on_the_next_request(admin: TestClient) -> None:
    user_id = create_user(admin, "jane", name="Jane")
    assert admin.get("/api/user", auth=JANE).json()["name"] == "Jane"
    renamed = admin.put(f"/api/users/{user_id}", json={"name": "Jane Roe", "login": "jane"})
    assert renamed.status_code == 200
    assert admin.get("/api/user", auth=JANE).json()["name"] == "Jane Roe"


def test_a_service_account_token_gets_a_minimal_profile(
    admin: TestClient, client: TestClient
) -> None:
    account_id, token = create_service_account_token(admin, name="robot")
    response = client.get("/api/user", headers=bearer(token))
    assert (response.status_code, response.json()) == (
        200,
        {
            "id": 0,
            "uid": f"service-account:{account_id}",
            "email": "",
            "name": "sa-1-robot",
            "login": "sa-1-robot",
            "theme": "",
            "orgId": 1,
            "isGrafanaAdmin": False,
            "isDisabled": False,
            "isExternal": False,
            "isExternallySynced": False,
            "isGrafanaAdminExternallySynced": False,
            "authLabels": None,
            "updatedAt": "0001-01-01T00:00:00Z",
            "createdAt": "0001-01-01T00:00:00Z",
            "avatarUrl": "",
        },
    )


def test_an_anonymous_caller_has_no_profile(client: TestClient) -> None:
    response = client.get("/api/user")
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


# -- service accounts on user-only operations ------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/api/user", {"login": "x"}),
        ("PUT", "/api/user/password", {"oldPassword": "a", "newPassword": "bbbbbb"}),
        ("POST", "/api/user/using/1", None),
        ("GET", "/api/user/orgs", None),
        ("GET", "/api/user/teams", None),
    ],
)
def test_a_service_account_gets_304_without_a_body_where_only_users_make_sense(
    admin: TestClient, client: TestClient, method: str, path: str, body: Any
) -> None:
    _, token = create_service_account_token(admin)
    response = client.request(method, path, headers=bearer(token), json=body)
    assert (response.status_code, response.content) == (304, b"")


def test_a_service_account_may_not_list_session_tokens(
    admin: TestClient, client: TestClient
) -> None:
    _, token = create_service_account_token(admin)
    response = client.get("/api/user/auth-tokens", headers=bearer(token))
    assert (response.status_code, response.json()) == (
        403,
        message("entity not allowed to get tokens"),
    )


def test_a_service_account_may_not_revoke_session_tokens(
    admin: TestClient, client: TestClient
) -> None:
    _, token = create_service_account_token(admin)
    response = client.post(
        "/api/user/revoke-auth-token", headers=bearer(token), json={"authTokenId": 1}
    )
    assert (response.status_code, response.json()) == (
        403,
        message("entity not allowed to revoke tokens"),
    )


def test_a_service_accounts_malformed_revoke_body_is_refused_before_its_identity(
    admin: TestClient, client: TestClient
) -> None:
    _, token = create_service_account_token(admin)
    response = client.post(
        "/api/user/revoke-auth-token", headers=bearer(token), json={"authTokenId": "x"}
    )
    assert (response.status_code, response.json()) == (400, message("bad request data"))


# -- PUT /api/user ---------------------------------------------------------------------


def test_users_may_update_themselves_and_then_sign_in_with_the_new_login(
    admin: TestClient,
) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user", auth=JANE, json={"login": " JDoe ", "name": "J", "theme": "dark"}
    )
    assert (response.status_code, response.json()) == (200, message("User updated"))
    renamed = admin.get("/api/user", auth=("jdoe", PASSWORD))
    body = renamed.json()
    assert renamed.status_code == 200
    assert (body["login"], body["email"], body["name"], body["theme"]) == (
        "jdoe",
        "jane@example.com",
        "J",
        "dark",
    )
    gone = admin.get("/api/user", auth=JANE)
    assert (gone.status_code, gone.json()) == (401, BAD_CREDENTIALS)


def test_a_self_update_without_login_or_email_is_a_bad_request(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put("/api/user", auth=JANE, json={"name": "Nameless"})
    assert (response.status_code, response.json()) == (
        400,
        errutil("Need to specify either username or email", "user.empty-username-and-email", 400),
    )


def test_a_self_update_into_another_login_is_a_conflict(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put("/api/user", auth=JANE, json={"login": "Admin"})
    assert (response.status_code, response.json()) == (
        409,
        message("Update would result in user login conflict"),
    )


def test_an_external_user_may_not_update_themselves(admin: TestClient, store: Store) -> None:
    user_id = create_user(admin, "jane")
    store.link_external(user_id, "oauth_github", "1234")
    response = admin.put("/api/user", auth=JANE, json={"login": "jane2"})
    assert (response.status_code, response.json()) == (403, message("Cannot update external User"))


def test_a_self_update_with_invalid_json_is_bad_request_data(admin: TestClient) -> None:
    response = admin.put(
        "/api/user", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()) == (400, message("bad request data"))


# -- PUT /api/user/password ------------------------------------------------------------


def test_changing_the_password_makes_only_the_new_one_work(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": PASSWORD, "newPassword": "brand-new"}
    )
    assert (response.status_code, response.json()) == (200, message("User password changed"))
    assert admin.get("/api/user", auth=("jane", "brand-new")).status_code == 200
    old = admin.get("/api/user", auth=JANE)
    assert (old.status_code, old.json()) == (401, BAD_CREDENTIALS)


def test_changing_the_password_keeps_existing_sessions(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    browser = session(app, "jane")
    admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": PASSWORD, "newPassword": "brand-new"}
    )
    response = browser.get("/api/user")
    assert (response.status_code, response.json()["login"]) == (200, "jane")


def test_changing_the_password_ignores_confirm_new(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user/password",
        auth=JANE,
        json={"oldPassword": PASSWORD, "newPassword": "brand-new", "confirmNew": "different"},
    )
    assert (response.status_code, response.json()) == (200, message("User password changed"))


def test_changing_the_password_with_a_wrong_old_password_is_refused(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": "wrong", "newPassword": "brand-new"}
    )
    assert (response.status_code, response.json()) == (
        400,
        errutil("Invalid old password", "user.password-missmatch", 400),
    )
    assert admin.get("/api/user", auth=JANE).status_code == 200


@pytest.mark.parametrize("new", ["", "abc", "é"])
def test_a_new_password_under_four_bytes_is_too_short(admin: TestClient, new: str) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": PASSWORD, "newPassword": new}
    )
    assert (response.status_code, response.json()) == (
        400,
        errutil("New password is too short", "password.password-policy-too-short", 400),
    )


@pytest.mark.parametrize("new", ["abcd", "éé"])
def test_a_new_password_of_four_bytes_is_long_enough(admin: TestClient, new: str) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": PASSWORD, "newPassword": new}
    )
    assert (response.status_code, response.json()) == (200, message("User password changed"))
    assert admin.get("/api/user", auth=("jane", new)).status_code == 200


def test_the_old_password_is_checked_before_the_new_one(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": "wrong", "newPassword": "x"}
    )
    assert (response.status_code, response.json()["message"]) == (400, "Invalid old password")


def test_an_external_user_may_not_change_their_password(admin: TestClient, store: Store) -> None:
    user_id = create_user(admin, "jane")
    store.link_external(user_id, "ldap", "cn=jane")
    response = admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": PASSWORD, "newPassword": "brand-new"}
    )
    assert (response.status_code, response.json()) == (403, message("Cannot update external User"))


# -- POST /api/user/using/{org_id} -----------------------------------------------------


def test_users_may_switch_to_an_org_they_belong_to(admin: TestClient) -> None:
    create_user(admin, "jane")
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane", "Editor")
    response = admin.post(f"/api/user/using/{org_id}", auth=JANE)
    assert (response.status_code, response.json()) == (200, message("Active organization changed"))
    assert admin.get("/api/user", auth=JANE).json()["orgId"] == org_id


@pytest.mark.parametrize("org", ["other", "missing"])
def test_switching_to_an_org_one_is_not_in_is_unauthorized(admin: TestClient, org: str) -> None:
    create_user(admin, "jane")
    org_id = create_org(admin, "Second") if org == "other" else 999
    response = admin.post(f"/api/user/using/{org_id}", auth=JANE)
    assert (response.status_code, response.json()) == (401, message("Not a valid organization"))
    assert admin.get("/api/user", auth=JANE).json()["orgId"] == 1


def test_switching_to_a_negative_org_id_is_an_invalid_id(admin: TestClient) -> None:
    response = admin.post("/api/user/using/-1")
    assert (response.status_code, response.json()) == (400, message("id is invalid"))


# -- GET /api/user/orgs ----------------------------------------------------------------


def test_own_orgs_are_listed_by_name_ignoring_case(admin: TestClient) -> None:
    create_user(admin, "jane")
    beta, alpha = create_org(admin, "beta"), create_org(admin, "Alpha")
    add_org_user(admin, beta, "jane", "Admin")
    add_org_user(admin, alpha, "jane", "None")
    response = admin.get("/api/user/orgs", auth=JANE)
    assert (response.status_code, response.json()) == (
        200,
        [
            {"orgId": alpha, "name": "Alpha", "role": "None"},
            {"orgId": beta, "name": "beta", "role": "Admin"},
            {"orgId": 1, "name": "Main Org.", "role": "Viewer"},
        ],
    )


# -- GET /api/user/teams ---------------------------------------------------------------


def test_own_teams_are_those_of_the_current_org(admin: TestClient) -> None:
    user_id = create_user(admin, "jane")
    main_team = create_team(admin, "Team 1", email="team@example.com")
    add_team_member(admin, main_team, user_id)
    org_id = create_org(admin, "Second")
    add_org_user(admin, org_id, "jane")
    admin.post(f"/api/user/using/{org_id}")
    add_team_member(admin, create_team(admin, "Elsewhere"), user_id)
    response = admin.get("/api/user/teams", auth=JANE)
    body = response.json()
    assert response.status_code == 200
    assert UID.match(body[0].pop("uid"))
    assert body == [
        team_entry(
            main_team, "Team 1", "team@example.com", "/avatar/ff1637bedfa6369cbcc915bdabd290f5", 2
        )
    ]


def test_a_team_creator_is_its_admin_member(admin: TestClient) -> None:
    team_id = create_team(admin, "team1")
    response = admin.get("/api/user/teams")
    body = response.json()
    assert response.status_code == 200
    assert [(t["id"], t["memberCount"], t["permission"], t["avatarUrl"]) for t in body] == [
        (team_id, 1, 4, "/avatar/3fcfe295eae3bcb67a49349377428a66")
    ]


def test_a_user_in_no_team_has_an_empty_team_list(admin: TestClient) -> None:
    create_user(admin, "jane")
    create_team(admin, "Not Janes")
    response = admin.get("/api/user/teams", auth=JANE)
    assert (response.status_code, response.json()) == (200, [])


# -- stars -----------------------------------------------------------------------------


def test_starring_by_id_needs_no_dashboard(admin: TestClient) -> None:
    response = admin.post("/api/user/stars/dashboard/4242")
    assert (response.status_code, response.json()) == (200, message("Dashboard starred!"))


def test_starring_twice_is_fine_and_leaves_one_star(admin: TestClient) -> None:
    dashboard = create_dashboard(admin, "Twice")
    first = admin.post(f"/api/user/stars/dashboard/{dashboard['id']}")
    second = admin.post(f"/api/user/stars/dashboard/{dashboard['id']}")
    assert (first.status_code, second.status_code, second.json()) == (
        200,
        200,
        message("Dashboard starred!"),
    )
    assert admin.get("/api/user/stars").json() == [dashboard["uid"]]


def test_starring_id_zero_is_missing_the_dashboard_id(admin: TestClient) -> None:
    for method in ("POST", "DELETE"):
        response = admin.request(method, "/api/user/stars/dashboard/0")
        assert (response.status_code, response.json()) == (400, message("Missing dashboard id"))


def test_starring_a_negative_id_is_an_invalid_dashboard_id(admin: TestClient) -> None:
    for method in ("POST", "DELETE"):
        response = admin.request(method, "/api/user/stars/dashboard/-3")
        assert (response.status_code, response.json()) == (400, message("Invalid dashboard ID"))


def test_unstarring_what_is_not_starred_is_fine(admin: TestClient) -> None:
    response = admin.delete("/api/user/stars/dashboard/77")
    assert (response.status_code, response.json()) == (200, message("Dashboard unstarred"))


def test_stars_by_id_and_uid_show_in_the_star_list_until_unstarred(admin: TestClient) -> None:
    first = create_dashboard(admin, "First")
    second = create_dashboard(admin, "Second", uid="second-uid")
    assert admin.get("/api/user/stars").json() == []
    by_id = admin.post(f"/api/user/stars/dashboard/{first['id']}")
    by_uid = admin.post("/api/user/stars/dashboard/uid/second-uid")
    assert (by_id.json(), by_uid.status_code, by_uid.json()) == (
        message("Dashboard starred!"),
        200,
        message("Dashboard starred!"),
    )
    assert admin.get("/api/user/stars").json() == [first["uid"], "second-uid"]
    unstar_uid = admin.delete("/api/user/stars/dashboard/uid/second-uid")
    unstar_id = admin.delete(f"/api/user/stars/dashboard/{first['id']}")
    assert (unstar_uid.status_code, unstar_uid.json()) == (200, message("Dashboard unstarred"))
    assert (unstar_id.status_code, unstar_id.json()) == (200, message("Dashboard unstarred"))
    listed = admin.get("/api/user/stars")
    assert (listed.status_code, listed.json()) == (200, [])
    assert second["uid"] == "second-uid"


def test_stars_belong_to_the_user_who_set_them(admin: TestClient) -> None:
    create_user(admin, "jane")
    dashboard = create_dashboard(admin, "Mine")
    admin.post(f"/api/user/stars/dashboard/uid/{dashboard['uid']}")
    response = admin.get("/api/user/stars", auth=JANE)
    assert (response.status_code, response.json()) == (200, [])


def test_starring_an_unknown_uid_is_not_found(admin: TestClient) -> None:
    response = admin.post("/api/user/stars/dashboard/uid/no-such-uid")
    assert (response.status_code, response.json()) == (404, message("Dashboard not found"))


def test_unstarring_an_unknown_uid_is_fine(admin: TestClient) -> None:
    response = admin.delete("/api/user/stars/dashboard/uid/no-such-uid")
    assert (response.status_code, response.json()) == (200, message("Dashboard unstarred"))


def test_a_deleted_dashboard_leaves_the_star_list(admin: TestClient) -> None:
    dashboard = create_dashboard(admin, "Doomed")
    admin.post(f"/api/user/stars/dashboard/uid/{dashboard['uid']}")
    admin.delete(f"/api/dashboards/uid/{dashboard['uid']}")
    response = admin.get("/api/user/stars")
    assert (response.status_code, response.json()) == (200, [])


def test_a_service_account_may_star_dashboards(admin: TestClient, client: TestClient) -> None:
    dashboard = create_dashboard(admin, "Robot's")
    _, token = create_service_account_token(admin)
    starred = client.post(
        f"/api/user/stars/dashboard/uid/{dashboard['uid']}", headers=bearer(token)
    )
    listed = client.get("/api/user/stars", headers=bearer(token))
    assert (starred.status_code, starred.json()) == (200, message("Dashboard starred!"))
    assert (listed.status_code, listed.json()) == (200, [dashboard["uid"]])


def test_starring_a_non_numeric_id_is_not_routed(admin: TestClient) -> None:
    response = admin.post("/api/user/stars/dashboard/abc")
    assert (response.status_code, response.json()) == (404, message("Not found"))


# -- GET /api/user/auth-tokens ---------------------------------------------------------


def test_basic_auth_alone_creates_no_session_tokens(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.get("/api/user/auth-tokens", auth=JANE)
    assert (response.status_code, response.json()) == (200, [])


def test_a_login_session_is_listed_with_its_parsed_user_agent(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    before = int(time.time())
    browser = session(app, "jane", user_agent=CHROME_ON_LINUX)
    response = browser.get("/api/user/auth-tokens")
    assert response.status_code == 200
    [token] = response.json()
    created, seen = token.pop("createdAt"), token.pop("seenAt")
    assert TIMESTAMP.match(created) and seen == created
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(before)) <= created
    assert token == {
        "id": token["id"],
        "isActive": True,
        "clientIp": "testclient",
        "browser": "Chrome",
        "browserVersion": "120.0",
        "os": "Linux",
        "osVersion": "",
        "device": "Other",
        "authModule": "",
    }


def test_only_the_token_of_the_current_cookie_is_active(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    laptop = session(app, "jane", user_agent=CHROME_ON_LINUX)
    phone = session(app, "jane", user_agent=SAFARI_ON_MAC)
    from_laptop = laptop.get("/api/user/auth-tokens").json()
    from_phone = phone.get("/api/user/auth-tokens").json()
    from_basic = admin.get("/api/user/auth-tokens", auth=JANE).json()
    assert [(t["browser"], t["isActive"]) for t in from_laptop] == [
        ("Chrome", True),
        ("Safari", False),
    ]
    assert [(t["os"], t["osVersion"], t["device"], t["isActive"]) for t in from_phone] == [
        ("Linux", "", "Other", False),
        ("Mac OS X", "10.15", "Mac", True),
    ]
    assert [t["isActive"] for t in from_basic] == [False, False]


def test_unknown_user_agents_are_other(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    browser = session(app, "jane", user_agent="")
    [token] = browser.get("/api/user/auth-tokens").json()
    assert (
        token["browser"],
        token["browserVersion"],
        token["os"],
        token["osVersion"],
        token["device"],
    ) == ("Other", "", "Other", "", "Other")


def test_tokens_of_other_users_are_not_listed(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    session(app, "jane")
    response = admin.get("/api/user/auth-tokens")
    assert (response.status_code, response.json()) == (200, [])


@pytest.mark.parametrize("age", ["lifetime", "idle"])
def test_expired_sessions_are_not_listed(
    admin: TestClient, app: Any, store: Store, age: str
) -> None:
    create_user(admin, "jane")
    session(app, "jane")
    kept = session(app, "jane")
    long_ago = int(time.time()) - (31 if age == "lifetime" else 8) * DAY
    values = (
        {"created_at": long_ago}
        if age == "lifetime"
        else {"rotated_at": long_ago, "seen_at": long_ago}
    )
    with store.db.write() as conn:
        conn.execute(update(user_auth_tokens).where(user_auth_tokens.c.id == 1).values(**values))
    response = kept.get("/api/user/auth-tokens")
    assert (response.status_code, token_ids(response)) == (200, [2])


# -- POST /api/user/revoke-auth-token --------------------------------------------------


def test_revoking_another_session_ends_it(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    laptop = session(app, "jane")
    phone = session(app, "jane")
    laptop_id, phone_id = token_ids(laptop.get("/api/user/auth-tokens"))
    response = laptop.post("/api/user/revoke-auth-token", json={"authTokenId": phone_id})
    assert (response.status_code, response.json()) == (200, message("User auth token revoked"))
    dead = phone.get("/api/user")
    assert (dead.status_code, dead.json()) == (401, UNAUTHORIZED)
    assert token_ids(laptop.get("/api/user/auth-tokens")) == [laptop_id]
    again = laptop.post("/api/user/revoke-auth-token", json={"authTokenId": phone_id})
    assert (again.status_code, again.json()) == (404, message("User auth token not found"))


def test_revoking_the_current_session_is_refused(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    laptop = session(app, "jane")
    [token_id] = token_ids(laptop.get("/api/user/auth-tokens"))
    response = laptop.post("/api/user/revoke-auth-token", json={"authTokenId": token_id})
    assert (response.status_code, response.json()) == (
        400,
        message("Cannot revoke active user auth token"),
    )
    assert laptop.get("/api/user").status_code == 200


def test_with_basic_auth_any_own_session_may_be_revoked(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    laptop = session(app, "jane")
    [token_id] = token_ids(laptop.get("/api/user/auth-tokens"))
    response = admin.post("/api/user/revoke-auth-token", auth=JANE, json={"authTokenId": token_id})
    assert (response.status_code, response.json()) == (200, message("User auth token revoked"))
    assert laptop.get("/api/user").status_code == 401


@pytest.mark.parametrize("body", [{"authTokenId": 999}, {"authTokenId": 0}, {}])
def test_revoking_an_unknown_token_is_not_found(admin: TestClient, body: Any) -> None:
    response = admin.post("/api/user/revoke-auth-token", json=body)
    assert (response.status_code, response.json()) == (404, message("User auth token not found"))


def test_revoking_another_users_token_is_not_found(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    janes = session(app, "jane")
    [token_id] = token_ids(janes.get("/api/user/auth-tokens"))
    response = admin.post("/api/user/revoke-auth-token", json={"authTokenId": token_id})
    assert (response.status_code, response.json()) == (404, message("User auth token not found"))
    assert janes.get("/api/user").status_code == 200


@pytest.mark.parametrize("body", [{"authTokenId": "x"}, ["authTokenId"]])
def test_a_revoke_body_of_the_wrong_shape_is_bad_request_data(admin: TestClient, body: Any) -> None:
    response = admin.post("/api/user/revoke-auth-token", json=body)
    assert (response.status_code, response.json()) == (400, message("bad request data"))


def test_a_revoke_without_json_content_type_is_bad_request_data(admin: TestClient) -> None:
    response = admin.post(
        "/api/user/revoke-auth-token",
        content=b'{"authTokenId": 1}',
        headers={"Content-Type": "text/plain"},
    )
    assert (response.status_code, response.json()) == (400, message("bad request data"))


def test_a_logged_out_session_is_no_longer_listed(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    laptop = session(app, "jane")
    phone = new_client(app)
    phone.post("/login", json={"user": "jane", "password": PASSWORD})
    phone.get("/logout", follow_redirects=False)
    response = laptop.get("/api/user/auth-tokens")
    assert (response.status_code, len(response.json())) == (200, 1)
