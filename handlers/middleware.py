"""ASGI middleware around the API: request-size limit and Prometheus metrics at /metrics."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

Scope = dict[str, Any]
MAX_BODY_BYTES = 1 << 20  # Grafana's bodies are small; 1 MiB is generous
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


def _route_label(path: str) -> str:
    """Collapse numeric ids so metrics are per route, not per user."""
    return _ID_SEGMENT.sub("/{id}", path)[:100]


async def _send_json(send: Any, status: int, body: dict[str, str]) -> None:
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


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413 before reading them into memory."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _send_json(send, 413, {"message": "request body too large"})
            return
        seen = 0

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await _send_json(send, 413, {"message": "request body too large"})


class BodyTooLarge(Exception):
    pass


class MetricsMiddleware:
    """Counts and times every request; serves the registry at GET /metrics."""

    def __init__(self, app: Any) -> None:
        self.app = app
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
            route = _route_label(scope["path"])
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(scope["method"], route).observe(time.perf_counter() - started)


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
