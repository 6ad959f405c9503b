"""Secrets stay secret: passwords, session tokens and service-account keys never show up in
an answer or in the server's log, are stored only hashed, and cookies are HttpOnly/SameSite.

One real server (`python -m handlers`, default logging plus the access log) is driven
through a session that touches every secret: users created with passwords, form logins,
basic auth, failed logins and lock-out, password changes and resets, service-account
tokens used as bearer and as basic `api_key`, unknown tokens, revoked sessions, logout, and
malformed requests that carry a password in the wrong shape. Afterwards every answer body,
the whole log, and the database's bytes are searched for each secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from handlers.passwords import keyed_hash
from handlers.settings import Settings
from handlers.store.schema import api_keys, user_auth_tokens, users
from tests.conftest import ADMIN
from tests.support.live import ServerProcess, fresh_database_url

pytestmark = pytest.mark.slow

TIMEOUT = 15.0
# Passwords with a shape no other text in a log or answer could have by chance.
FIRST, SECOND, RESET = "Pw-first-7Qx2", "Pw-second-8Rz3", "Pw-reset-9Sw4"
WRONG = ["Pw-wrong-1Ab2", "Pw-wrong-3Cd4"]
NUMERIC = 918273645546  # a PIN-like password sent as a JSON number
UNKNOWN_TOKEN = "glsa_NotARealTokenButSecretAnyway01_deadbeef"


class Recorder:
    """Talks to the server and keeps every answer for the final search."""

    def __init__(self, server: ServerProcess) -> None:
        self.url = server.url
        self.answers: list[httpx.Response] = []

    def __call__(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        answer = httpx.request(method, self.url + path, timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]
        self.answers.append(answer)
        return answer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("secrets")
    running = ServerProcess(
        fresh_database_url("sqlite", folder),
        folder / "server.log",
        {"GF_SERVER_ROUTER_LOGGING": "true"},
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def exercised(server: ServerProcess) -> tuple[dict[str, str], Recorder]:
    """The secrets used, by name, and every answer received while using them."""
    call = Recorder(server)
    return exercise(call), call


def exercise(call: Recorder) -> dict[str, str]:
    """Use every kind of secret the server handles; returns the secrets by name."""
    secrets = {"first": FIRST, "second": SECOND, "reset": RESET, "numeric": str(NUMERIC)}
    secrets |= {f"wrong-{n}": w for n, w in enumerate(WRONG)} | {"unknown": UNKNOWN_TOKEN}
    created = call("POST", "/api/admin/users", auth=ADMIN, json={"login": "sam", "password": FIRST})
    assert created.status_code == 200
    user_id = created.json()["id"]
    login = call("POST", "/login", json={"user": "sam", "password": FIRST})
    assert login.status_code == 200
    secrets["cookie"] = cookie = login.cookies["grafana_session"]
    second_login = call("POST", "/login", json={"user": "sam@x", "password": FIRST})
    assert second_login.status_code == 401
    session = {"Cookie": f"grafana_session={cookie}"}
    assert call("GET", "/api/user", auth=("sam", FIRST)).status_code == 200
    for path in ("/api/user", "/api/user/auth-tokens", "/api/user/orgs"):
        assert call("GET", path, headers=session).status_code == 200
    for wrong in WRONG:
        assert call("GET", "/api/user", auth=("sam", wrong)).status_code == 401
        assert call("POST", "/login", json={"user": "sam", "password": wrong}).status_code == 401
    # Passwords in the wrong shape: refused, and the refusal must not quote them.
    for body in (
        {"oldPassword": NUMERIC, "newPassword": SECOND},
        {"oldPassword": FIRST, "newPassword": [SECOND]},
        {"oldPassword": {"value": FIRST}, "newPassword": SECOND},
    ):
        assert call("PUT", "/api/user/password", headers=session, json=body).status_code == 400
    for body in (
        [  # a whole login body of the wrong shape
            "sam",
            FIRST,
        ],
        {"user": "sam", "password": NUMERIC},
    ):
        assert call("POST", "/login", json=body).status_code == 400
    change = {"oldPassword": FIRST, "newPassword": SECOND}
    assert call("PUT", "/api/user/password", headers=session, json=change).status_code == 200
    wrong_old = {"oldPassword": FIRST, "newPassword": WRONG[0]}
    assert call("PUT", "/api/user/password", headers=session, json=wrong_old).status_code == 400
    reset = call(
        "PUT", f"/api/admin/users/{user_id}/password", auth=ADMIN, json={"password": RESET}
    )
    assert reset.status_code == 200
    assert call("GET", "/api/user", headers=session).status_code == 401  # reset ends sessions
    account = call(
        "POST", "/api/serviceaccounts", auth=ADMIN, json={"name": "bot", "role": "Admin"}
    )
    assert account.status_code == 201
    minted = call(
        "POST",
        f"/api/serviceaccounts/{account.json()['id']}/tokens",
        auth=ADMIN,
        json={"name": "t"},
    )
    assert minted.status_code == 200
    secrets["key"] = key = minted.json()["key"]
    call.answers.remove(minted)  # the one answer that must carry the key
    assert call("GET", "/api/user", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert call("GET", "/api/user/stars", auth=("api_key", key)).status_code == 200
    unknown = {"Authorization": f"Bearer {UNKNOWN_TOKEN}"}
    assert call("GET", "/api/user", headers=unknown).status_code == 401
    relogin = call("POST", "/login", json={"user": "sam", "password": RESET})
    assert relogin.status_code == 200
    secrets["cookie-2"] = relogin.cookies["grafana_session"]
    logout = call("GET", "/logout", headers={"Cookie": f"grafana_session={secrets['cookie-2']}"})
    assert logout.status_code == 302
    for _ in range(5):  # into the lock-out
        call("GET", "/api/user", auth=("sam", WRONG[1]))
    assert call("GET", "/api/user", auth=("sam", RESET)).status_code == 401
    listing = call("GET", "/api/users/search?query=sam", auth=ADMIN)
    assert listing.status_code == 200
    return secrets


def stored(database_url: str, *columns: Any) -> set[str]:
    """Every non-empty value of these columns."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {v for c in columns for (v,) in conn.execute(select(c)) if v}
    finally:
        engine.dispose()


