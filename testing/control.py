"""The fake's control endpoints under /__fake, for clients in any language (control.yaml)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from testing.faults import Fault
from testing.seeding import SeedError

if TYPE_CHECKING:
    from testing.fake import Fake

DOCUMENT = Path(__file__).resolve().parent / "control.yaml"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _clock(fake: Fake) -> dict[str, Any]:
    return {"now": fake.clock.now().isoformat() + "Z", "frozen": fake.clock.frozen}


def _moment(text: Any) -> datetime:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def control_app(fake: Fake) -> Starlette:
    async def reset(request: Request) -> Response:
        name = (await _body(request)).get("snapshot")
        try:
            await to_thread.run_sync(fake.reset, name)
        except KeyError as exc:
            return _error(404, str(exc.args[0]))
        return JSONResponse({"message": "reset", "snapshot": name})

    async def snapshot(request: Request) -> Response:
        name = request.path_params["name"]
        await to_thread.run_sync(fake.snapshot, name)
        return JSONResponse({"message": "snapshot taken", "snapshot": name}, status_code=201)

    async def seed(request: Request) -> Response:
        data = await _body(request)
        try:
            done = await to_thread.run_sync(fake.seed, data)
        except SeedError as exc:
            return JSONResponse({"message": str(exc), "problems": exc.problems}, status_code=400)
        return JSONResponse(done.as_dict(), status_code=201)

    async def journal(request: Request) -> Response:
        if request.method == "DELETE":
            fake.requests.clear()
            return Response(status_code=204)
        entries = fake.requests.filter(
            request.query_params.get("method", "*"), request.query_params.get("path", "*")
        )
        return JSONResponse([entry.as_dict() for entry in entries])

    async def clock(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(_clock(fake))
        body, action = await _body(request), request.path_params["action"]
        if action == "freeze":
            fake.clock.freeze(_moment(body["at"]) if body.get("at") else None)
        elif action == "advance":
            fake.clock.advance(float(body.get("seconds", 0)))
        elif action == "set":
            fake.clock.set(_moment(body["at"]))
        elif action == "resume":
            fake.clock.resume()
        else:
            return _error(404, f"no clock action {action!r}")
        return JSONResponse(_clock(fake))

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse([fault.as_dict() for fault in fake.faults.pending()])
        if request.method == "DELETE":
            fake.faults.clear()
            return Response(status_code=204)
        body = await _body(request)
        fields = {"method", "path", "kind", "times", "status", "message", "seconds"}
        unknown = set(body) - fields
        if unknown:
            return _error(400, f"unknown fields: {', '.join(sorted(unknown))}")
        body["method"] = str(body.get("method", "*")).upper()
        fault = fake.faults.add(Fault(**body))
        return JSONResponse(fault.as_dict(), status_code=201)

    async def document(request: Request) -> Response:
        return JSONResponse(yaml.safe_load(DOCUMENT.read_text(encoding="utf-8")))

    async def handle_errors(request: Request, exc: Exception) -> Response:
        return _error(400, f"{type(exc).__name__}: {exc}")

    routes = [
        Route("/__fake/reset", reset, methods=["POST"]),
        Route("/__fake/snapshots/{name}", snapshot, methods=["POST"]),
        Route("/__fake/seed", seed, methods=["POST"]),
        Route("/__fake/requests", journal, methods=["GET", "DELETE"]),
        Route("/__fake/clock", clock, methods=["GET"]),
        Route("/__fake/clock/{action}", clock, methods=["POST"]),
        Route("/__fake/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/__fake/openapi.json", document, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={
            ValueError: handle_errors,
            TypeError: handle_errors,
            KeyError: handle_errors,
        },
    )
