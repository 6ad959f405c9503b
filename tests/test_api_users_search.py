"""Operations tagged `users`: who may call them, and listing, searching and looking up users."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from handlers.clock import SYSTEM
from handlers.store import Store
from tests.support.api import (
    AVATAR,
    BAD_REQUEST_DATA,
    PASSWORD,
    TIMESTAMP,
    UID,
    UNAUTHORIZED,
    assert_access_denied,
    assert_profile_times,
    bearer,
    create_service_account_token,
    create_user,
    errutil,
    jane_profile,
    message,
    set_columns,
)

BAD_SORT = errutil("Bad request", "unknown sorting option", 400)
# The routes of the tag, with the permission RBAC names when a non-admin is refused.
ROUTES = [
    ("GET", "/api/users", "users:read"),
    ("GET", "/api/users/search", "users:read"),
    ("GET", "/api/users/lookup?loginOrEmail=admin", "users:read"),
    ("GET", "/api/users/1", "users:read"),
    ("PUT", "/api/users/1", "users:write"),
    ("GET", "/api/users/1/orgs", "users:read"),
    ("GET", "/api/users/1/teams", "users:read"),
    ("POST", "/api/users/1/using/1", "users:write"),
]


def logins(response: Any) -> list[str]:
    body = response.json()
    hits = body["users"] if isinstance(body, dict) else body
    return [hit["login"] for hit in hits]


def make_users(admin: TestClient, *names: str) -> dict[str, int]:
    return {name: create_user(admin, name) for name in names}


# -- access ----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "action"), ROUTES)
def test_a_user_who_is_not_a_grafana_admin_is_refused_with_the_rbac_body(
    admin: TestClient, method: str, path: str, action: str
) -> None:
    create_user(admin, "viewer")
    response = admin.request(
        method, path, auth=("viewer", PASSWORD), json={"name": "x"} if method == "PUT" else None
    )
    assert_access_denied(response, action)


@pytest.mark.parametrize(("method", "path", "action"), ROUTES)
def test_a_service_account_token_is_refused_with_the_rbac_body(
    admin: TestClient, client: TestClient, method: str, path: str, action: str
) -> None:
    _, token = create_service_account_token(admin, role="Admin")
    response = client.request(
        method, path, headers=bearer(token), json={"name": "x"} if method == "PUT" else None
    )
    assert_access_denied(response, action)


@pytest.mark.parametrize(("method", "path", "action"), ROUTES)
def test_an_anonymous_request_is_unauthorized(
    client: TestClient, method: str, path: str, action: str
) -> None:
    response = client.request(method, path)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_a_session_cookie_is_enough_for_a_grafana_admin(
    admin: TestClient, client: TestClient
) -> None:
    client.post("/login", json={"user": "admin", "password": "admin"})
    response = client.get("/api/users")
    assert (response.status_code, logins(response)) == (200, ["admin"])


# -- GET /api/users --------------------------------------------------------------------


def test_listing_users_returns_a_bare_array_of_search_hits(admin: TestClient) -> None:
    user_id = create_user(admin, "jane", email="Jane@Example.com", name="Jane Doe")
    response = admin.get("/api/users")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    admin_hit, jane = response.json()
    assert admin_hit["login"] == "admin"
    assert UID.match(jane.pop("uid"))
    assert TIMESTAMP.match(jane.pop("lastSeenAt"))
    assert jane == {
        "id": user_id,
        "name": "Jane Doe",
        "login": "jane",
        "email": "jane@example.com",
        "avatarUrl": "/avatar/9e26471d35a78862c17e467d87cddedf",
        "isAdmin": False,
        "isDisabled": False,
        "lastSeenAtAge": "10 years",
        "authLabels": [],
    }


def test_listing_users_pages_with_perpage_and_page(admin: TestClient) -> None:
    make_users(admin, "bob", "carol", "dave")
    first = admin.get("/api/users", params={"perpage": 2, "page": 1})
    second = admin.get("/api/users", params={"perpage": 2, "page": 2})
    beyond = admin.get("/api/users", params={"perpage": 2, "page": 3})
    assert (first.status_code, logins(first)) == (200, ["admin", "bob"])
    assert (second.status_code, logins(second)) == (200, ["carol", "dave"])
    assert (beyond.status_code, beyond.json()) == (200, [])


def test_listing_users_filters_and_sorts_like_search(admin: TestClient) -> None:
    make_users(admin, "bob", "bobby", "carol")
    response = admin.get("/api/users", params={"query": "BOB", "sort": "login-desc"})
    assert (response.status_code, logins(response)) == (200, ["bobby", "bob"])


def test_listing_users_rejects_an_unknown_sort_option(admin: TestClient) -> None:
    response = admin.get("/api/users", params={"sort": "age-asc"})
    assert (response.status_code, response.json()) == (400, BAD_SORT)


# -- GET /api/users/search -------------------------------------------------------------


def test_search_returns_a_page_object_with_the_effective_paging(admin: TestClient) -> None:
    make_users(admin, "bob", "carol")
    response = admin.get("/api/users/search", params={"perpage": 2, "page": 2})
    body = response.json()
    assert response.status_code == 200
    assert (body["totalCount"], body["page"], body["perPage"]) == (3, 2, 2)
    assert [hit["login"] for hit in body["users"]] == ["carol"]


def test_search_without_parameters_uses_page_one_of_a_thousand(admin: TestClient) -> None:
    response = admin.get("/api/users/search")
    body = response.json()
    assert response.status_code == 200
    assert (body["totalCount"], body["page"], body["perPage"], len(body["users"])) == (
        1,
        1,
        1000,
        1,
    )


@pytest.mark.parametrize(("perpage", "page"), [(0, 0), (-5, -3)])
def test_search_replaces_a_perpage_below_one_by_1000_and_a_page_below_one_by_1(
    admin: TestClient, perpage: int, page: int
) -> None:
    make_users(admin, "bob")
    response = admin.get("/api/users/search", params={"perpage": perpage, "page": page})
    body = response.json()
    assert response.status_code == 200
    assert (body["totalCount"], body["page"], body["perPage"]) == (2, 1, 1000)
    assert [hit["login"] for hit in body["users"]] == ["admin", "bob"]


def test_search_has_no_maximum_page_size(admin: TestClient) -> None:
    response = admin.get("/api/users/search", params={"perpage": 5000})
    assert (response.status_code, response.json()["perPage"]) == (200, 5000)


def test_search_past_the_last_page_returns_no_users_and_the_true_total(
    admin: TestClient,
) -> None:
    make_users(admin, "bob")
    response = admin.get("/api/users/search", params={"perpage": 10, "page": 9})
    assert (response.status_code, response.json()) == (
        200,
        {"totalCount": 2, "users": [], "page": 9, "perPage": 10},
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("MARK", ["mark"]),  # login, ignoring case
        ("inbox.test", ["other"]),  # e-mail
        ("smith", ["carl", "mark"]),  # name, ignoring case
        ("nobody", []),
    ],
)
def test_search_matches_a_substring_of_login_email_or_name(
    admin: TestClient, query: str, expected: list[str]
) -> None:
    create_user(admin, "mark", name="Mark Smith")
    create_user(admin, "carl", name="Carl SMITHSON")
    create_user(admin, "other", email="someone@inbox.test")
    response = admin.get("/api/users/search", params={"query": query})
    body = response.json()
    assert response.status_code == 200
    assert ([hit["login"] for hit in body["users"]], body["totalCount"]) == (
        expected,
        len(expected),
    )


def test_search_treats_percent_and_underscore_as_wildcards_like_grafana(
    admin: TestClient,
) -> None:
    make_users(admin, "abc", "xyz")
    underscore = admin.get("/api/users/search", params={"query": "a_c"})
    percent = admin.get("/api/users/search", params={"query": "%"})
    assert (underscore.status_code, logins(underscore)) == (200, ["abc"])
    assert (percent.status_code, logins(percent)) == (200, ["abc", "admin", "xyz"])


def test_search_orders_by_login_by_default(admin: TestClient) -> None:
    make_users(admin, "zed", "bob", "mia")
    response = admin.get("/api/users/search")
    assert (response.status_code, logins(response)) == (200, ["admin", "bob", "mia", "zed"])


def test_search_includes_disabled_users_and_excludes_service_accounts(
    admin: TestClient,
) -> None:
    user_id = create_user(admin, "sleeper")
    admin.post(f"/api/admin/users/{user_id}/disable")
    create_service_account_token(admin, name="robot")
    response = admin.get("/api/users/search")
    hits = {hit["login"]: hit["isDisabled"] for hit in response.json()["users"]}
    assert (response.status_code, hits) == (200, {"admin": False, "sleeper": True})


def test_search_marks_grafana_admins_with_is_admin(admin: TestClient) -> None:
    make_users(admin, "boss", "worker")
    boss = admin.get("/api/users/lookup", params={"loginOrEmail": "boss"}).json()["id"]
    admin.put(f"/api/admin/users/{boss}/permissions", json={"isGrafanaAdmin": True})
    response = admin.get("/api/users/search")
    flags = {hit["login"]: hit["isAdmin"] for hit in response.json()["users"]}
    assert (response.status_code, flags) == (200, {"admin": True, "boss": True, "worker": False})


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("login-asc", ["admin", "ann", "bob", "cy"]),
        ("login-desc", ["cy", "bob", "ann", "admin"]),
        ("email-asc", ["admin", "cy", "bob", "ann"]),
        ("email-desc", ["ann", "bob", "cy", "admin"]),
        ("name-asc", ["admin", "bob", "cy", "ann"]),
        ("name-desc", ["ann", "cy", "bob", "admin"]),
        ("lastSeenAtAge-asc", ["cy", "bob", "ann", "admin"]),
        ("lastSeenAtAge-desc", ["admin", "ann", "bob", "cy"]),
    ],
)
def test_search_sorts_by_each_of_the_eight_options(
    admin: TestClient, store: Store, sort: str, expected: list[str]
) -> None:
    now = SYSTEM.now()
    ids = {
        "ann": create_user(admin, "ann", email="z@example.com", name="zoe"),
        "bob": create_user(admin, "bob", email="y@example.com", name="bea"),
        "cy": create_user(admin, "cy", email="x@example.com", name="cat"),
    }
    for offset, login in enumerate(["ann", "bob", "cy"], start=1):
        set_columns(store, ids[login], last_seen_at=now - timedelta(days=offset))
    set_columns(store, 1, last_seen_at=now)
    response = admin.get("/api/users/search", params={"sort": sort})
    assert (response.status_code, logins(response)) == (200, expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", ["admin", "recent"]),
        ("T", ["admin", "recent"]),
        ("1", ["admin", "recent"]),
        ("false", ["admin", "old", "recent"]),
        ("yes", ["admin", "old", "recent"]),  # not a Go bool: ignored
    ],
)
@pytest.mark.parametrize("path", ["/api/users/search", "/api/users"])
def test_active_last_30_days_keeps_users_seen_in_the_last_30_days(
    admin: TestClient, store: Store, path: str, value: str, expected: list[str]
) -> None:
    now = SYSTEM.now()
    recent, old = create_user(admin, "recent"), create_user(admin, "old")
    set_columns(store, recent, last_seen_at=now - timedelta(days=29))
    set_columns(store, old, last_seen_at=now - timedelta(days=31))
    response = admin.get(path, params={"activeLast30Days": value})
    assert response.status_code == 200
    assert logins(response) == expected


def test_search_applies_sort_options_in_grafanas_fixed_priority(admin: TestClient) -> None:
    create_user(admin, "bob", name="same")
    create_user(admin, "amy", name="same")
    # name-desc is given first, but login outranks name.
    response = admin.get("/api/users/search", params={"sort": "name-desc,login-desc"})
    assert (response.status_code, logins(response)) == (200, ["bob", "amy", "admin"])


@pytest.mark.parametrize("sort", ["age-asc", "login", "login-up", "login-asc,", ",login-asc"])
def test_search_rejects_an_unknown_sort_option(admin: TestClient, sort: str) -> None:
    response = admin.get("/api/users/search", params={"sort": sort})
    assert (response.status_code, response.json()) == (400, BAD_SORT)


def test_search_ignores_a_page_that_is_not_an_integer_as_grafana_does(admin: TestClient) -> None:
    response = admin.get("/api/users/search", params={"page": "two", "perpage": "many"})
    assert response.status_code == 200
    assert (response.json()["page"], response.json()["perPage"]) == (1, 1000)


def test_a_users_search_hit_shows_avatar_and_age_words(admin: TestClient) -> None:
    create_user(admin, "jane", email="jane@example.com")
    hit = admin.get("/api/users/search", params={"query": "jane"}).json()["users"][0]
    assert AVATAR.match(hit["avatarUrl"])
    assert hit["lastSeenAtAge"] == "10 years"


# -- GET /api/users/lookup -------------------------------------------------------------


def test_lookup_by_login_returns_the_thin_profile(admin: TestClient) -> None:
    user_id = create_user(admin, "jane", name="Jane")
    uid = admin.get(f"/api/users/{user_id}").json()["uid"]
    response = admin.get("/api/users/lookup", params={"loginOrEmail": "jane"})
    assert response.status_code == 200
    # The thin profile: jane's, without auth labels and avatar.
    assert assert_profile_times(response.json()) == {
        **jane_profile(user_id),
        "name": "Jane",
        "uid": uid,
        "authLabels": None,
        "avatarUrl": "",
    }


@pytest.mark.grafana("12.3")
def test_lookup_before_13_0_has_an_empty_uid(admin: TestClient) -> None:
    create_user(admin, "jane", name="Jane")
    response = admin.get("/api/users/lookup", params={"loginOrEmail": "jane"})
    assert (response.status_code, response.json()["uid"]) == (200, "")


@pytest.mark.parametrize("value", ["JANE", "Jane@Example.COM"])
def test_lookup_ignores_case_of_login_and_email(admin: TestClient, value: str) -> None:
    user_id = create_user(admin, "jane")
    response = admin.get("/api/users/lookup", params={"loginOrEmail": value})
    assert (response.status_code, response.json()["id"]) == (200, user_id)


def test_lookup_prefers_the_email_when_the_value_has_an_at_sign(
    admin: TestClient, store: Store
) -> None:
    create_user(admin, "x@example.org", email="first@example.org")
    by_email = create_user(admin, "second")
    set_columns(store, by_email, email="x@example.org")  # the API refuses such a pair
    response = admin.get("/api/users/lookup", params={"loginOrEmail": "x@example.org"})
    assert (response.status_code, response.json()["id"]) == (200, by_email)


def test_lookup_prefers_the_login_when_the_value_has_no_at_sign(
    admin: TestClient, store: Store
) -> None:
    by_login = create_user(admin, "plain", email="second@example.org")
    by_email = create_user(admin, "first")
    set_columns(store, by_email, email="plain")  # the API refuses such a pair
    response = admin.get("/api/users/lookup", params={"loginOrEmail": "plain"})
    assert (response.status_code, response.json()["id"]) == (200, by_login)


@pytest.mark.parametrize("value", ["", "nobody", "jan", "sa-1-robot"])
def test_lookup_of_no_exact_user_is_not_found(admin: TestClient, value: str) -> None:
    create_user(admin, "jane")
    create_service_account_token(admin, name="robot")
    response = admin.get("/api/users/lookup", params={"loginOrEmail": value})
    assert (response.status_code, response.json()) == (404, message("user not found"))


def test_a_repeated_query_parameter_counts_with_its_first_value_as_in_grafana(
    admin: TestClient,
) -> None:
    """Go's url.Values.Get, which Grafana's handlers read through, takes the first value."""
    create_user(admin, "jane")
    body = admin.get("/api/users/search?perpage=1&page=1&perpage=2&query=jane&query=zz").json()
    assert (body["perPage"], body["totalCount"]) == (1, 1)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        # Longer than any login, e-mail or name: nothing can match. (SQLite refuses LIKE
        # patterns over 50,000 bytes; a URL of 64 KiB is what the test client sends.)
        ("j" * 50_001, []),
        ("_" * 50_001, []),  # each _ takes one character: more than any field has
        ("%" * 20_000, ["admin", "jane"]),  # Grafana leaves % unescaped: matches everyone
        ("%" * 10_000 + "jane" + "%" * 10_000, ["jane"]),
    ],
    ids=["long", "long-underscores", "long-wildcards", "wildcards-around"],
)
def test_a_search_query_beyond_the_databases_pattern_limit_is_answered_not_a_500(
    admin: TestClient, query: str, found: list[str]
) -> None:
    create_user(admin, "jane")
    response = admin.get("/api/users/search", params={"query": query})
    assert response.status_code == 200, response.text[:200]
    assert [u["login"] for u in response.json()["users"]] == found
    assert response.json()["totalCount"] == len(found)


def test_a_sort_of_thousands_of_repeated_terms_orders_as_its_first_of_each_key(
    admin: TestClient,
) -> None:
    create_user(admin, "jane", email="a-jane@example.com")
    many = ",".join(["email-asc", "login-desc"] * 1_500)
    by_many = admin.get("/api/users/search", params={"sort": many})
    by_two = admin.get("/api/users/search", params={"sort": "login-desc,email-asc"})
    assert by_many.status_code == 200, by_many.text[:200]
    assert by_many.json()["users"] == by_two.json()["users"]


def test_a_pattern_sqlite_cannot_evaluate_against_a_value_it_might_match_is_a_400(
    admin: TestClient, store: Store
) -> None:
    """Only where a stored value is as long as the pattern's shortest match does the store
    have to refuse: a 400, never a 500. (Only SQLite stores a name that long.)"""
    if store.db.dialect != "sqlite":
        pytest.skip("PostgreSQL refuses names over 255 characters, and has no LIKE limit")
    long_name = create_user(admin, "longname")
    set_columns(store, long_name, name="n" * 50_001)
    response = admin.get("/api/users/search", params={"query": "_" * 50_001})
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)
