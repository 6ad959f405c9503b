"""One error vocabulary: every failure leaves the server as JSON {"message": ...}."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.testclient import TestClient

from handlers import views
from handlers.store import Store
from tests.support.api import (
    ADMIN,
    BAD_CREDENTIALS,
    BAD_REQUEST_DATA,
    UNAUTHORIZED,
    create_user,
    errutil,
    message,
)

NOT_FOUND = message("Not found")
INTERNAL = message("Internal Server Error")
MIB = 1 << 20

# One request per kind of failure, with its status: all must answer JSON with a message.
FAILURES: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/api/users/search?sort=bogus-asc", {}, 400),
    ("GET", "/api/users/-1", {}, 404),
    ("PUT", "/api/user", {"content": b"{", "headers": {"Content-Type": "application/json"}}, 400),
    ("PUT", "/api/user", {"json": {}}, 400),
    ("GET", "/api/user", {"auth": ("admin", "wrong")}, 401),
    ("GET", "/api/user", {"auth": None}, 401),
    ("GET", "/api/users", {"auth": ("jane", "secret-pw")}, 403),
    ("GET", "/api/users/999", {}, 404),
    ("GET", "/api/nothing-here", {}, 404),
    ("DELETE", "/api/user", {}, 404),
    ("PUT", "/api/users/1", {"json": {"login": "jane"}}, 500),  # update-conflict-500
    ("POST", "/api/admin/users", {"json": {"login": "jane", "password": "secret"}}, 412),
    (
        "PUT",
        "/api/user",
        {"content": b" " * (MIB + 1), "headers": {"Content-Type": "application/json"}},
        413,
    ),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), FAILURES)
def test_every_error_is_json_with_a_message(
    admin: TestClient, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    create_user(admin, "jane")
    response = admin.request(method, path, **{"auth": ADMIN, **kwargs})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["message"], str)


# -- routing ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/nope", "/api/users/1/nope", "/api/user/stars/x/y"])
def test_an_unknown_path_is_not_found(admin: TestClient, path: str) -> None:
    response = admin.get(path)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/user"),
        ("PATCH", "/api/users/1"),
        ("POST", "/api/users"),
        ("POST", "/api/users/lookup"),
        ("GET", "/api/user/revoke-auth-token"),
        ("OPTIONS", "/api/user"),
    ],
)
def test_a_wrong_method_is_not_found_because_grafana_has_no_405(
    admin: TestClient, method: str, path: str
) -> None:
    response = admin.request(method, path)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("PUT", "/login"), ("GET", "/a/b")])
def test_outside_api_an_unknown_path_or_method_is_grafanas_404_web_page(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page not found" in response.text


def test_the_login_page_is_html_and_posts_to_the_login_route(client: TestClient) -> None:
    page, head = client.get("/login"), client.head("/login")
    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert 'fetch("/login"' in page.text and 'name="password"' in page.text
    assert (head.status_code, head.content) == (200, b"")


def test_unknown_paths_are_not_found_even_without_credentials(client: TestClient) -> None:
    response = client.get("/api/nope")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_head_answers_like_get_without_a_body(admin: TestClient) -> None:
    get, head = admin.get("/api/users"), admin.head("/api/users")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == get.headers["content-length"]


def test_unknown_query_parameters_are_ignored(admin: TestClient) -> None:
    response = admin.get("/api/users/search", params={"foo": "bar"})
    assert (response.status_code, response.json()["totalCount"]) == (200, 1)


# -- request bodies --------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/merge-patch+json"],
)
def test_a_body_that_is_not_sent_as_application_json_is_bad_request_data(
    admin: TestClient, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = admin.put("/api/user", content=b'{"login": "admin"}', headers=headers)
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


def test_a_json_content_type_with_a_charset_is_fine(admin: TestClient) -> None:
    response = admin.put(
        "/api/user",
        content=b'{"login": "admin"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert (response.status_code, response.json()) == (200, message("User updated"))


@pytest.mark.parametrize(
    "content", [b"{", b"not json", b"{'login': 'admin'}", b"null", b"[]", b'"admin"', b""]
)
def test_invalid_json_is_bad_request_data(admin: TestClient, content: bytes) -> None:
    response = admin.put("/api/user", content=content, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


def test_json_keys_match_field_names_ignoring_case_like_go(admin: TestClient) -> None:
    create_user(admin, "jane")
    response = admin.put("/api/users/2", json={"LOGIN": "jdoe", "Name": "J"})
    body = admin.get("/api/users/2").json()
    assert (response.status_code, body["login"], body["name"]) == (200, "jdoe", "J")


def test_a_body_over_one_mebibyte_is_too_large(admin: TestClient) -> None:
    response = admin.put(
        "/api/user", content=b" " * (MIB + 1), headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()) == (413, message("request body too large"))


def test_a_body_of_exactly_one_mebibyte_is_accepted(admin: TestClient) -> None:
    body = b'{"login": "admin"}'
    response = admin.put(
        "/api/user",
        content=body + b" " * (MIB - len(body)),
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()) == (200, message("User updated"))


def test_the_size_limit_applies_before_authentication(client: TestClient) -> None:
    response = client.put(
        "/api/user", content=b" " * (MIB + 1), headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()) == (413, message("request body too large"))


# -- security before validation --------------------------------------------------------


def test_credentials_are_checked_before_the_body(client: TestClient) -> None:
    response = client.put("/api/user", content=b"{", headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_a_wrong_password_is_reported_before_a_bad_parameter(client: TestClient) -> None:
    response = client.get("/api/users/search", params={"sort": "bogus"}, auth=("admin", "x"))
    assert (response.status_code, response.json()) == (401, BAD_CREDENTIALS)


# -- parameters ------------------------------------------------------------------------


BEYOND_INT64 = "9223372036854775808"


@pytest.mark.parametrize(
    ("method", "path", "text"),
    [
        ("POST", f"/api/users/1/using/{BEYOND_INT64}", "orgId is invalid"),
        ("DELETE", f"/api/orgs/{BEYOND_INT64}", "orgId is invalid"),
        ("DELETE", "/api/orgs/1_0", "orgId is invalid"),
        ("DELETE", f"/api/teams/{BEYOND_INT64}", "teamId is invalid"),
        ("GET", "/api/teams/seven", "teamId is invalid"),
        ("POST", f"/api/serviceaccounts/{BEYOND_INT64}/tokens", "Service Account ID is invalid"),
    ],
)
def test_an_out_of_range_path_id_is_invalid_in_grafanas_words(
    admin: TestClient, method: str, path: str, text: str
) -> None:
    """Grafana's handlers parse path ids with strconv.ParseInt: text, Python-only forms
    (1_0) and values beyond int64 are the handler's 400, never a routing 404."""
    response = admin.request(method, path, json={"name": "t"} if method == "POST" else None)
    assert (response.status_code, response.json()) == (400, message(text))


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/api/users/1/using/-1", (401, "Not a valid organization")),
        ("DELETE", "/api/orgs/-1", (404, "Failed to delete organization. ID not found")),
        ("DELETE", "/api/teams/-1", (404, "Team not found")),
        ("POST", "/api/serviceaccounts/-1/tokens", (404, "service account not found")),
    ],
)
def test_a_negative_path_id_parses_and_names_nothing(
    admin: TestClient, method: str, path: str, expected: tuple[int, str]
) -> None:
    response = admin.request(method, path, json={"name": "t"} if method == "POST" else None)
    assert (response.status_code, response.json()) == (expected[0], message(expected[1]))


