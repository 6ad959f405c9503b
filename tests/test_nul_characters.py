"""A NUL character in a value a read looks for. PostgreSQL's text cannot hold one, so no
row has it: the read finds nothing, as it does on SQLite, where such a row could exist
but does not. (Grafana on PostgreSQL answers 500 there, its driver failing; on SQLite
like this.) A schema-valid read is never refused with 400 for it."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

NUL = "a\x00b"


def test_reads_looking_for_a_nul_character_find_nothing(admin: TestClient) -> None:
    def answer(path: str, **params: str) -> tuple[int, Any]:
        got = admin.get(path, params=params)
        return got.status_code, got.json()

    assert answer("/api/users/lookup", loginOrEmail=NUL)[0] == 404
    assert answer("/api/users/lookup", loginOrEmail=NUL + "@example.com")[0] == 404
    assert answer("/api/users/search", query=NUL) == (
        200,
        {"totalCount": 0, "users": [], "page": 1, "perPage": 1000},
    )
    assert answer("/api/users", query=NUL) == (200, [])
    assert answer("/api/orgs/name/a%00b")[0] == 404
    assert answer("/api/orgs", query=NUL) == (200, [])
    assert answer("/api/orgs", name=NUL) == (200, [])
    for params in ({"query": NUL}, {"name": NUL}):
        status, body = answer("/api/teams/search", **params)
        assert (status, body["totalCount"], body["teams"]) == (200, 0, [])


def test_credentials_with_a_nul_character_match_no_account(client: TestClient) -> None:
    for user in ("ad\x00min", "admin\x00"):
        refused = client.get("/api/user", auth=(user, "admin"))
        assert (refused.status_code, refused.json()["message"]) == (
            401,
            "Invalid username or password",
        )
        login = client.post("/login", json={"user": user, "password": "admin"})
        assert login.status_code == 401
