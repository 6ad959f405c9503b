"""The connexion floor: the smallest connexion app doing what our GET /api/user does
without our code. One operation, basic auth checked by a constant comparison (no database,
no hash), request validation on, a handler answering the very bytes our server sends (read
from BENCH_CEILING_BODY at start). What connexion itself costs per request: no server
routed by connexion can be cheaper.

    BENCH_CEILING_BODY='{"id": 1, ...}' python -m uvicorn bench.connexion_floor:app --port 3998
"""

from __future__ import annotations

import os
from typing import Any

from connexion import AsyncApp
from connexion.lifecycle import ConnexionResponse

BODY = os.environ.get("BENCH_CEILING_BODY", '{"id": 1, "login": "admin"}\n').encode()

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "connexion floor", "version": "1"},
    "components": {
        "securitySchemes": {
            "basicAuth": {
                "type": "http",
                "scheme": "basic",
                "x-basicInfoFunc": "bench.connexion_floor.check",
            }
        }
    },
    "security": [{"basicAuth": []}],
    "paths": {
        "/api/user": {
            "get": {
                "operationId": "bench.connexion_floor.signed_in_user",
                "responses": {
                    "200": {
                        "description": "the signed-in user",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/api/health": {
            "get": {
                "operationId": "bench.connexion_floor.health",
                "security": [],
                "responses": {"200": {"description": "up"}},
            }
        },
    },
}


async def check(username: str, password: str) -> dict[str, Any] | None:
    return {"sub": username} if (username, password) == ("admin", "admin") else None


async def signed_in_user() -> ConnexionResponse:
    return ConnexionResponse(
        status_code=200, content_type="application/json", body=BODY, is_streamed=False
    )


async def health() -> ConnexionResponse:
    return ConnexionResponse(
        status_code=200,
        content_type="application/json",
        body=b'{"database": "ok"}',
        is_streamed=False,
    )


app = AsyncApp(__name__)
app.add_api(SPEC)