@pytest.mark.grafana("12.0")  # the last release serving stars by id
def test_a_dashboard_id_that_is_no_integer_or_not_positive_is_refused(admin: TestClient) -> None:
    invalid = admin.delete("/api/user/stars/dashboard/x")
    assert (invalid.status_code, invalid.json()) == (400, message("Invalid dashboard ID"))
    negative = admin.delete("/api/user/stars/dashboard/-1")
    assert (negative.status_code, negative.json()) == (400, message("Missing dashboard id"))


def test_an_unknown_sort_is_grafanas_errutil_bad_request(admin: TestClient) -> None:
    response = admin.get("/api/users", params={"sort": "login-asc,shoe-size-desc"})
    assert (response.status_code, response.json()) == (
        400,
        errutil("Bad request", "unknown sorting option", 400),
    )


def test_parameter_errors_do_not_quote_the_schema(admin: TestClient) -> None:
    for path in ("/api/users/lookup", "/api/users/lookup?other=1"):
        response = admin.get(path)
        assert (response.status_code, response.json()) == (400, BAD_REQUEST_DATA)


# -- server errors ---------------------------------------------------------------------


def test_an_unexpected_failure_is_a_bare_internal_server_error(
    admin: TestClient,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(*_args: Any) -> Any:
        raise RuntimeError("secret detail: password=hunter2")

    monkeypatch.setattr(store, "user_orgs", explode)
    with caplog.at_level(logging.ERROR, logger="handlers"):
        response = admin.get("/api/user/orgs")
    assert (response.status_code, response.json()) == (500, INTERNAL)
    assert response.headers["content-type"] == "application/json"
    assert "hunter2" not in response.text
    assert "secret detail" in caplog.text


def test_a_response_that_breaks_the_contract_is_an_internal_server_error(
    admin: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "user_org", lambda m: {"orgId": "one", "name": m.name})
    response = admin.get("/api/user/orgs")
    assert (response.status_code, response.json()) == (500, INTERNAL)


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        # Python's int() reads 10 and a full-width one; Go's ParseInt refuses both.
        ("POST", "/api/users/1/using/1_0", "orgId is invalid"),
        ("DELETE", "/api/teams/\uff11", "teamId is invalid"),
        ("DELETE", "/api/orgs/1_0", "orgId is invalid"),
    ],
)
def test_integers_are_read_as_go_reads_them(
    admin: TestClient, method: str, path: str, message: str
) -> None:
    response = admin.request(method, path)
    assert (response.status_code, response.json()["message"]) == (400, message)


@pytest.mark.grafana("11.2")  # later releases look such ids up as user uids (404)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/users/9223372036854775808/orgs"),
        ("DELETE", "/api/admin/users/9223372036854775808"),
        ("GET", "/api/users/1_0"),  # Python's int() reads 10; Go's ParseInt refuses
        ("GET", "/api/users/\uff11"),  # a full-width digit one
        ("GET", "/api/users/1_0/orgs"),
    ],
)
def test_before_11_4_a_user_id_go_cannot_parse_is_invalid(
    admin: TestClient, method: str, path: str
) -> None:
    response = admin.request(method, path)
    assert (response.status_code, response.json()) == (400, message("id is invalid"))


@pytest.mark.parametrize("query", ["perpage=1_0", "page=\uff12", "perpage=x&perpage=5"])
def test_paging_values_go_cannot_parse_are_ignored_as_grafana_does(
    admin: TestClient, query: str
) -> None:
    response = admin.get(f"/api/users/search?{query}")
    assert (response.status_code, response.json()["perPage"]) == (200, 1000)


def test_a_signed_integer_is_still_an_integer(admin: TestClient) -> None:
    assert admin.get("/api/users/+1").json()["login"] == "admin"
    assert admin.get("/api/users/search?perpage=%2B5").json()["perPage"] == 5
