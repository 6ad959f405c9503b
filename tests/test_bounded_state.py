"""What an anonymous client sends cannot grow the server's state without bound."""

from __future__ import annotations

import secrets

from starlette.testclient import TestClient

from handlers.store import Store


def _series(client: TestClient) -> set[str]:
    lines = client.get("/metrics").text.splitlines()
    return {line.rpartition(" ")[0] for line in lines if line.startswith("http_requests_total{")}


def test_random_paths_and_methods_add_no_metric_series_beyond_a_fixed_few(
    client: TestClient,
) -> None:
    """Labels come from the contract's route templates; anything else is `unmatched`."""
    for _ in range(3):  # the fixed few: (method, "unmatched", status) per kind of answer
        client.get(f"/{secrets.token_hex(8)}")
        client.request("BREW", f"/api/{secrets.token_hex(8)}")
    before = _series(client)
    for n in range(300):
        client.get(f"/{secrets.token_hex(8)}/{n}")
        client.get(f"/api/users/{n}/{secrets.token_hex(4)}")
        client.request(f"X{secrets.token_hex(3).upper()}", f"/{secrets.token_hex(6)}")
    grown = _series(client) - before
    assert grown == set(), f"{len(grown)} new series, e.g. {sorted(grown)[:3]}"
    assert any('route="unmatched"' in series for series in before)


def test_failed_logins_of_unknown_names_store_nothing(client: TestClient, store: Store) -> None:
    name = "x" * 100_000
    for _ in range(10):
        assert client.get("/api/user", auth=(name, "wrong")).status_code == 401
    assert store.failed_logins_since(name.lower(), 0) == 0
