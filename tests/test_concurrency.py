"""Sixteen clients writing at once against a real server, on SQLite and on PostgreSQL.

Each client is a user with its own session. For a fixed time every client loops over a
random mix of writes: updating its profile (its login and e-mail are often taken from a
small shared pool, so clients fight over the same values and many updates must be
refused with 409), changing its password, switching its organization, starring and
unstarring dashboards, and logging in a second session only to revoke it again.

Each client remembers what the server acknowledged (2xx). Afterwards the server's state
must be exactly what those acknowledgements imply, for every user: profile, active org,
password, stars and live sessions (no lost update). Then, in bursts, all clients claim one
fresh value at the same instant, half as login and half as e-mail: exactly one may win it
as a login and one as an e-mail (Grafana's conflict rule compares logins with logins and
e-mails with e-mails). No two users may ever share a login or an e-mail, and no request
may fail with a 5xx or go unanswered.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from handlers.store import open_store
from handlers.store.schema import dashboards, stars, users
from tests.conftest import ADMIN, BACKENDS
from tests.support.live import ServerProcess, database_url_for

pytestmark = pytest.mark.slow

CLIENTS = 16
SECONDS = 10.0
ORGS = 3  # the main org and two more; every user belongs to all of them
DASHBOARDS = 4
# Values every client tries to take, as a login or as an e-mail: constant conflicts. No
# "@" in them: one client's login may be another's e-mail (Grafana's rule), and a name
# with "@" signs in as the user whose e-mail it is.
CONTESTED = [f"contested-{n}" for n in range(5)]
TIMEOUT = 30.0
# Rounds in which all clients claim one value at once. A check-then-write race that let
# two claims through in a quarter of the rounds is caught with 99.7 % probability.
BURSTS = 20


@dataclass
class Client:
    """One user and what the server acknowledged for it."""

    number: int
    user_id: int
    login: str
    email: str
    password: str
    http: httpx.Client
    name: str = ""
    org_id: int = 1
    stars: set[str] = field(default_factory=set)
    live_sessions: set[int] = field(default_factory=set)  # besides the client's own
    own_session: int = 0
    sequence: int = 0

    def next(self) -> int:
        self.sequence += 1
        return self.sequence


class Run:
    """Shared bookkeeping: every answer's status, and anything that went wrong."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: collections.Counter[int] = collections.Counter()
        self.problems: list[str] = []
        self.lock = threading.Lock()

    def call(self, http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            with self.lock:
                self.problems.append(f"{method} {path}: no answer ({error!r})")
            raise
        with self.lock:
            self.statuses[answer.status_code] += 1
            if answer.status_code >= 500:
                self.problems.append(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer


def update_profile(run: Run, client: Client, rng: random.Random) -> None:
    login = rng.choice([client.login, rng.choice(CONTESTED), f"u{client.number}-{rng.random()}"])
    email = rng.choice([client.email, rng.choice(CONTESTED), f"e{client.number}@example.com"])
    name = f"name {client.number}.{client.next()}"
    body = {"login": login, "email": email, "name": name}
    answer = run.call(client.http, "PUT", "/api/user", json=body)
    if answer.status_code == 200:
        client.login, client.email, client.name = login.lower(), email.lower(), name
    else:
        assert answer.status_code == 409, answer.text


def change_password(run: Run, client: Client, rng: random.Random) -> None:
    new = f"pw-{client.number}-{client.next()}"
    body = {"oldPassword": client.password, "newPassword": new}
    answer = run.call(client.http, "PUT", "/api/user/password", json=body)
    assert answer.status_code == 200, answer.text
    client.password = new


def switch_org(run: Run, client: Client, rng: random.Random) -> None:
    org_id = rng.randint(1, ORGS)
    answer = run.call(client.http, "POST", f"/api/user/using/{org_id}")
    assert answer.status_code == 200, answer.text
    client.org_id = org_id


def star_or_unstar(run: Run, client: Client, rng: random.Random) -> None:
    uid = f"dash-{rng.randrange(DASHBOARDS)}"
    # Stars by UID look the dashboard up in the caller's current org: the main org's.
    if client.org_id != 1:
        switch_org_to_main = run.call(client.http, "POST", "/api/user/using/1")
        assert switch_org_to_main.status_code == 200
        client.org_id = 1
    if uid in client.stars:
        answer = run.call(client.http, "DELETE", f"/api/user/stars/dashboard/uid/{uid}")
        assert answer.status_code == 200, answer.text
        client.stars.discard(uid)
    else:
        answer = run.call(client.http, "POST", f"/api/user/stars/dashboard/uid/{uid}")
        assert answer.status_code == 200, answer.text
        client.stars.add(uid)


def log_in_and_revoke(run: Run, client: Client, rng: random.Random) -> None:
    with httpx.Client(base_url=run.url, timeout=TIMEOUT) as device:
        answer = run.call(
            device, "POST", "/login", json={"user": client.login, "password": client.password}
        )
        assert answer.status_code == 200, answer.text
        tokens = run.call(device, "GET", "/api/user/auth-tokens")
        assert tokens.status_code == 200, tokens.text
        session_id = next(t["id"] for t in tokens.json() if t["isActive"])
        client.live_sessions.add(session_id)
        if rng.random() < 0.2:
            return  # keep this one: it must still be listed at the end
        revoked = run.call(
            client.http, "POST", "/api/user/revoke-auth-token", json={"authTokenId": session_id}
        )
        assert revoked.status_code == 200, revoked.text
        client.live_sessions.discard(session_id)
        # Revocation takes effect at once.
        after = run.call(device, "GET", "/api/user")
        assert after.status_code == 401, after.text


ACTIONS: list[tuple[Callable[[Run, Client, random.Random], None], int]] = [
    (update_profile, 6),
    (change_password, 1),
    (switch_org, 3),
    (star_or_unstar, 4),
    (log_in_and_revoke, 1),
]


def work(run: Run, client: Client, deadline: float) -> int:
    rng = random.Random(client.number)
    actions, weights = zip(*ACTIONS, strict=True)
    done = 0
    while time.monotonic() < deadline:
        action = rng.choices(actions, weights)[0]
        try:
            action(run, client, rng)
        except httpx.HTTPError:
            return done  # recorded as a problem already
        except AssertionError as error:
            with run.lock:
                run.problems.append(f"client {client.number} {action.__name__}: {error}")
            return done
        done += 1
    return done


def contested_bursts(run: Run, clients: list[Client], rounds: int) -> None:
    """All clients claim one fresh value at the same instant, half of them as their login
    and half as their e-mail: exactly one of each half may win each round."""
    barrier = threading.Barrier(len(clients))
    for round_number in range(rounds):
        value = f"burst-{round_number}"  # no "@", as CONTESTED
        winners: list[int] = []

        def claim(client: Client, value: str = value, winners: list[int] = winners) -> None:
            as_login = client.number % 2 == 0
            login, email = (value, client.email) if as_login else (client.login, value)
            barrier.wait(timeout=TIMEOUT)
            body = {"login": login, "email": email, "name": client.name}
            answer = run.call(client.http, "PUT", "/api/user", json=body)
            if answer.status_code == 200:
                client.login, client.email = login, email
                winners.append(client.number)
            elif answer.status_code != 409:
                run.problems.append(f"burst claim: {answer.status_code} {answer.text}")

        threads = [threading.Thread(target=claim, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=2 * TIMEOUT)
        as_login = [n for n in winners if n % 2 == 0]
        as_email = [n for n in winners if n % 2 == 1]
        assert (len(as_login), len(as_email)) == (1, 1), (
            f"round {round_number}: {value!r} taken as login by {as_login}, as e-mail by {as_email}"
        )


def set_up(run: Run, admin: httpx.Client) -> list[Client]:
    for n in range(2, ORGS + 1):
        assert admin.post("/api/orgs", json={"name": f"org {n}"}).status_code == 200
    for n in range(DASHBOARDS):
        body = {"dashboard": {"id": None, "uid": f"dash-{n}", "title": f"Dashboard {n}"}}
        assert admin.post("/api/dashboards/db", json=body).status_code == 200
    clients = []
    for number in range(CLIENTS):
        login, password = f"client{number}", f"pw-{number}-0"
        created = admin.post(
            "/api/admin/users",
            json={"login": login, "email": f"{login}@example.com", "password": password},
        )
        assert created.status_code == 200, created.text
        for org_id in range(2, ORGS + 1):
            added = admin.post(
                f"/api/orgs/{org_id}/users", json={"loginOrEmail": login, "role": "Viewer"}
            )
            assert added.status_code == 200, added.text
        http = httpx.Client(base_url=run.url, timeout=TIMEOUT)
        signed_in = http.post("/login", json={"user": login, "password": password})
        assert signed_in.status_code == 200, signed_in.text
        own = next(t["id"] for t in http.get("/api/user/auth-tokens").json() if t["isActive"])
        clients.append(
            Client(
                number,
                created.json()["id"],
                login,
                f"{login}@example.com",
                password,
                http,
                own_session=own,
            )
        )
    return clients


def check_final_state(run: Run, clients: list[Client], database_url: str) -> int:
    checked = 0
    for client in clients:
        me = client.http.get("/api/user").json()
        state = (me["login"], me["email"], me["name"], me["orgId"])
        assert state == (client.login, client.email, client.name, client.org_id), client.number
        password_works = httpx.get(
            run.url + "/api/user", auth=(client.login, client.password), timeout=TIMEOUT
        )
        assert password_works.status_code == 200, (client.number, password_works.text)
        sessions = {t["id"] for t in client.http.get("/api/user/auth-tokens").json()}
        assert sessions == client.live_sessions | {client.own_session}, client.number
        checked += 4
    store = open_store(database_url)
    try:
        with store.db.read() as conn:
            starred = collections.defaultdict(set)
            rows = conn.execute(
                select(stars.c.user_id, dashboards.c.uid).join(
                    dashboards, dashboards.c.id == stars.c.dashboard_id
                )
            )
            for user_id, uid in rows:
                starred[user_id].add(uid)
            accounts = conn.execute(select(users.c.id, users.c.login, users.c.email)).all()
            distinct = conn.execute(
                select(func.count(func.distinct(func.lower(users.c.login))))
            ).scalar_one()
    finally:
        store.close()
    for client in clients:
        assert starred[client.user_id] == client.stars, client.number
        checked += 1
    logins = [account.login for account in accounts]
    emails = {account.email: account.id for account in accounts}
    assert len(set(logins)) == len(logins) == distinct, "two users share a login"
    assert len(emails) == len(accounts), "two users share an e-mail"
    return checked


@pytest.mark.parametrize("backend", BACKENDS)
def test_sixteen_clients_writing_at_once_lose_nothing_and_break_no_uniqueness(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    database_url = database_url_for(request, backend, tmp_path)
    # As 11.6, where a clash is a 409 (from 12.0 Grafana answers it with a 500, which
    # this test could not tell from a real failure).
    server = ServerProcess(
        database_url,
        tmp_path / "server.log",
        {"USERAPI_ACCESS_LOG": "0", "USERAPI_GRAFANA_VERSION": "11.6"},
        workers=2,
    )
    server.start()
    run = Run(server.url)
    try:
        with httpx.Client(base_url=server.url, auth=ADMIN, timeout=TIMEOUT) as admin:
            clients = set_up(run, admin)
        deadline = time.monotonic() + SECONDS
        done = [0] * CLIENTS
        threads = [
            threading.Thread(
                target=lambda c=client: done.__setitem__(c.number, work(run, c, deadline))
            )
            for client in clients
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=SECONDS + 2 * TIMEOUT)
        assert not any(thread.is_alive() for thread in threads), "a client hung"
        assert not run.problems, "\n".join(run.problems[:10])
        contested_bursts(run, clients, BURSTS)
        assert not run.problems, "\n".join(run.problems[:10])
        checked = check_final_state(run, clients, database_url)
        conflicts = run.statuses[409]
        print(
            f"\n{backend}: {sum(done)} writes by {CLIENTS} clients in {SECONDS:.0f} s, "
            f"{sum(run.statuses.values())} requests, {conflicts} refused as conflicts, "
            f"{checked} final-state facts checked"
        )
        assert conflicts > 0, "the clients never fought over a login or e-mail"
        for client in clients:
            client.http.close()
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()[-4000:]
