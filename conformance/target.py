"""The server under test: an in-process ASGI app or a URL, and HTTP clients for it."""

from __future__ import annotations

import base64
import importlib
import inspect
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from starlette.testclient import TestClient

from conformance.options import RunOptions
from conformance.recorder import Recorder

IN_PROCESS_URL = "http://testserver"
SESSION_COOKIE = "grafana_session"


@dataclass(frozen=True)
class Credentials:
    """One way to authenticate; empty means anonymous."""

    basic: tuple[str, str] | None = None
    bearer: str | None = None
    session: str | None = None

    def headers(self) -> dict[str, str]:
        if self.basic is not None:
            token = base64.b64encode(":".join(self.basic).encode()).decode()
            return {"Authorization": f"Basic {token}"}
        if self.bearer is not None:
            return {"Authorization": f"Bearer {self.bearer}"}
        if self.session is not None:
            return {"Cookie": f"{SESSION_COOKIE}={self.session}"}
        return {}


ANONYMOUS = Credentials()


class SetupError(RuntimeError):
    """The target cannot be reached or the run's fixtures cannot be created."""


def load_app(import_string: str) -> tuple[Any, bool]:
    """uvicorn's syntax: `module:attribute`, where a plain function is called as a factory.

    Returns the app and whether it was made just now (by a factory).
    """
    module_name, sep, attribute = import_string.partition(":")
    if not sep:
        raise SetupError(f"--app wants 'module:attribute', got {import_string!r}")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise SetupError(f"cannot import {import_string}: {exc}") from exc
    if inspect.isfunction(found):
        return found(), True
    return found, False


class Target:
    """Builds clients that record every answer and never keep cookies between requests."""

    def __init__(self, options: RunOptions, recorder: Recorder) -> None:
        self.app: Any = None
        self.owns_app = False
        if options.app and not options.base_url:
            self.app, self.owns_app = load_app(options.app)
        self.base_url = options.base_url or IN_PROCESS_URL
        self.base_path = urlsplit(self.base_url).path.rstrip("/")  # Grafana under a sub-path
        self.admin = Credentials(basic=options.admin_auth)
        self.timeout = options.request_timeout
        self.recorder = recorder
        self._stack = ExitStack()

    @property
    def in_process(self) -> bool:
        return self.app is not None

    def _new_client(self, credentials: Credentials) -> httpx.Client:
        client: httpx.Client
        if self.app is not None:
            # Starlette's TestClient speaks httpx's API (it is an httpx2.Client where httpx2
            # is installed); server errors become 500 answers instead of exceptions.
            client = cast(
                httpx.Client,
                TestClient(
                    self.app,
                    base_url=self.base_url,
                    raise_server_exceptions=False,
                    follow_redirects=False,
                ),
            )
        else:
            client = httpx.Client(base_url=self.base_url, timeout=self.timeout)
        client.headers.update(credentials.headers())

        def record(response: httpx.Response) -> None:
            client.cookies.clear()  # authentication is always explicit
            request = response.request
            path = request.url.path.removeprefix(self.base_path)
            self.recorder.observe(request.method, path, response.status_code)

        client.event_hooks = {"request": [], "response": [record]}
        return client

    def client(self, credentials: Credentials = ANONYMOUS) -> httpx.Client:
        """A client that lives until the run ends."""
        return self._stack.enter_context(self._new_client(credentials))

    @contextmanager
    def session(self, credentials: Credentials = ANONYMOUS) -> Iterator[httpx.Client]:
        """A short-lived client."""
        with self._new_client(credentials) as client:
            yield client

    def login(self, user: str, password: str, user_agent: str = "conformance") -> str:
        """POST /login and return the new session cookie."""
        with self.session() as client:
            response = client.post(
                "/login",
                json={"user": user, "password": password},
                headers={"User-Agent": user_agent},
            )
        cookie = response.cookies.get(SESSION_COOKIE)
        if response.status_code != 200 or not cookie:
            raise SetupError(f"POST /login as {user} answered {response.status_code}")
        return str(cookie)

    def close(self) -> None:
        self._stack.close()
