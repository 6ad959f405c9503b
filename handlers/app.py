"""create_app(settings, store=None): binds openapi.yaml to the handler functions."""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import inflection
from connexion import AsyncApp
from connexion.datastructures import MediaTypeDict
from connexion.middleware import MiddlewarePosition
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from connexion.validators import VALIDATOR_MAP

import contract
import library_patches
from contract import Contract, Operation
from handlers import access, deps, errors, spec_check, versions
from handlers.deps import AppContext, ContextMiddleware
from handlers.inline import ensure_thread
from handlers.middleware import (
    BodyLimitMiddleware,
    FirstQueryValueMiddleware,
    GoIntegerMiddleware,
    LenientQueryMiddleware,
    MediaTypeMiddleware,
    MetricsMiddleware,
    SpecMiddleware,
    SubPathMiddleware,
    TrailingSlashMiddleware,
    UnreadQueryMiddleware,
    UserUidMiddleware,
)
from handlers.settings import Settings
from handlers.store import Store, open_store

# "handlers" here, "grafana_userapi.handlers" when installed (build_support/hatch_hook.py).
PACKAGE = __name__.rpartition(".")[0]
SECURITY_FUNCTIONS = {
    "basicAuth": ("x-basicInfoFunc", f"{PACKAGE}.auth.basic_auth"),
    "bearerAuth": ("x-bearerInfoFunc", f"{PACKAGE}.auth.bearer_auth"),
    "cookieAuth": ("x-apikeyInfoFunc", f"{PACKAGE}.auth.cookie_auth"),
}


def load_spec(path: Path = contract.SPEC_PATH) -> dict[str, Any]:
    """The contract plus the Python binding it must not carry itself."""
    spec = copy.deepcopy(contract.document(path))
    for name, scheme in spec["components"]["securitySchemes"].items():
        key, function = SECURITY_FUNCTIONS[name]
        scheme[key] = function
    return spec


def handler_name(operation_id: str, tag: str) -> str:
    """Convention: tag `users` + `getUserByID` -> handlers.users.get_user_by_id."""
    return f"{PACKAGE}.{tag}.{inflection.underscore(operation_id)}"


def reads_on_loop(function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a plain GET handler so that it runs on the event loop and moves to a worker
    thread only if it reaches a write (handlers/inline.py); connexion still sees the
    handler's own signature (functools.wraps) for its parameters. On PostgreSQL the handler
    first runs without a connection (some answer from what authentication read)."""

    @functools.wraps(function)
    async def read_handler(*args: Any, **kwargs: Any) -> Any:
        return await deps.app_context().read_first(functools.partial(function, *args, **kwargs))

    return read_handler


def bind(operation: Operation, rules: Contract) -> Callable[..., Any]:
    """The function serving an operation as the release `rules` describes answers it: its
    handler (without the response fields the release lacks, with its integer path
    parameters parsed as Grafana parses them), behind the operation's access rule, on the
    event loop first when it is a read."""
    module, _, name = handler_name(operation.operation_id, operation.tag).rpartition(".")
    found: Callable[..., Any] = getattr(importlib.import_module(module), name)
    function = versions.omitting_fields(found, rules, operation)
    if versions.integer_path_parameters(operation):
        function = versions.as_path_integers(function, operation)
    function = access.guarded(function, operation)
    if operation.is_read and not inspect.iscoroutinefunction(found):
        return reads_on_loop(function)
    return function


def resolve(spec: Contract) -> Callable[[str], Callable[..., Any]]:
    def function_for(operation_id: str) -> Callable[..., Any]:
        return bind(spec[operation_id], spec)

    return function_for


def open_database(settings: Settings) -> Store:
    """The database `settings` name, opened and migrated (its first Grafana Admin created
    on first start)."""
    return open_store(
        settings.database_url,
        admin_login=settings.admin_user,
        admin_password=settings.admin_password,
        admin_email=settings.admin_email,
        sqlite_synchronous=settings.sqlite_synchronous,
        pooling=settings.pooling(),
    )


def create_app(
    settings: Settings, store: Store | None = None, *, spec_path: Path = contract.SPEC_PATH
) -> AsyncApp:
    """Build the ASGI app; pass `store` to share one database between apps (tests do), and
    `spec_path` to serve another contract than the shipped one."""
    library_patches.cache_connexion_argument_inspection()
    if store is None:
        store = open_database(settings)
    store.db.before_write = ensure_thread  # never wait for the write lock on the event loop
    rules = contract.load(spec_path, version=settings.grafana_version)
    app = AsyncApp(__name__)
    # A MediaTypeDict, not a dict: connexion matches "application/json" against the
    # "*/*json" range only through it; with a plain dict every body went unvalidated.
    validators = {**VALIDATOR_MAP, "body": MediaTypeDict({"*/*json": errors.GrafanaBodyValidator})}
    # The shipped openapi.yaml was validated by the test suite: not again at every start.
    with spec_check.checked_already(contract.spec_text(spec_path)):
        app.add_api(
            versions.served_document(rules, load_spec(spec_path)),
            resolver=Resolver(function_resolver=resolve(rules)),
            pythonic_params=True,
            validate_responses=settings.validate_responses,
            validator_map=validators,
            # Interactive docs at /docs; the spec is served as written, without the binding.
            swagger_ui_options=SwaggerUIOptions(
                swagger_ui_path="/docs",
                spec_path="/openapi.json",
                serve_spec=False,
                swagger_ui_config={
                    "persistAuthorization": True,
                    "tryItOutEnabled": False,
                    # Shows each operation's x-grafana-access and tolerances.
                    "showExtensions": True,
                },
            ),
        )
    errors.register(app)
    if settings.sub_path:  # first: every middleware after it sees the path without it
        app.add_middleware(
            SubPathMiddleware,
            position=MiddlewarePosition.BEFORE_EXCEPTION,
            prefix=settings.sub_path,
        )
    app.add_middleware(
        ContextMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        ctx=AppContext(store=store, settings=settings, spec=rules),
    )
    app.add_middleware(
        BodyLimitMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        timeout=settings.read_timeout,
    )
    app.add_middleware(
        MetricsMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        spec=rules,
    )
    # Middlewares added earlier see a request first: the first of repeated query values
    # is kept, then parameters nobody reads are dropped (from a query with many), then
    # lenient integers that are none are dropped, then the rest is read as Go reads integers.
    app.add_middleware(FirstQueryValueMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(
        UnreadQueryMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION, spec=rules
    )
    app.add_middleware(
        LenientQueryMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION, spec=rules
    )
    app.add_middleware(
        GoIntegerMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION, spec=rules
    )
    app.add_middleware(MediaTypeMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(UserUidMiddleware, position=MiddlewarePosition.BEFORE_VALIDATION, spec=rules)
    app.add_middleware(TrailingSlashMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(
        SpecMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        spec=contract.document(spec_path),
    )
    return app


def create_test_app() -> AsyncApp:
    """A fresh in-memory server with response validation on: the conformance default (as
    the Grafana release USERAPI_GRAFANA_VERSION names, the newest when unset)."""
    version = Settings.from_env().grafana_version
    return create_app(
        Settings(database_url="sqlite://", validate_responses=True, grafana_version=version)
    )


def create_app_from_env() -> AsyncApp:
    """Factory for multi-worker uvicorn: every worker reads the same GF_* environment."""
    return create_app(Settings.from_env())
