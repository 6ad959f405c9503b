"""create_app(settings, store=None): binds openapi.yaml to the handler functions."""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import inflection
import yaml
from connexion import AsyncApp
from connexion.datastructures import MediaTypeDict
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from connexion.validators import VALIDATOR_MAP

from handlers import deps, errors, spec_check, speedups
from handlers.deps import AppContext, ContextMiddleware
from handlers.inline import loop_first
from handlers.middleware import (
    BodyLimitMiddleware,
    MetricsMiddleware,
    SpecMiddleware,
    TrailingSlashMiddleware,
)
from handlers.settings import Settings
from handlers.store import Store, open_store

_HERE = Path(__file__).resolve().parent
# The repository's openapi.yaml; an installed wheel carries its copy inside the package.
SPEC_PATH = next(
    (p for p in (_HERE.parent / "openapi.yaml", _HERE / "openapi.yaml") if p.is_file()),
    _HERE.parent / "openapi.yaml",
)
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
SECURITY_FUNCTIONS = {
    "basicAuth": ("x-basicInfoFunc", "handlers.auth.basic_auth"),
    "bearerAuth": ("x-bearerInfoFunc", "handlers.auth.bearer_auth"),
    "cookieAuth": ("x-apikeyInfoFunc", "handlers.auth.cookie_auth"),
}


@lru_cache(maxsize=1)
def _spec_text() -> str:
    return SPEC_PATH.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _read_spec() -> dict[str, Any]:
    # libyaml's parser when present: the same document ten times faster (start-up time).
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec: dict[str, Any] = yaml.load(_spec_text(), Loader=loader)
    return spec


def load_spec() -> dict[str, Any]:
    """The contract plus the Python binding it must not carry itself."""
    spec = copy.deepcopy(_read_spec())
    for name, scheme in spec["components"]["securitySchemes"].items():
        key, function = SECURITY_FUNCTIONS[name]
        scheme[key] = function
    return spec


def operations(spec: dict[str, Any]) -> dict[str, str]:
    """operationId -> tag, for every operation in the spec."""
    return {
        op["operationId"]: op["tags"][0]
        for item in spec["paths"].values()
        for method, op in item.items()
        if method in HTTP_METHODS
    }


def handler_name(operation_id: str, tag: str) -> str:
    """Convention: tag `users` + `getUserByID` -> handlers.users.get_user_by_id."""
    return f"handlers.{tag}.{inflection.underscore(operation_id)}"


def read_operations(spec: dict[str, Any]) -> set[str]:
    """The operationIds of GET operations: reads, which may be answered on the event loop."""
    return {
        op["operationId"]
        for item in spec["paths"].values()
        for method, op in item.items()
        if method == "get"
    }


def reads_on_loop(function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a plain GET handler so that, on SQLite, it runs on the event loop and moves to
    a worker thread only if it reaches a write (handlers/inline.py); connexion still sees
    the handler's own signature (functools.wraps) for its parameters."""

    @functools.wraps(function)
    async def read_handler(*args: Any, **kwargs: Any) -> Any:
        call = functools.partial(function, *args, **kwargs)
        return await loop_first(call, on_loop=deps.app_context().reads_on_loop)

    return read_handler


def resolve(spec: dict[str, Any]) -> Callable[[str], Callable[..., Any]]:
    tags = operations(spec)
    reads = read_operations(spec)

    def function_for(operation_id: str) -> Callable[..., Any]:
        module, _, function = handler_name(operation_id, tags[operation_id]).rpartition(".")
        found: Callable[..., Any] = getattr(importlib.import_module(module), function)
        if operation_id in reads and not inspect.iscoroutinefunction(found):
            return reads_on_loop(found)
        return found

    return function_for


def create_app(settings: Settings, store: Store | None = None) -> AsyncApp:
    """Build the ASGI app; pass `store` to share one database between apps (tests do)."""
    speedups.apply()
    if store is None:
        store = open_store(
            settings.database_url,
            admin_login=settings.admin_user,
            admin_password=settings.admin_password,
            admin_email=settings.admin_email,
        )
    spec = load_spec()
    app = AsyncApp(__name__)
    # A MediaTypeDict, not a dict: connexion matches "application/json" against the
    # "*/*json" range only through it; with a plain dict every body went unvalidated.
    validators = {**VALIDATOR_MAP, "body": MediaTypeDict({"*/*json": errors.GrafanaBodyValidator})}
    # The shipped openapi.yaml was validated by the test suite: not again at every start.
    with spec_check.checked_already(_spec_text()):
        app.add_api(
            spec,
            resolver=Resolver(function_resolver=resolve(spec)),
            pythonic_params=True,
            validate_responses=settings.validate_responses,
            validator_map=validators,
            # Interactive docs at /docs; the spec is served as written, without the binding.
            swagger_ui_options=SwaggerUIOptions(
                swagger_ui_path="/docs",
                spec_path="/openapi.json",
                serve_spec=False,
                swagger_ui_config={"persistAuthorization": True, "tryItOutEnabled": False},
            ),
        )
    errors.register(app)
    app.add_middleware(
        ContextMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        ctx=AppContext(store=store, settings=settings),
    )
    app.add_middleware(BodyLimitMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(MetricsMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(TrailingSlashMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(
        SpecMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION, spec=_read_spec()
    )
    return app


def create_test_app() -> AsyncApp:
    """A fresh in-memory server with response validation on: the conformance default."""
    return create_app(Settings(database_url="sqlite://", validate_responses=True))


def create_app_from_env() -> AsyncApp:
    """Factory for multi-worker uvicorn: every worker reads the same GF_* environment."""
    return create_app(Settings.from_env())
