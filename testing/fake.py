"""The fake Grafana: the reference server on an in-memory database, wrapped with a clock, a
journal, fault injection, snapshots and seeding; `FakeGrafana` serves it from a thread.

Reset is a copy of the database's bytes back into place (SQLite's serialize/deserialize):
no schema to rebuild, no password to hash again.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import uvicorn

import contract
from handlers.app import create_app
from handlers.clock import ManualClock
from handlers.protocol import GuardedHttpToolsProtocol
from handlers.settings import Settings
from handlers.store import open_store
from testing import seeding
from testing.faults import Fault, Faults
from testing.journal import Journal, Recorded, decode, query_of

PREFIX = "/__fake"  # no Grafana route starts so: the control endpoints live here
DROP = "grafana_userapi.drop"  # scope extension: abort this request's connection
START_LIMIT = 30.0  # seconds; a bound on a hung start, not a speed target
_STARTED = "started"


class Fake:
    """A fake Grafana's state and its ASGI app. `control=True` also serves the control
    endpoints under /__fake (testing/control.yaml describes them)."""

    def __init__(
        self,
        *,
        grafana_version: str | None = None,
        admin_user: str = "admin",
        admin_password: str = "admin",
        validate_responses: bool = False,
        control: bool = True,
    ) -> None:
        self.clock = ManualClock()
        self.settings = Settings(
            database_url="sqlite://",
            admin_user=admin_user,
            admin_password=admin_password,
            grafana_version=grafana_version,
            validate_responses=validate_responses,
        )
        self.store = open_store(
            "sqlite://", admin_login=admin_user, admin_password=admin_password, clock=self.clock
        )
        self.api = create_app(self.settings, store=self.store)
        self.requests = Journal()
        self.faults = Faults()
        self._hashes = seeding.PasswordHashes()
        self._snapshots: dict[str, bytes] = {}
        self._control: Any = None
        if control:
            from testing.control import control_app

            self._control = control_app(self)
        self.keep_as_start()

    # -- state ----------------------------------------------------------------------------

    @property
    def admin(self) -> tuple[str, str]:
        """The Grafana Admin's (login, password): basic auth for a client."""
        return self.settings.admin_user, self.settings.admin_password

    @property
    def version(self) -> str:
        """The Grafana release this fake answers as, e.g. "13.0"."""
        return contract.load(version=self.settings.grafana_version).version

    def seed(self, data: str | Path | Mapping[str, Any]) -> seeding.Seeded:
        """Create what `data` (a mapping, or a YAML/JSON file) describes; returns the ids
        and secrets created. Nothing is written when any entry is wrong (SeedError)."""
        source = "seed data" if isinstance(data, Mapping) else str(data)
        return seeding.seed(
            self.store,
            seeding.load(data),
            hashes=self._hashes,
            secret_key=self.settings.secret_key,
            source=source,
        )

    def snapshot(self, name: str) -> None:
        """Remember the database as it is now, to `reset(name)` to it later."""
        with self._raw() as connection:
            self._snapshots[name] = connection.serialize()

    def keep_as_start(self) -> None:
        """Make the database as it is now the state `reset()` goes back to."""
        self.snapshot(_STARTED)

    @property
    def snapshots(self) -> list[str]:
        return [name for name in self._snapshots if name != _STARTED]

    def reset(self, snapshot: str | None = None) -> None:
        """Back to how the fake started (Grafana's defaults, and the `seed` it was started
        with) or to a named snapshot; the journal, faults and clock start afresh too. Call
        it between requests (as a fixture does): it replaces the database under them."""
        name = _STARTED if snapshot is None else snapshot
        if name not in self._snapshots:
            raise KeyError(f"no snapshot named {snapshot!r} (taken: {self.snapshots})")
        with self._raw() as connection:
            connection.deserialize(self._snapshots[name])
        self.requests.clear()
        self.faults.clear()
        self.clock.restore()

    @contextlib.contextmanager
    def _raw(self) -> Iterator[sqlite3.Connection]:
        """The in-memory database's one connection (the engine's StaticPool holds it)."""
        proxy = self.store.db.engine.raw_connection()
        try:
            connection = proxy.driver_connection
            assert isinstance(connection, sqlite3.Connection)
            yield connection
        finally:
            proxy.close()  # back to the pool: the connection itself stays open

    def close(self) -> None:
        self.store.close()

    # -- ASGI -----------------------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)
            return
        path: str = scope["path"]
        if self._control is not None and (path == PREFIX or path.startswith(PREFIX + "/")):
            await self._control(scope, receive, send)
            return
        method: str = scope["method"]
        fault = self.faults.take(method, path)
        sent: list[bytes] = []
        received: list[bytes] = []
        status = 0
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            self.requests.add(
                Recorded(
                    method=method,
                    path=path,
                    query=query_of(scope),
                    body=decode(b"".join(received)),
                    status=status,
                    response=decode(b"".join(sent)),
                    fault=None if fault is None else fault.kind,
                )
            )

        async def tee_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                received.append(message.get("body", b""))
            return message

        async def tee_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent.append(message.get("body", b""))
                if not message.get("more_body"):
                    record()  # before the client has the answer: it may look at once
            await send(message)

        try:
            if fault is None or fault.kind == "delay":
                if fault is not None:
                    await anyio.sleep(fault.seconds)
                await self.api(scope, tee_receive, tee_send)
            elif fault.kind == "status":
                await _answer(fault, tee_receive, tee_send)
            else:
                await _drain(tee_receive)
                record()
                await _drop(scope)
        finally:
            record()