def test_no_secret_appears_in_answers_or_the_log(
    server: ServerProcess, exercised: tuple[dict[str, str], Recorder]
) -> None:
    secrets, call = exercised
    texts = {f"answer {a.request.method} {a.request.url.path}": a.text for a in call.answers}
    texts["server log"] = server.log()
    assert '"POST /login HTTP/1.1" 200' in texts["server log"]  # the access log is on
    found = [
        f"{name} in {where}"
        for name, secret in secrets.items()
        for where, text in texts.items()
        if secret in text
    ]
    assert not found, found
    # Nor any stored form of them: password hashes, salts, token and key hashes.
    hashes = stored(
        server.database_url,
        users.c.password,
        users.c.salt,
        user_auth_tokens.c.auth_token,
        api_keys.c.key,
    )
    assert hashes
    leaked = [value for value in hashes for text in texts.values() if value in text]
    assert not leaked, f"stored hashes or salts in answers or the log: {leaked}"


def test_tokens_and_passwords_are_stored_only_as_hashes(
    server: ServerProcess, exercised: tuple[dict[str, str], Recorder]
) -> None:
    secrets, call = exercised
    secret_key = Settings().secret_key
    relogin = call("POST", "/login", json={"user": "admin", "password": "admin"})
    tokens = stored(server.database_url, user_auth_tokens.c.auth_token)
    keys = stored(server.database_url, api_keys.c.key)
    assert keyed_hash(relogin.cookies["grafana_session"], secret_key) in tokens
    assert keyed_hash(secrets["key"], secret_key) in keys
    assert secrets["cookie"] not in tokens and secrets["key"] not in keys
    # No secret in the database's bytes at all, write-ahead log included.
    path = Path(str(make_url(server.database_url).database))
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    present = [name for name, secret in secrets.items() if secret.encode() in raw]
    assert not present, f"stored in the clear: {present}"


def test_session_cookies_are_http_only_and_same_site(server: ServerProcess) -> None:
    login = httpx.post(
        server.url + "/login", json={"user": "admin", "password": "admin"}, timeout=TIMEOUT
    )
    assert login.status_code == 200
    cookies = SimpleCookie()
    for header in login.headers.get_list("set-cookie"):
        cookies.load(header)
    session, expiry = cookies["grafana_session"], cookies["grafana_session_expiry"]
    assert session["httponly"] is True
    assert session["samesite"].lower() in ("lax", "strict")
    assert session["path"] == "/"
    # Grafana's expiry cookie is readable by scripts on purpose; it carries no secret.
    assert expiry["samesite"].lower() in ("lax", "strict")
    assert json.loads(expiry.value) > 0
    logout = httpx.get(
        server.url + "/logout",
        headers={"Cookie": f"grafana_session={session.value}"},
        timeout=TIMEOUT,
    )
    cleared = SimpleCookie()
    for header in logout.headers.get_list("set-cookie"):
        cleared.load(header)
    assert cleared["grafana_session"]["httponly"] is True
    assert cleared["grafana_session"]["samesite"].lower() in ("lax", "strict")
