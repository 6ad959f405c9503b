"""Who may call: basic auth, session cookies, service-account tokens, lockout and caching."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from handlers.app import create_app
from handlers.clock import SYSTEM
from handlers.settings import Settings
from handlers.store import Store
from handlers.store.schema import user_auth_tokens, users
from tests.support.api import (
    BAD_CREDENTIALS,
    BASE_URL,
    JANE,
    PASSWORD,
    UNAUTHORIZED,
    assert_access_denied,
    bearer,
    create_service_account_token,
    create_user,
    errutil,
    session,
)

DAY = 24 * 3600
INVALID_API_KEY = errutil("Invalid API key", "api-key.invalid", 401)
DISABLED = errutil("Unauthorized", "identity.disabled", 401)


def fail_logins(client: TestClient, user: str, times: int) -> None:
    for _ in range(times):
        assert client.get("/api/user", auth=(user, "wrong")).status_code == 401


def set_session(store: Store, **values: Any) -> None:
    with store.db.write() as conn:
        conn.execute(update(user_auth_tokens).values(**values))


# -- basic auth ------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["jane", "JANE", "jane@example.com", "JANE@EXAMPLE.COM"])
def test_basic_auth_takes_the_login_or_the_email_in_any_case(
    admin: TestClient, client: TestClient, user: str
) -> None:
    create_user(admin, "jane")
    response = client.get("/api/user", auth=(user, PASSWORD))
    assert (response.status_code, response.json()["login"]) == (200, "jane")


@pytest.mark.parametrize(
    ("user", "password"),
    [("jane", "wrong"), ("jane", PASSWORD.upper()), ("nobody", PASSWORD), ("jane", "")],
)
def test_basic_auth_with_a_wrong_password_or_unknown_user_is_unauthorized(
    admin: TestClient, client: TestClient, user: str, password: str
) -> None:
    create_user(admin, "jane")
    response = client.get("/api/user", auth=(user, password))
    assert (response.status_code, response.json()) == (401, BAD_CREDENTIALS)


def test_a_password_with_non_ascii_characters_works_over_basic_auth(
    admin: TestClient, client: TestClient
) -> None:
    create_user(admin, "jane", password="pässwörd")
    response = client.get("/api/user", auth=("jane", "pässwörd"))
    assert (response.status_code, response.json()["login"]) == (200, "jane")


def test_a_disabled_user_is_unauthorized(admin: TestClient, client: TestClient) -> None:
    user_id = create_user(admin, "jane")
    admin.post(f"/api/admin/users/{user_id}/disable")
    response = client.get("/api/user", auth=JANE)
    assert (response.status_code, response.json()) == (401, DISABLED)


def test_no_credentials_at_all_is_unauthorized(client: TestClient) -> None:
    response = client.get("/api/user")
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "header", ["Basic !!!notbase64", "Basic " + "amFuZQ==", "Digest x=1", "Bearer"]
)
def test_malformed_authorization_headers_are_unauthorized(client: TestClient, header: str) -> None:
    response = client.get("/api/user", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["message"] in {"Unauthorized", "Invalid API key"}


def test_a_non_admin_gets_the_rbac_refusal_on_admin_routes(
    admin: TestClient, client: TestClient
) -> None:
    create_user(admin, "jane")
    assert_access_denied(client.get("/api/users/search", auth=JANE), "users:read")


# -- session cookies -------------------------------------------------------------------


def test_a_session_cookie_authenticates(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    response = session(app, "jane").get("/api/user")
    assert (response.status_code, response.json()["login"]) == (200, "jane")


def test_an_unknown_session_cookie_is_unauthorized(client: TestClient) -> None:
    response = client.get("/api/user", cookies={"grafana_session": "0" * 32})
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


@pytest.mark.parametrize(("column", "days"), [("created_at", 31), ("rotated_at", 8)])
def test_a_session_past_its_lifetime_or_idle_too_long_is_unauthorized(
    admin: TestClient, app: Any, store: Store, column: str, days: int
) -> None:
    create_user(admin, "jane")
    browser = session(app, "jane")
    set_session(store, **{column: int(time.time()) - days * DAY})
    response = browser.get("/api/user")
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_a_session_inside_its_limits_still_works(admin: TestClient, app: Any, store: Store) -> None:
    create_user(admin, "jane")
    browser = session(app, "jane")
    set_session(
        store, created_at=int(time.time()) - 29 * DAY, rotated_at=int(time.time()) - 6 * DAY
    )
    assert browser.get("/api/user").status_code == 200


def test_using_a_session_after_ten_minutes_marks_it_seen(
    admin: TestClient, app: Any, store: Store
) -> None:
    create_user(admin, "jane")
    browser = session(app, "jane")
    long_ago = int(time.time()) - 3 * DAY
    set_session(store, rotated_at=long_ago, seen_at=long_ago)
    assert browser.get("/api/user").status_code == 200
    with store.db.read() as conn:
        seen_at = conn.execute(select(user_auth_tokens.c.seen_at)).scalar_one()
    assert seen_at >= int(time.time()) - 60


def test_a_revoked_session_is_unauthorized(admin: TestClient, app: Any) -> None:
    create_user(admin, "jane")
    browser = session(app, "jane")
    [token] = browser.get("/api/user/auth-tokens").json()
    admin.post("/api/user/revoke-auth-token", auth=JANE, json={"authTokenId": token["id"]})
    response = browser.get("/api/user")
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_disabling_a_user_ends_their_sessions(admin: TestClient, app: Any) -> None:
    user_id = create_user(admin, "jane")
    browser = session(app, "jane")
    admin.post(f"/api/admin/users/{user_id}/disable")
    admin.post(f"/api/admin/users/{user_id}/enable")
    response = browser.get("/api/user")
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


# -- service-account tokens ------------------------------------------------------------


def test_a_service_account_token_works_as_bearer_and_as_basic_api_key(
    admin: TestClient, client: TestClient
) -> None:
    account_id, token = create_service_account_token(admin)
    for kwargs in ({"headers": bearer(token)}, {"auth": ("api_key", token)}):
        response = client.get("/api/user", **kwargs)
        assert (response.status_code, response.json()["uid"]) == (
            200,
            f"service-account:{account_id}",
        )


@pytest.mark.parametrize("kind", ["bearer", "basic"])
def test_an_invalid_token_is_an_invalid_api_key(client: TestClient, kind: str) -> None:
    token = "glsa_" + "x" * 32 + "_00000000"
    kwargs: dict[str, Any] = (
        {"headers": bearer(token)} if kind == "bearer" else {"auth": ("api_key", token)}
    )
    response = client.get("/api/user", **kwargs)
    assert (response.status_code, response.json()) == (401, INVALID_API_KEY)


def test_a_token_does_not_work_after_its_service_account_is_disabled(
    admin: TestClient, client: TestClient, store: Store
) -> None:
    account_id, token = create_service_account_token(admin)
    with store.db.write() as conn:
        conn.execute(update(users).where(users.c.id == account_id).values(is_disabled=True))
    response = client.get("/api/user", headers=bearer(token))
    assert (response.status_code, response.json()) == (401, INVALID_API_KEY)


# -- brute-force protection ------------------------------------------------------------


def test_five_failures_lock_the_login_even_for_the_right_password(
    admin: TestClient, client: TestClient
) -> None:
    create_user(admin, "jane")
    fail_logins(client, "jane", 4)
    assert client.get("/api/user", auth=JANE).status_code == 200
    fail_logins(client, "jane", 1)
    locked = client.get("/api/user", auth=JANE)
    form = client.post("/login", json={"user": "jane", "password": PASSWORD})
    assert (locked.status_code, locked.json()) == (401, BAD_CREDENTIALS)
    assert (form.status_code, form.json()) == (401, BAD_CREDENTIALS)


def test_the_lockout_counts_the_username_as_typed_ignoring_case(
    admin: TestClient, client: TestClient
) -> None:
    create_user(admin, "jane")
    fail_logins(client, "JANE", 5)
    assert client.get("/api/user", auth=JANE).status_code == 401
    assert client.get("/api/user", auth=("jane@example.com", PASSWORD)).status_code == 200


def test_failures_older_than_five_minutes_do_not_count(
    admin: TestClient, client: TestClient, store: Store
) -> None:
    create_user(admin, "jane")
    for _ in range(5):
        store.record_failed_login("jane", "127.0.0.1", int(time.time()) - 301)
    fail_logins(client, "jane", 4)
    response = client.get("/api/user", auth=JANE)
    assert (response.status_code, response.json()["login"]) == (200, "jane")


def test_an_admin_password_reset_lifts_the_lockout(admin: TestClient, client: TestClient) -> None:
    user_id = create_user(admin, "jane")
    fail_logins(client, "jane", 5)
    admin.put(f"/api/admin/users/{user_id}/password", json={"password": "reset-pw"})
    response = client.get("/api/user", auth=("jane", "reset-pw"))
    assert (response.status_code, response.json()["login"]) == (200, "jane")


def test_the_lockout_can_be_switched_off(admin: TestClient, store: Store) -> None:
    create_user(admin, "jane")
    settings = Settings(
        database_url="sqlite://", validate_responses=True, disable_brute_force_protection=True
    )
    with TestClient(create_app(settings, store=store), base_url=BASE_URL) as client:
        fail_logins(client, "jane", 6)
        assert client.get("/api/user", auth=JANE).status_code == 200


# -- credential cache and last-seen ----------------------------------------------------


def test_a_password_change_invalidates_the_cached_credentials(
    admin: TestClient, client: TestClient
) -> None:
    create_user(admin, "jane")
    assert client.get("/api/user", auth=JANE).status_code == 200  # now cached
    client.put(
        "/api/user/password", auth=JANE, json={"oldPassword": PASSWORD, "newPassword": "brand-new"}
    )
    old = client.get("/api/user", auth=JANE)
    assert (old.status_code, old.json()) == (401, BAD_CREDENTIALS)
    assert client.get("/api/user", auth=("jane", "brand-new")).status_code == 200


def test_an_admin_reset_invalidates_the_cached_credentials(
    admin: TestClient, client: TestClient
) -> None:
    user_id = create_user(admin, "jane")
    assert client.get("/api/user", auth=JANE).status_code == 200
    admin.put(f"/api/admin/users/{user_id}/password", json={"password": "reset-pw"})
    old = client.get("/api/user", auth=JANE)
    assert (old.status_code, old.json()) == (401, BAD_CREDENTIALS)


def test_the_cache_is_not_shared_between_apps(admin: TestClient, app: Any, store: Store) -> None:
    create_user(admin, "jane")
    other = TestClient(
        create_app(Settings(database_url="sqlite://"), store=store), base_url=BASE_URL
    )
    assert other.get("/api/user", auth=JANE).status_code == 200
    admin.put(
        "/api/user/password", auth=JANE, json={"oldPassword": PASSWORD, "newPassword": "brand-new"}
    )
    response = other.get("/api/user", auth=JANE)
    assert (response.status_code, response.json()) == (401, BAD_CREDENTIALS)


def search_age(admin: TestClient, login: str) -> str:
    hits = admin.get("/api/users/search", params={"query": login}).json()["users"]
    age: str = hits[0]["lastSeenAtAge"]
    return age


def test_signing_in_updates_last_seen(admin: TestClient, client: TestClient) -> None:
    create_user(admin, "jane")
    assert search_age(admin, "jane") == "10 years"
    client.get("/api/user", auth=JANE)
    assert search_age(admin, "jane") == "< 1 minute"


@pytest.fixture(params=["UTC", "Asia/Tokyo", "America/Los_Angeles"])
def server_time_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """The server process's local time zone (timestamps are stored as UTC whatever it is)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield str(request.param)
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_last_seen_is_updated_at_most_every_fifteen_minutes(
    admin: TestClient, client: TestClient, store: Store, server_time_zone: str
) -> None:
    user_id = create_user(admin, "jane")
    with store.db.write() as conn:
        conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(last_seen_at=SYSTEM.now() - timedelta(minutes=14))
        )
    client.get("/api/user", auth=JANE)
    assert search_age(admin, "jane") == "14 minutes"
    with store.db.write() as conn:
        conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(last_seen_at=SYSTEM.now() - timedelta(minutes=16))
        )
    client.get("/api/user", auth=JANE)
    assert search_age(admin, "jane") == "< 1 minute"


def test_a_failed_login_is_answered_like_an_unknown_user(
    admin: TestClient, client: TestClient
) -> None:
    create_user(admin, "jane")
    wrong = client.post("/login", json={"user": "jane", "password": "nope"})
    unknown = client.post("/login", json={"user": "ghost", "password": "nope"})
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json())
    assert wrong.json() == BAD_CREDENTIALS


def test_basic_credentials_are_bytes_one_spelling_opens_an_account_not_two(
    admin: TestClient, client: TestClient
) -> None:
    """Grafana compares the credentials' bytes: the UTF-8 bytes of "pässwörd" open the
    account; the Latin-1 bytes of the same letters are another password."""
    create_user(admin, "jane", password="pässwörd")

    def basic(raw: bytes) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    utf8 = client.get("/api/user", headers=basic("jane:pässwörd".encode()))
    latin1 = client.get("/api/user", headers=basic("jane:pässwörd".encode("latin-1")))
    assert (utf8.status_code, latin1.status_code) == (200, 401)
