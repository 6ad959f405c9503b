"""The server under test: an in-process ASGI app or a URL, and HTTP clients for it."""

from __future__ import annotations

import base64
import importlib
import inspect
import re
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.testclient import TestClient

from conformance import logins, paging
from conformance.options import RunOptions
from conformance.recorder import Recorder

IN_PROCESS_URL = "http://testserver"
SESSION_COOKIE = "grafana_session"
# `grafana_session=<value>` in Set-Cookie headers, also when several are joined by commas.
_SET_SESSION = re.compile(rf"(?:^|[\s,]){SESSION_COOKIE}=([^;,\s]*)")


def replaced_session(set_cookies: Iterable[str]) -> str | None:
    """The new session a response's Set-Cookie headers give, if any (an emptied cookie,
    as a logout or a refused session sends, gives none)."""
    found = None
    for header in set_cookies:
        for value in _SET_SESSION.findall(header):
            found = value or found
    return found or None


class PageTooLarge(ValueError):
    """The suite was about to ask for more rows at once than paging.MAX_PAGE_SIZE."""


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
        # The admin's password is what the run was told: right once the server accepts it.
        login, password = options.admin_auth
        recorder.failed_logins.learn(password, login, confirmed=False)
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

        def bounded(request: httpx.Request) -> None:
            for name, value in parse_qsl(request.url.query.decode(), keep_blank_values=True):
                if name in paging.PAGE_SIZE_PARAMETERS and paging.asks_too_many(value):
                    raise PageTooLarge(
                        f"{request.method} {request.url.path}: {name}={value} asks for more "
                        f"than {paging.MAX_PAGE_SIZE} rows; the suite never does"
                    )

        def record(response: httpx.Response) -> None:
            client.cookies.clear()  # authentication is always explicit
            request = response.request
            path = request.url.path.removeprefix(self.base_path)
            self.observe_login(request.method, path, request.headers, request.content, response)
            if credentials.session is not None:
                # A server that rotates the session names the new one in Set-Cookie.
                renewed = replaced_session(response.headers.get_list("set-cookie"))
                if renewed:
                    client.headers["Cookie"] = f"{SESSION_COOKIE}={renewed}"
            self.recorder.observe(request.method, path, response.status_code)

        client.event_hooks = {"request": [bounded], "response": [record]}
        return client

    def observe_login(
        self, method: str, path: str, headers: Any, body: object, response: Any
    ) -> None:
        """Count the answer to a request that logs in with a password (failed logins)."""
        attempt = logins.attempt_of(method, path, dict(headers.items()), body)
        if attempt is not None:
            self.recorder.failed_logins.observe(
                attempt, f"{method} {path}", response.status_code, self.recorder.current_test
            )

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
        cookie = replaced_session(response.headers.get_list("set-cookie"))
        if response.status_code != 200 or not cookie:
            raise SetupError(f"POST /login as {user} answered {response.status_code}")
        return str(cookie)

    def close(self) -> None:
        self._stack.close()