async def _drain(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def _answer(fault: Fault, receive: Any, send: Any) -> None:
    await _drain(receive)
    body = json.dumps({"message": fault.message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": fault.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class DroppedConnection(Exception):
    """Raised after a response head, where the server cannot abort the connection itself:
    the server closes it mid-answer."""


async def _drop(scope: Any) -> None:
    abort = scope.get("extensions", {}).get(DROP)
    if abort is None:
        raise DroppedConnection("connection dropped by an injected fault")
    abort()
    await anyio.sleep(0.01)  # let the server see the connection gone before we return


class FakeHttpProtocol(GuardedHttpToolsProtocol):
    """The server's HTTP protocol, with a way for the app to drop a request's connection
    (no answer at all: what a crashed or overloaded Grafana behind a proxy looks like)."""

    def on_headers_complete(self) -> None:
        extensions: dict[str, Any] = dict(self.scope.get("extensions") or {})
        extensions[DROP] = self.transport.abort
        self.scope["extensions"] = extensions
        super().on_headers_complete()


class FakeGrafana(Fake):
    """A fake Grafana on a free 127.0.0.1 port, served from a background thread.

    with FakeGrafana(seed={"users": [{"login": "ann", "password": "pw-ann"}]}) as fake:
        requests.get(fake.url + "/api/users", auth=fake.admin)
    """

    def __init__(
        self,
        *,
        seed: str | Path | Mapping[str, Any] | None = None,
        grafana_version: str | None = None,
        admin_user: str = "admin",
        admin_password: str = "admin",
        host: str = "127.0.0.1",
        port: int = 0,
        validate_responses: bool = False,
        control: bool = True,
    ) -> None:
        super().__init__(
            grafana_version=grafana_version,
            admin_user=admin_user,
            admin_password=admin_password,
            validate_responses=validate_responses,
            control=control,
        )
        # What the latest seed created: the `seed` given here until a test seeds more.
        self.seeded = self._started_with = self.seed(seed) if seed is not None else seeding.Seeded()
        self.keep_as_start()
        self._host, self._port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def reset(self, snapshot: str | None = None) -> None:
        super().reset(snapshot)
        if snapshot is None:
            self.seeded = self._started_with

    def start(self) -> FakeGrafana:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(
            self,
            lifespan="on",
            log_level="warning",
            access_log=False,
            http=FakeHttpProtocol,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="fake-grafana", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + START_LIMIT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Grafana did not start")
            time.sleep(0.002)
        self._server, self._thread = server, thread
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = self._thread = None
        self.close()

    def __enter__(self) -> FakeGrafana:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
