"""ASGI middleware around the API: request-size limit and Prometheus metrics at /metrics."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote_to_bytes

from anyio import to_thread
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from contract import HTTP_METHODS, Contract
from handlers import deps, versions
from handlers.store.errors import UserNotFound

Scope = dict[str, Any]
MAX_BODY_BYTES = 1 << 20  # Grafana's bodies are small; 1 MiB is generous
# Label values for what is not an operation of the contract: a fixed, small set, so that no
# client can add series by inventing paths or methods.
UNMATCHED = "unmatched"
_OWN_PATHS = {"/openapi.json": "/openapi.json", "/metrics": "/metrics"}
_METHODS = frozenset(m.upper() for m in HTTP_METHODS)


def route_labels(spec: Contract) -> Callable[[str, str], tuple[str, str]]:
    """(method, route) labels of a request: the method when it is an HTTP method, the
    path template of the contract's operation (or of the server's own pages)."""

    @functools.lru_cache(maxsize=4096)
    def labels(method: str, path: str) -> tuple[str, str]:
        method = method if method in _METHODS else "OTHER"
        operation = spec.match("GET" if method == "HEAD" else method, path)
        if operation is not None:
            return method, operation.path
        if path.startswith("/docs"):
            return method, "/docs"
        return method, _OWN_PATHS.get(path, UNMATCHED)

    return labels


async def send_json(send: Any, status: int, body: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Reads a request's body before anything else sees it: at most `limit` bytes (413
    beyond), within `timeout` seconds of the request's start (408 after; 0: no limit).

    A declared Content-Length over the limit is refused up front. A streamed body
    (Transfer-Encoding: chunked, no length) is handed on with its length: connexion
    validates only bodies that declare one. So neither a large nor a stalled upload holds
    memory or a connection for long, and none reaches authentication unbounded."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES, timeout: float = 30.0) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await send_json(send, 413, {"message": "request body too large"})
            return
        chunked = length is None and b"transfer-encoding" in headers
        if not chunked and (length is None or int(length) == 0):
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.timeout or None):
                body = await self._read(receive)
        except TimeoutError:
            await send_json(send, 408, {"message": "request body timed out"})
            return
        except _TooLarge:
            await send_json(send, 413, {"message": "request body too large"})
            return
        if body is None:  # the client went away
            return
        if chunked:
            scope = {
                **scope,
                "headers": [(k, v) for k, v in scope["headers"] if k != b"transfer-encoding"]
                + [(b"content-length", str(len(body)).encode())],
            }
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Any) -> bytes | None:
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            if len(body) > self.limit:
                raise _TooLarge()
            more = message.get("more_body", False)
        return bytes(body)


def _replay(body: bytes, receive: Any) -> Any:
    """A receive channel that gives the whole body once, then the client's own events."""
    given = False

    async def replay() -> Any:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class MetricsMiddleware:
    """Counts and times every request; serves the registry at GET /metrics."""

    def __init__(self, app: Any, spec: Contract) -> None:
        self.app = app
        self.labels = route_labels(spec)
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )
        # Each series' children, looked up once (labels() costs a lock and a tuple check
        # per call); as bounded as the series themselves (route_labels).
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/metrics" and scope["method"] == "GET":
            payload = generate_latest(self.registry)
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode())],
                }
            )
            await send({"type": "http.response.body", "body": payload})
            return
        status = 500
        started = time.perf_counter()

        async def recording_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            method, route = self.labels(scope["method"], scope["path"])
            series = self._series.get((method, route, status))
            if series is None:
                series = (
                    self.requests.labels(method, route, str(status)),
                    self.latency.labels(method, route),
                )
                self._series[(method, route, status)] = series
            series[0].inc()
            series[1].observe(time.perf_counter() - started)


class SpecMiddleware:
    """Serves the contract itself, as written, at GET /openapi.json."""

    def __init__(self, app: Any, spec: dict[str, Any]) -> None:
        self.app = app
        self.payload = json.dumps(spec).encode()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/openapi.json":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": self.payload})
            return
        await self.app(scope, receive, send)


