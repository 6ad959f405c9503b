"""A catalogue of hostile requests against the real server: each is refused cleanly.

The kinds live in tests/test_hostile_values.py and tests/test_hostile_http.py; this module
holds what both share. Every kind is one test. It sends its request(s) to `python -m handlers`
and checks each answer: never a 5xx, never a hang (every socket has a timeout); an error answer
is Grafana's JSON error, an object with a string `message`; and the kinds that are plainly
invalid must be refused with a 4xx. Kinds about values (bodies, ids, strings that a
database may refuse) run on SQLite and on PostgreSQL; kinds about the HTTP layer (heads,
framing, 100 MB bodies, slow clients) run once. After each kind the server must still
answer a health check, and at the end its log must hold no traceback.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import ADMIN
from tests.support.live import ServerProcess, database_url_for

TIMEOUT = 15.0
MIB = 1 << 20


@dataclass
class Answer:
    status: int
    body: bytes

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        return cls(response.status_code, response.content)


@dataclass
class Kind:
    send: Callable[[ServerProcess], list[Answer]]
    refused: bool  # must be a 4xx; otherwise any answer below 500 will do


def kind(
    registry: dict[str, Kind], *, refused: bool = True
) -> Callable[[Callable[[ServerProcess], list[Answer]]], Callable[[ServerProcess], list[Answer]]]:
    def register(
        send: Callable[[ServerProcess], list[Answer]],
    ) -> Callable[[ServerProcess], list[Answer]]:
        registry[send.__name__] = Kind(send, refused)
        return send

    return register


def admin(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=ADMIN, timeout=TIMEOUT)


def check(answers: list[Answer], refused: bool) -> None:
    for answer in answers:
        assert answer.status < 500, f"{answer.status}: {answer.body[:300]!r}"
        if refused:
            assert 400 <= answer.status < 500, f"accepted: {answer.status} {answer.body[:300]!r}"
        if answer.status >= 400:
            body = json.loads(answer.body)
            assert isinstance(body, dict) and isinstance(body.get("message"), str), body


def still_healthy(server: ServerProcess) -> None:
    answer = httpx.get(server.url + "/api/health", timeout=5)
    assert answer.status_code == 200


@contextlib.contextmanager
def running_servers() -> Iterator[dict[str, ServerProcess]]:
    """A dict for a module's servers by backend; at the end, stop them and check their logs."""
    servers: dict[str, ServerProcess] = {}
    yield servers
    for server in servers.values():
        server.stop()
    for server in servers.values():
        assert "Traceback" not in server.log(), server.log()[-4000:]


def started(
    request: pytest.FixtureRequest, running: dict[str, ServerProcess], backend: str
) -> ServerProcess:
    if backend not in running:
        folder = request.getfixturevalue("tmp_path_factory").mktemp(f"hostile-{backend}")
        running[backend] = ServerProcess(
            database_url_for(request, backend, folder), folder / "server.log"
        )
        running[backend].start()
    return running[backend]
