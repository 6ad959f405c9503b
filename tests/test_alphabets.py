"""Logins, e-mails, names and search in any alphabet, folded as Grafana (Go) folds them."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from handlers.store.text import go_lower
from tests.support.api import PASSWORD, create_user


@pytest.mark.parametrize(
    ("text", "lowered"),
    [
        ("ADMIN", "admin"),
        ("Élodie Ünal", "élodie ünal"),
        ("İpek", "ipek"),  # Go's simple mapping; Python's str.lower gives "i̇pek"
        ("ΟΔΥΣΣΕΥΣ", "οδυσσευσ"),  # no final sigma in Go
        ("ǅ", "ǆ"),
    ],
)
def test_lower_casing_is_gos(text: str, lowered: str) -> None:
    assert go_lower(text) == lowered


@pytest.mark.parametrize("query", ["Élodie", "élodie", "ÉLODIE", "Ünal", "odie ün"])
def test_search_finds_non_ascii_names_in_any_case(admin: TestClient, query: str) -> None:
    user_id = create_user(admin, "elodie", name="Élodie Ünal")
    found = admin.get("/api/users/search", params={"query": query}).json()["users"]
    assert [u["id"] for u in found] == [user_id]


def test_a_login_is_stored_lower_cased_as_go_does_and_found_in_any_case(
    admin: TestClient, client: TestClient
) -> None:
    user_id = create_user(admin, "İpek", email="İPEK@Example.com")
    assert admin.get(f"/api/users/{user_id}").json()["login"] == "ipek"
    for value in ("İPEK", "ipek", "İpek@example.com"):
        found = admin.get("/api/users/lookup", params={"loginOrEmail": value})
        assert (found.status_code, found.json().get("id")) == (200, user_id), value
    assert client.get("/api/user", auth=("İPEK", PASSWORD)).status_code == 200