class SubPathMiddleware:
    """Grafana's serve_from_sub_path: a path under the root URL's sub path (`/grafana/api/
    user` for root_url `https://host/grafana/`) is served as the path without it, as
    Grafana's router trims the prefix; paths without it are served as they are (API clients
    pointed at the server itself)."""

    def __init__(self, app: Any, prefix: str) -> None:
        self.app = app
        self.prefix = prefix
        self.raw_prefix = prefix.encode()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == self.prefix or path.startswith(self.prefix + "/")):
            rest = path[len(self.prefix) :] or "/"
            raw: bytes = scope.get("raw_path") or b""
            # (A prefix written %-escaped is found in the decoded path only.)
            raw = raw[len(self.raw_prefix) :] if raw.startswith(self.raw_prefix) else b""
            scope = {**scope, "path": rest, "raw_path": raw or rest.encode()}
        await self.app(scope, receive, send)


class TrailingSlashMiddleware:
    """Grafana's router ignores a trailing slash (`/api/user/` is `/api/user`); Starlette
    would answer 307. The interactive docs at /docs/ keep theirs."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and len(path) > 1
            and path.endswith("/")
            and not path.startswith("/docs")
        ):
            scope = {
                **scope,
                "path": path.rstrip("/") or "/",
                "raw_path": scope.get("raw_path", b"").rstrip(b"/") or b"/",
            }
        await self.app(scope, receive, send)


class FirstQueryValueMiddleware:
    """Grafana reads a query parameter through Go's url.Values.Get, which takes its first
    value (`?perpage=1&perpage=2` is 1); connexion takes the last. Repeats are dropped here,
    each parameter keeping its first occurrence, as sent."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if b"&" in query:
            kept, seen = [], set()
            for part in query.split(b"&"):
                name = unquote_to_bytes(part.partition(b"=")[0].replace(b"+", b" "))
                if name not in seen:
                    seen.add(name)
                    kept.append(part)
            scope = {**scope, "query_string": b"&".join(kept)}
        await self.app(scope, receive, send)


class MediaTypeMiddleware:
    """A media type is case-insensitive, and Go's mime.ParseMediaType, which Grafana's
    binder reads Content-Type with, lowers it. connexion looks the body's schema up by the
    media type as sent, so `APPLICATION/JSON` skipped validation and reached a handler as
    bytes (a 500). The media type is lowered here; its parameters are kept as sent."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and any(
            name == b"content-type" and value != _lower_media_type(value)
            for name, value in scope["headers"]
        ):
            headers = [
                (name, _lower_media_type(value) if name == b"content-type" else value)
                for name, value in scope["headers"]
            ]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def _lower_media_type(value: bytes) -> bytes:
    media_type, separator, parameters = value.partition(b";")
    return media_type.lower() + separator + parameters


class UnreadQueryMiddleware:
    """Query parameters that neither the operation nor the organisation selection reads
    are dropped before connexion when a query has more than `MANY` of them. connexion
    gathers each parameter's values with a scan of all parameters, so 8,000 invented
    names cost seconds of CPU, even on the anonymous /api/health. Grafana ignores
    parameters it does not read, as connexion does (no strict validation): dropping them
    changes no answer."""

    MANY = 64

    def __init__(self, app: Any, spec: Contract) -> None:
        self.app = app
        self.spec = spec

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if query.count(b"&") >= self.MANY:
            method = "GET" if scope["method"] == "HEAD" else scope["method"]
            operation = self.spec.match(method, scope["path"].rstrip("/") or "/")
            read = {self.spec.org_selection.query.encode()}
            if operation is not None:
                read |= {
                    str(p["name"]).encode() for p in operation.parameters if p.get("in") == "query"
                }
            kept = [
                part
                for part in query.split(b"&")
                if unquote_to_bytes(part.partition(b"=")[0].replace(b"+", b" ")) in read
            ]
            scope = {**scope, "query_string": b"&".join(kept)}
        await self.app(scope, receive, send)


class LenientQueryMiddleware:
    """Grafana reads perpage and page with QueryInt, which takes a value that is no Go
    int64 as absent: such values (parameters the contract marks x-grafana-lenient) are
    dropped here, so the operation's default applies instead of a 400."""

    def __init__(self, app: Any, spec: Contract) -> None:
        self.app = app
        self.spec = spec

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if b"page" in query:  # perpage or page: the only lenient parameters
            method = "GET" if scope["method"] == "HEAD" else scope["method"]
            operation = self.spec.match(method, scope["path"])
            if operation is not None and operation.lenient:
                scope = {**scope, "query_string": _lenient(query, operation.lenient)}
        await self.app(scope, receive, send)


