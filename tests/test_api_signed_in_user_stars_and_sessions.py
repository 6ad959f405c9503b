"""Operations tagged `signed_in_user`: the caller's dashboard stars and login sessions."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from handlers.store import Store
from handlers.store.schema import user_auth_tokens
from tests.support.api import (
    CHROME_ON_LINUX,
    JANE,
    PASSWORD,
    SAFARI_ON_MAC,
    TIMESTAMP,
    UNAUTHORIZED,
    bearer,
    create_dashboard,
    create_service_account_token,
    create_user,
    message,
    new_client,
    session,
)

DAY = 24 * 3600


def token_ids(response: Any) -> list[int]:
    return [token["id"] for token in response.json()]


# -- stars -----------------------------------------------------------------------------


@pytest.mark.grafana("12.0")  # the last release serving stars by id
def test_starring_by_id_needs_no_dashboard(admin: TestClient) -> None:
    response = admin.post("/api/user/stars/dashboard/4242")
    assert (response.status_code, response.json()) == (200, message("Dashboard starred!"))


@pytest.mark.grafana("12.0")  # the last release serving stars by id
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


@pytest.mark.grafana("12.0")  # the last release serving stars by id
def test_starring_id_zero_is_missing_the_dashboard_id(admin: TestClient) -> None:
    for method in ("POST", "DELETE"):
        response = admin.request(method, "/api/user/stars/dashboard/0")
        assert (response.status_code, response.json()) == (400, message("Missing dashboard id"))


@pytest.mark.grafana("12.0")  # the last release serving stars by id
def test_starring_a_negative_id_is_a_missing_dashboard_id(admin: TestClient) -> None:
    """strconv.ParseInt takes -3; the handler then refuses any id below 1 as missing
    (pkg/services/star/api/api.go); only text is an invalid id."""
    for method in ("POST", "DELETE"):
        negative = admin.request(method, "/api/user/stars/dashboard/-3")
        assert (negative.status_code, negative.json()) == (400, message("Missing dashboard id"))
        text = admin.request(method, "/api/user/stars/dashboard/three")
        assert (text.status_code, text.json()) == (400, message("Invalid dashboard ID"))


@pytest.mark.grafana("12.0")  # the last release serving stars by id
def test_unstarring_what_is_not_starred_is_fine(admin: TestClient) -> None:
    response = admin.delete("/api/user/stars/dashboard/77")
    assert (response.status_code, response.json()) == (200, message("Dashboard unstarred"))


@pytest.mark.grafana("12.0")  # the last release serving stars by id
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


def test_the_newest_release_serves_no_starring_by_id(admin: TestClient) -> None:
    for method in ("POST", "DELETE"):
        response = admin.request(method, "/api/user/stars/dashboard/1")
        assert (response.status_code, response.json()) == (404, {"message": "Not found"})


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


# -- /api/admin/users/{user_id}/logout, auth-tokens, revoke-auth-token -----------------


def test_an_admin_lists_a_users_sessions_none_of_them_active(admin: TestClient, app: Any) -> None:
    jane = create_user(admin, "jane")
    browser = session(app, "jane")
    own = browser.get("/api/user/auth-tokens").json()
    listed = admin.get(f"/api/admin/users/{jane}/auth-tokens")
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()] == [t["id"] for t in own]
    assert [t["isActive"] for t in listed.json()] == [False]


def test_an_admin_signs_a_user_out_of_every_session(admin: TestClient, app: Any) -> None:
    jane = create_user(admin, "jane")
    browsers = [session(app, "jane"), session(app, "jane")]
    response = admin.post(f"/api/admin/users/{jane}/logout")
    assert (response.status_code, response.json()) == (200, message("User logged out"))
    for browser in browsers:
        assert browser.get("/api/user").status_code == 401
    assert admin.get(f"/api/admin/users/{jane}/auth-tokens").json() == []
    assert admin.get("/api/user", auth=JANE).status_code == 200  # basic auth is no session


def test_an_admin_cannot_sign_itself_out(admin: TestClient) -> None:
    response = admin.post("/api/admin/users/1/logout")
    assert (response.status_code, response.json()) == (400, message("You cannot logout yourself"))


def test_an_admin_revokes_one_session_of_a_user(admin: TestClient, app: Any) -> None:
    jane = create_user(admin, "jane")
    first, second = session(app, "jane"), session(app, "jane")
    tokens = token_ids(admin.get(f"/api/admin/users/{jane}/auth-tokens"))
    response = admin.post(
        f"/api/admin/users/{jane}/revoke-auth-token", json={"authTokenId": tokens[0]}
    )
    assert (response.status_code, response.json()) == (200, message("User auth token revoked"))
    assert (first.get("/api/user").status_code, second.get("/api/user").status_code) == (401, 200)
    again = admin.post(
        f"/api/admin/users/{jane}/revoke-auth-token", json={"authTokenId": tokens[0]}
    )
    assert (again.status_code, again.json()) == (404, message("User auth token not found"))


def test_an_admin_cannot_revoke_another_users_session_through_the_wrong_user(
    admin: TestClient, app: Any
) -> None:
    jane, bob = create_user(admin, "jane"), create_user(admin, "bob")
    session(app, "jane")
    [token] = token_ids(admin.get(f"/api/admin/users/{jane}/auth-tokens"))
    response = admin.post(f"/api/admin/users/{bob}/revoke-auth-token", json={"authTokenId": token})
    assert (response.status_code, response.json()) == (404, message("User auth token not found"))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/admin/users/999/logout", None),
        ("GET", "/api/admin/users/999/auth-tokens", None),
        ("POST", "/api/admin/users/999/revoke-auth-token", {"authTokenId": 1}),
        ("GET", "/api/admin/users/no-such-uid/auth-tokens", None),
    ],
)
def test_the_admin_session_routes_say_user_not_found_for_an_unknown_user(
    admin: TestClient, method: str, path: str, body: Any
) -> None:
    response = admin.request(method, path, json=body)
    assert (response.status_code, response.json()) == (404, message("User not found"))


def test_the_admin_session_routes_need_a_grafana_admin(admin: TestClient) -> None:
    jane = create_user(admin, "jane")
    for method, path in [
        ("POST", f"/api/admin/users/{jane}/logout"),
        ("GET", f"/api/admin/users/{jane}/auth-tokens"),
        ("POST", f"/api/admin/users/{jane}/revoke-auth-token"),
    ]:
        response = admin.request(method, path, auth=JANE, json={"authTokenId": 1})
        assert response.status_code == 403, (path, response.text)
        assert response.json()["title"] == "Access denied"
