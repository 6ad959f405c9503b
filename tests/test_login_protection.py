"""Login protection with Grafana's [security] settings: per login name (on by default) and
per client address (off by default), failures counted only against names that have an
account, and attempts outside the window cleaned up."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from handlers.app import create_app
from handlers.settings import Settings
from handlers.store import Store
from handlers.store.schema import login_attempts
from tests.support.api import BASE_URL, PASSWORD, create_user, errutil

BLOCKED = errutil("Login temporarily blocked", "passwordless.invalid.login-attempt", 401)


def from_address(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


@pytest.fixture
def guarded(store: Store) -> Iterator[TestClient]:
    """A server with per-address protection switched on."""
    settings = Settings(
        database_url="sqlite://",
        validate_responses=True,
        disable_ip_address_login_protection=False,
    )
    with TestClient(create_app(settings, store=store), base_url=BASE_URL) as client:
        yield client


def test_grafanas_setting_names_and_defaults() -> None:
    default = Settings.from_env({})
    assert (default.disable_ip_address_login_protection, default.brute_force_max_attempts) == (
        True,
        5,
    )
    assert default.disable_username_login_protection is False
    chosen = Settings.from_env(
        {
            "GF_SECURITY_DISABLE_IP_ADDRESS_LOGIN_PROTECTION": "false",
            "GF_SECURITY_DISABLE_USERNAME_LOGIN_PROTECTION": "true",
            "GF_SECURITY_BRUTE_FORCE_LOGIN_PROTECTION_MAX_ATTEMPTS": "0",
        }
    )
    assert chosen.disable_ip_address_login_protection is False
    assert chosen.disable_username_login_protection is True
    assert chosen.brute_force_max_attempts == 1  # Grafana always allows one attempt


def test_per_address_protection_is_off_by_default(admin: TestClient, client: TestClient) -> None:
    create_user(admin, "jane")
    for n in range(8):
        client.get("/api/user", auth=(f"nobody{n}", "wrong"), headers=from_address("10.0.0.9"))
    answer = client.get("/api/user", auth=("jane", PASSWORD), headers=from_address("10.0.0.9"))
    assert answer.status_code == 200


def test_failures_from_one_address_block_logins_from_it(
    admin: TestClient, guarded: TestClient, store: Store
) -> None:
    create_user(admin, "jane")
    create_user(admin, "kim")
    spray = "10.0.0.9"
    for name in ("nobody1", "nobody2", "nobody3", "kim"):
        guarded.get("/api/user", auth=(name, "wrong"), headers=from_address(spray))
    assert (
        guarded.get("/api/user", auth=("jane", PASSWORD), headers=from_address(spray)).json()[
            "login"
        ]
        == "jane"
    )
    guarded.get("/api/user", auth=("nobody4", "wrong"), headers=from_address(spray))
    blocked = guarded.get("/api/user", auth=("jane", PASSWORD), headers=from_address(spray))
    assert (blocked.status_code, blocked.json()) == (401, BLOCKED)
    form = guarded.post(
        "/login", json={"user": "jane", "password": PASSWORD}, headers=from_address(spray)
    )
    assert (form.status_code, form.json()) == (401, BLOCKED)
    # Another address, and the names themselves, are not blocked.
    other = guarded.get("/api/user", auth=("jane", PASSWORD), headers=from_address("10.0.0.8"))
    assert other.status_code == 200
    # Names without an account are not stored, nor counted against a name.
    assert store.failed_logins_since("nobody1", 0) == 0
    assert store.failed_logins_since("kim", 0) == 1


def test_the_name_protection_can_be_switched_off_alone(admin: TestClient, store: Store) -> None:
    create_user(admin, "jane")
    settings = Settings(
        database_url="sqlite://", validate_responses=True, disable_username_login_protection=True
    )
    with TestClient(create_app(settings, store=store), base_url=BASE_URL) as client:
        for _ in range(6):
            assert client.get("/api/user", auth=("jane", "wrong")).status_code == 401
        assert client.get("/api/user", auth=("jane", PASSWORD)).status_code == 200
    assert store.failed_logins_since("jane", 0) == 0  # neither kind on: nothing recorded


def test_a_failure_cleans_up_every_names_attempts_outside_the_window(
    admin: TestClient, client: TestClient, store: Store
) -> None:
    create_user(admin, "jane")
    long_ago = int(time.time()) - 3600
    for n in range(30):
        store.record_failed_login(f"old{n}", "10.1.1.1", long_ago)
    assert client.get("/api/user", auth=("jane", "wrong")).status_code == 401
    with store.db.read() as conn:
        left = conn.execute(select(func.count()).select_from(login_attempts)).scalar_one()
    assert left == 1
