"""The ceiling: a bare Starlette app answering GET /api/user with the very bytes our server
sends (read from BENCH_CEILING_BODY at start), no auth, no database, no validation.

    BENCH_CEILING_BODY='{"id": 1, ...}' python -m uvicorn bench.ceiling:app --port 3999
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = os.environ.get("BENCH_CEILING_BODY", '{"id": 1, "login": "admin"}\n').encode()


async def signed_in_user(request: Request) -> Response:
    return Response(BODY, media_type="application/json")


async def health(request: Request) -> Response:
    return Response(b'{"database": "ok"}', media_type="application/json")


app = Starlette(routes=[Route("/api/user", signed_in_user), Route("/api/health", health)])
