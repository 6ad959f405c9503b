"""Property-based fuzzing of every operation in openapi.yaml: no input may cause a 5xx
that Grafana does not send by design.

schemathesis generates positive (schema-valid) and negative (schema-violating) requests
for all operations of the contract: the explicit examples, the deterministic coverage
cases (boundaries, wrong types, missing parts) and random cases. Every case is sent to
two real servers at once - `python -m handlers` on a SQLite file and on PostgreSQL -
so one generated case checks both stores (PostgreSQL refuses over-long strings and NUL
bytes that SQLite takes, a classic source of 500s). Each answer must be below 500 -
unless a version difference of the operation states that very 500 for the newest
release, as Grafana answers some clashes and unknown users - and an error answer must be
Grafana's JSON error, an object with a string `message`.

The caller is the Grafana Admin, authenticated by a session cookie given in the schema
configuration (so schemathesis can still send its unauthenticated negative cases). The
same session token is registered in both databases. A session, unlike basic auth,
survives the fuzzer renaming the admin or changing its password through the API.

Excluded, because they would end the caller's own authority and leave every later case
a 401/403 that tests nothing: deleting, disabling, resetting the password of (which
revokes all sessions) and changing the server-admin flag of the admin's own account.
Cases aimed at the admin's id by those four operations go to another user instead.

The run counts its requests; `test_the_fuzzer_sent_enough_requests` fails if fewer than
10,000 were sent, so a silent shrink of generation cannot pass for a clean run.
"""

from __future__ import annotations

import collections
import contextlib
import json
import secrets
import socket
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

import contract
from contract import SPEC_PATH
from handlers.passwords import keyed_hash
from handlers.settings import Settings
from handlers.store import open_store
from tests.support.live import ServerProcess, database_url_for, postgres_available

pytestmark = pytest.mark.slow

MIN_REQUESTS = 10_000
ADMIN_ID = 1
# The admin's session: registered in every target's database before the run.
ADMIN_SESSION = secrets.token_hex(16)
# Operations that would end the caller's own authority when aimed at its account.
SELF_DESTRUCTIVE = {
    "adminDeleteUser",
    "adminDisableUser",
    "adminUpdateUserPassword",
    "adminUpdateUserPermissions",
}
HAS_POSTGRES = postgres_available()
# Random cases per operation (hypothesis' max_examples), on top of the examples and the
# coverage cases; chosen so the run clears MIN_REQUESTS with a margin, on one or two
# backends (10,658 requests on two).
MAX_EXAMPLES = 110 if HAS_POSTGRES else 250

schema = schemathesis.openapi.from_path(
    SPEC_PATH,
    config=schemathesis.Config.from_dict(
        {"auth": {"openapi": {"cookieAuth": {"api_key": ADMIN_SESSION}}}}
    ),
)

SENT: collections.Counter[str] = collections.Counter()
STATUSES: collections.Counter[int] = collections.Counter()
UNSTATED_5XX: collections.Counter[int] = collections.Counter()
CONTRACT = contract.load()


def fault(answer: httpx.Response, operation_id: str) -> str | None:
    """What is wrong with an answer: a 5xx Grafana does not send by design (a version
    difference of the operation states those), or an error not in Grafana's JSON shape
    (outside /api, a 404 is Grafana's web page)."""
    if answer.status_code >= 500:
        with contextlib.suppress(ValueError, AttributeError):
            stated = (answer.status_code, answer.json().get("message"))
            if stated in CONTRACT.stated(CONTRACT[operation_id]):
                return None
        return f"server error {answer.status_code}: {answer.text[:300]}"
    if answer.status_code < 400:
        return None
    web_page = answer.headers.get("content-type", "").startswith("text/html")
    if answer.status_code == 404 and web_page and not answer.url.path.startswith("/api/"):
        return None  # Grafana's 404 web page for paths outside /api
    try:
        body = json.loads(answer.content)
    except ValueError:
        return f"{answer.status_code} error answer is not JSON: {answer.content[:200]!r}"
    if not (isinstance(body, dict) and isinstance(body.get("message"), str)):
        return f"{answer.status_code} error answer without a string message: {body!r}"
    return None


class Target:
    """One live server and a client for it."""

    def __init__(self, name: str, server: ServerProcess) -> None:
        self.name = name
        self.server = server
        # No Nagle delay between a request's header and body writes.
        nodelay = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self.client = httpx.Client(base_url=server.url, timeout=30, transport=nodelay)

    def send(self, request: dict[str, Any]) -> httpx.Response:
        content = request.get("data")
        if "json" in request:
            content = json.dumps(request["json"]).encode()
        headers = dict(request.get("headers") or {})
        cookies = request.get("cookies") or {}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        return self.client.request(
            request["method"],
            request["url"],
            params=request.get("params"),
            headers=headers,
            content=content,
        )


