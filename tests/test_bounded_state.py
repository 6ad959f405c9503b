"""What an anonymous client sends cannot grow the server's state without bound."""

from __future__ import annotations

import secrets
import socket
import time
from pathlib import Path

from starlette.testclient import TestClient

from handlers.store import Store
from tests.support.api import PASSWORD, create_user
from tests.support.live import fresh_database_url, running_server


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


def _stalled_upload(port: int, framing: bytes) -> tuple[bytes, float]:
    """Start a POST whose body never finishes; the answer's status line and its delay."""
    head = (
        b"POST /api/admin/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + framing
        + b"\r\n"
    )
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + (b'5\r\n{"a":\r\n' if b"chunked" in framing else b'{"a":'))
        answer = sock.recv(65536)
    return answer.split(b"\r\n", 1)[0], time.monotonic() - started


def test_an_upload_that_stalls_is_answered_408_when_the_read_timeout_ends(
    tmp_path: Path,
) -> None:
    url = fresh_database_url("sqlite", tmp_path)
    env = {"GF_SERVER_READ_TIMEOUT": "1s"}
    with running_server(url, tmp_path / "server.log", env) as server:
        for framing in (b"Transfer-Encoding: chunked\r\n", b"Content-Length: 1000\r\n"):
            status, waited = _stalled_upload(server.port, framing)
            assert status == b"HTTP/1.1 408 Request Timeout", (framing, status)
            assert 0.9 < waited < 5, f"answered after {waited:.1f}s"


def test_a_failed_password_clears_that_names_attempts_that_no_longer_count(
    admin: TestClient, client: TestClient, store: Store
) -> None:
    create_user(admin, "jane")
    long_ago = int(time.time()) - 3600
    for _ in range(20):
        store.record_failed_login("jane", "127.0.0.1", long_ago)
    assert client.get("/api/user", auth=("jane", "wrong")).status_code == 401
    assert store.failed_logins_since("jane", 0) == 1
    assert client.get("/api/user", auth=("jane", PASSWORD)).status_code == 200
