"""Two server processes on one database behave as one server: no stale credential anywhere.

Both `python -m handlers` processes are started at the same moment on a new database (so
they also race to create Grafana's first-start data). Each check then writes through one
process and reads through the other right after the write was acknowledged - no waiting:
a session made on A works on B; a session revoked, a password changed or reset, a user
disabled, renamed or deleted on A is refused on B at once, even when B has just accepted
the old credential (and so may have cached it); failed passwords on both count toward one
lock-out. PostgreSQL is the deployment this is for; one SQLite file shared by two
processes must behave the same.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ADMIN, BACKENDS
from tests.support.live import ServerProcess, database_url_for

pytestmark = pytest.mark.slow

TIMEOUT = 15.0
PASSWORD = "first-pass"


@pytest.fixture(scope="module", params=BACKENDS)
def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    tmp_path = tmp_path_factory.mktemp("scale-out")
    database_url = database_url_for(request, request.param, tmp_path)
    a = ServerProcess(database_url, tmp_path / "a.log")
    b = ServerProcess(database_url, tmp_path / "b.log")
    starting = [threading.Thread(target=server.start) for server in (a, b)]
    for thread in starting:
        thread.start()
    for thread in starting:
        thread.join()
    try:
        assert a.process is not None and b.process is not None
        yield a, b
    finally:
        a.stop()
        b.stop()
    for server in (a, b):
        assert "Traceback" not in server.log(), server.log()[-4000:]


def client(server: ServerProcess, **kwargs: object) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]


def create_user(server: ServerProcess, login: str) -> int:
    with client(server, auth=ADMIN) as admin:
        body = {"login": login, "email": f"{login}@example.com", "password": PASSWORD}
        answer = admin.post("/api/admin/users", json=body)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["id"])


def log_in(server: ServerProcess, login: str, password: str = PASSWORD) -> str:
    answer = httpx.post(
        server.url + "/login", json={"user": login, "password": password}, timeout=TIMEOUT
    )
    assert answer.status_code == 200, answer.text
    return answer.cookies["grafana_session"]


def as_session(server: ServerProcess, cookie: str) -> int:
    answer = httpx.get(
        server.url + "/api/user", headers={"Cookie": f"grafana_session={cookie}"}, timeout=TIMEOUT
    )
    return answer.status_code


def as_basic(server: ServerProcess, login: str, password: str = PASSWORD) -> int:
    return httpx.get(server.url + "/api/user", auth=(login, password), timeout=TIMEOUT).status_code


def test_both_servers_came_up_on_one_new_database(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = servers
    with client(a, auth=ADMIN) as on_a, client(b, auth=ADMIN) as on_b:
        assert on_a.get("/api/users").json() == on_b.get("/api/users").json()
        assert "admin" in [u["login"] for u in on_b.get("/api/users").json()]


def test_a_session_made_on_one_server_works_on_the_other(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = servers
    create_user(a, "roamer")
    cookie = log_in(a, "roamer")
    assert as_session(b, cookie) == 200
    with client(b, headers={"Cookie": f"grafana_session={cookie}"}) as on_b:
        assert on_b.get("/api/user").json()["login"] == "roamer"
        assert len(on_b.get("/api/user/auth-tokens").json()) == 1


def test_a_session_revoked_on_one_server_is_refused_by_the_other_at_once(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = servers
    create_user(a, "revoker")
    doomed, keeper = log_in(a, "revoker"), log_in(b, "revoker")
    assert as_session(b, doomed) == 200  # B has just accepted it
    with client(a, headers={"Cookie": f"grafana_session={keeper}"}) as on_a:
        tokens = on_a.get("/api/user/auth-tokens").json()
        doomed_id = next(t["id"] for t in tokens if not t["isActive"])
        revoked = on_a.post("/api/user/revoke-auth-token", json={"authTokenId": doomed_id})
        assert revoked.status_code == 200, revoked.text
    assert as_session(b, doomed) == 401
    assert as_session(b, keeper) == 200


def test_a_password_changed_on_one_server_is_refused_by_the_other_at_once(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = servers
    create_user(a, "changer")
    assert as_basic(b, "changer") == 200  # B has verified (and may cache) the old one
    with client(a, auth=("changer", PASSWORD)) as on_a:
        body = {"oldPassword": PASSWORD, "newPassword": "second-pass"}
        assert on_a.put("/api/user/password", json=body).status_code == 200
    assert as_basic(b, "changer") == 401
    assert as_basic(b, "changer", "second-pass") == 200


def test_a_password_reset_on_one_server_ends_sessions_on_the_other(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = servers
    user_id = create_user(a, "reset")
    cookie = log_in(b, "reset")
    assert (as_session(b, cookie), as_basic(b, "reset")) == (200, 200)
    with client(a, auth=ADMIN) as admin:
        body = {"password": "by-the-admin"}
        assert admin.put(f"/api/admin/users/{user_id}/password", json=body).status_code == 200
    assert (as_session(b, cookie), as_basic(b, "reset")) == (401, 401)
    assert as_basic(b, "reset", "by-the-admin") == 200


def test_disabling_renaming_and_deleting_on_one_server_take_effect_on_the_other(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = servers
    user_id = create_user(a, "mortal")
    assert as_basic(b, "mortal") == 200
    with client(a, auth=ADMIN) as admin:
        assert admin.post(f"/api/admin/users/{user_id}/disable").status_code == 200
        assert as_basic(b, "mortal") == 401
        assert admin.post(f"/api/admin/users/{user_id}/enable").status_code == 200
        assert as_basic(b, "mortal") == 200
        renamed = admin.put(f"/api/users/{user_id}", json={"login": "renamed"})
        assert renamed.status_code == 200, renamed.text
        assert as_basic(b, "mortal") == 401
        assert as_basic(b, "renamed") == 200
        cookie = log_in(b, "renamed")
        assert admin.delete(f"/api/admin/users/{user_id}").status_code == 200
    assert (as_basic(b, "renamed"), as_session(b, cookie)) == (401, 401)


def test_failed_passwords_on_both_servers_count_toward_one_lock_out(
    servers: tuple[ServerProcess, ServerProcess],
) -> None:
    a, b = servers
    create_user(a, "target")
    for attempt in range(5):
        assert as_basic(a if attempt % 2 else b, "target", f"wrong-{attempt}") == 401
    assert (as_basic(a, "target"), as_basic(b, "target")) == (401, 401)