def register_admin_session(database_url: str) -> None:
    store = open_store(database_url)
    try:
        store.create_session(
            ADMIN_ID,
            keyed_hash(ADMIN_SESSION, Settings().secret_key),
            user_agent="fuzzer",
            client_ip="127.0.0.1",
            now=int(time.time()),
        )
        # A second user for the four operations above to act on instead of the admin.
        store.create_user(
            login="fuzz-victim",
            email="fuzz-victim@example.com",
            name="",
            password_hash="",
            salt="",
        )
    finally:
        store.close()


@pytest.fixture(scope="module")
def targets(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Target]]:
    folder = tmp_path_factory.mktemp("fuzz")
    backends = ["sqlite"] + (["postgres"] if HAS_POSTGRES else [])
    servers = [
        ServerProcess(
            database_url_for(request, backend, folder),
            folder / f"{backend}.log",
            {"USERAPI_ACCESS_LOG": "0"},
        )
        for backend in backends
    ]
    started = [Target(backend, server) for backend, server in zip(backends, servers, strict=True)]
    try:
        list(POOL.map(ServerProcess.start, servers))  # side by side
        for server in servers:
            register_admin_session(server.database_url)
        yield started
    finally:
        for target in started:
            target.client.close()
            target.server.stop()
    for target in started:
        log = target.server.log()
        assert "Traceback" not in log, f"{target.name} server logged a traceback:\n{log[-4000:]}"


# Requests of a few cases are in flight while the next case is generated; their answers
# are checked as they settle and failures are reported when the operation's test ends.
IN_FLIGHT = 4
POOL = ThreadPoolExecutor(max_workers=2 * IN_FLIGHT, thread_name_prefix="fuzz-send")
PENDING: collections.deque[tuple[schemathesis.Case, list[tuple[Target, Future[httpx.Response]]]]]
PENDING = collections.deque()
FAILURES: list[str] = []


def settle_oldest() -> None:
    case, sent = PENDING.popleft()
    for target, future in sent:
        try:
            answer = future.result()
        except httpx.HTTPError as error:  # no answer at all: a crash or a hang
            problem: str | None = f"no answer from {target.name}: {error!r}"
        else:
            SENT[case.operation.label] += 1
            STATUSES[answer.status_code] += 1
            problem = fault(answer, str(case.operation.definition.raw["operationId"]))
            if problem is not None and answer.status_code >= 500:
                UNSTATED_5XX[answer.status_code] += 1
        if problem is not None:
            curl = case.as_curl_command(base_url=target.server.url)
            FAILURES.append(f"{case.operation.label} on {target.name}: {problem}\n    {curl}")


@pytest.fixture(autouse=True)
def every_answer_checked() -> Iterator[None]:
    """After each operation's test: wait for its last answers, then report all failures."""
    yield
    while PENDING:
        settle_oldest()
    failures = FAILURES.copy()
    FAILURES.clear()
    assert not failures, f"{len(failures)} failing cases:\n\n" + "\n\n".join(failures[:5])


def spare_the_admin(case: schemathesis.Case) -> None:
    operation_id = case.operation.definition.raw.get("operationId")
    if operation_id in SELF_DESTRUCTIVE and case.path_parameters:
        value = str(case.path_parameters.get("user_id", "")).strip()
        if value.isdigit() and int(value) == ADMIN_ID:
            case.path_parameters["user_id"] = ADMIN_ID + 1


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_the_server_fail(case: schemathesis.Case, targets: list[Target]) -> None:
    spare_the_admin(case)
    request = case.as_transport_kwargs(base_url="http://fuzz.invalid")
    request["url"] = request["url"].removeprefix("http://fuzz.invalid")
    PENDING.append((case, [(target, POOL.submit(target.send, request)) for target in targets]))
    while len(PENDING) > IN_FLIGHT:
        settle_oldest()


def test_the_fuzzer_sent_enough_requests(request: pytest.FixtureRequest) -> None:
    operations = {result.ok().label for result in schema.get_all_operations()}
    if set(SENT) != operations:
        pytest.skip("the fuzzing test did not run for every operation (deselected?)")
    total = sum(SENT.values())
    print(f"\nfuzz: {total} requests, statuses {dict(sorted(STATUSES.items()))}")
    assert total >= MIN_REQUESTS, f"only {total} requests: {dict(SENT)}"
    assert not UNSTATED_5XX, dict(UNSTATED_5XX)
    # The run tested what it claims only if its caller kept its session and rights.
    for target in request.getfixturevalue("targets"):
        me = target.client.get("/api/user", headers={"Cookie": f"grafana_session={ADMIN_SESSION}"})
        assert me.status_code == 200 and me.json()["isGrafanaAdmin"], (target.name, me.text)
