"""Supporting operation tagged `health`: is the server up, is its database reachable."""

from __future__ import annotations

from typing import Any

from handlers import __version__, deps

JSON = dict[str, Any]


def get_health() -> tuple[JSON, int]:
    ctx = deps.app_context()
    ok = ctx.store.ping()
    body = {
        "commit": __version__,
        "database": "ok" if ok else "failing",
        "version": ctx.settings.version or ctx.spec.versions[ctx.spec.version].health,
    }
    return body, 200 if ok else 503