def _lenient(query: bytes, names: frozenset[str]) -> bytes:
    kept = []
    for part in query.split(b"&"):
        raw_name, _, raw_value = part.partition(b"=")
        name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("latin-1")
        value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode("latin-1")
        if name not in names or versions.is_int64(value):
            kept.append(part)
    return b"&".join(kept)


_GO_INTEGER = re.compile(r"^[+-]?[0-9]+$")


class GoIntegerMiddleware:
    """Integer query parameters are read as Go's strconv reads them: ASCII digits with an
    optional sign. connexion converts with Python's int(), which also takes `1_0` and
    full-width digits (`１`), so `?perpage=1_0` was 10. Such a value is the 400 that the
    contract states for a parameter that is no integer (its x-grafana-invalid message, or
    "bad request data"). Path integers are bound as text and parsed at binding
    (versions.as_path_integers)."""

    def __init__(self, app: Any, spec: Contract) -> None:
        self.app = app
        self.spec = spec

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await send_json(send, 400, {"message": refusal})
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope) -> str | None:
        query_string = scope.get("query_string", b"")
        # Only "_", whitespace ("+" and %-escapes) or non-ASCII digits make an integer
        # Python's and not Go's: most requests have none of them.
        if query_string.isascii() and not any(c in query_string for c in b"_+%"):
            return None
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        operation = self.spec.match(method, scope["path"])
        if operation is None:
            return None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        for parameter in operation.parameters:
            # Path integers are bound as text and parsed as Go parses them at binding
            # (versions.as_path_integers); only query integers go through connexion's int().
            if parameter.get("in") != "query":
                continue
            if parameter.get("schema", {}).get("type") != "integer":
                continue
            name = str(parameter["name"])
            values = query.get(name, [])[:1]
            if any(_python_only_integer(value) for value in values):
                return operation.invalid.get(name, ("bad request data", None))[0]
        return None


def _python_only_integer(value: str) -> bool:
    """An integer to Python's int() (`1_0`, `１`, ` 5`) that Go's strconv refuses; any other
    value is left to connexion, which answers as before."""
    if not value or _GO_INTEGER.match(value):
        return False
    try:
        int(value)
    except ValueError:
        return False
    return True


class UserUidMiddleware:
    """Where the release takes user uids in paths, resolves a `user_id` that is no Go
    int64 as a uid to the user's id, after authentication and before the request is
    validated or authorized, as Grafana's resolver runs; none found is the contract's 404."""

    def __init__(self, app: Any, spec: Contract) -> None:
        self.app = app
        self.not_found = {
            op.operation_id: found
            for op in spec.operations
            if (found := versions.uid_resolution(spec, op)) is not None
        }

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        routed = scope.get("extensions", {}).get("connexion_routing", {})
        params = scope.get("path_params") or {}
        value = params.get(versions.USER_ID)
        not_found = self.not_found.get(routed.get("operation_id"))
        if not_found is not None and isinstance(value, str) and not versions.is_int64(value):
            store = scope[deps.SCOPE_KEY].store
            try:
                params[versions.USER_ID] = str(
                    await to_thread.run_sync(store.user_id_by_uid, value)
                )
            except UserNotFound:
                await send_json(send, not_found.status, {"message": not_found.message or ""})
                return
        await self.app(scope, receive, send)
