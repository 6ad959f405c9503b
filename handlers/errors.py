"""The API's one error vocabulary: every error leaves the server as JSON with a "message".

    ApiError                      raised by handlers and security functions
    ├── BadRequest      400       "bad request data" unless said otherwise
    ├── Unauthorized    401       "Unauthorized"
    ├── Forbidden       403       "Permission denied"
    ├── AccessDenied    403       Grafana's RBAC denial body (accessErrorId, title)
    ├── NotModified     304       no body (service accounts on user-only endpoints)
    ├── NotFound        404       "Not found"
    ├── Conflict        409
    └── PreconditionFailed 412

connexion's own problems (validation, security, routing) are rendered in the same shape,
with Grafana's texts: a body that fails the schema is "bad request data" (Grafana's binder
says no more), a wrong content type is 400 as in Grafana, an unknown route or method is
404 "Not found" (Grafana's router has no 405).
"""

from __future__ import annotations

import json
import logging
import secrets
from http import HTTPStatus
from typing import Any

from connexion.exceptions import BadRequestProblem, ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.validators import JSONRequestBodyValidator
from sqlalchemy.exc import DataError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope

from handlers import pages
from handlers.deps import app_context
from handlers.store.db import pooler_hint

log = logging.getLogger("handlers")


class ApiError(Exception):
    status_code: int = HTTPStatus.INTERNAL_SERVER_ERROR
    default_message = "Internal Server Error"

    def __init__(
        self, message: str | None = None, *, message_id: str | None = None, **extra: Any
    ) -> None:
        self.message = message or self.default_message
        self.message_id = message_id
        self.extra = extra
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, **self.extra}
        if self.message_id is not None:  # Grafana's errutil errors carry these three keys
            body.update(messageId=self.message_id, statusCode=self.status_code, traceID="")
        return body


class BadRequest(ApiError):
    status_code, default_message = HTTPStatus.BAD_REQUEST, "bad request data"


class Unauthorized(ApiError):
    status_code, default_message = HTTPStatus.UNAUTHORIZED, "Unauthorized"


class Forbidden(ApiError):
    status_code, default_message = HTTPStatus.FORBIDDEN, "Permission denied"


class AccessDenied(Forbidden):
    """Grafana's RBAC refusal: its message names the permission the caller lacks."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            accessErrorId=f"ACE{secrets.randbelow(10**10):010d}",
            title="Access denied",
        )


class NotModified(ApiError):
    """Grafana's answer to a service account on user-only endpoints: 304, no body."""

    status_code, default_message = HTTPStatus.NOT_MODIFIED, ""


class NotFound(ApiError):
    status_code, default_message = HTTPStatus.NOT_FOUND, "Not found"


class Conflict(ApiError):
    status_code, default_message = HTTPStatus.CONFLICT, "Conflict"


class PreconditionFailed(ApiError):
    status_code, default_message = HTTPStatus.PRECONDITION_FAILED, "Precondition failed"


class BodyRejected(BadRequestProblem):  # type: ignore[misc]
    """A request body that is not JSON or does not fit its schema."""

    def __init__(self, reason: str, message: str = "bad request data") -> None:
        super().__init__(detail=message)
        self.reason = reason


class GrafanaBodyValidator(JSONRequestBodyValidator):  # type: ignore[misc]
    """connexion's JSON body validator, binding and failing the way Grafana's binder does:
    top-level keys match the schema's property names case-insensitively, as Go's
    encoding/json matches struct fields (clients send `OrgId` for `orgId`)."""

    MUTABLE_VALIDATION = True  # hand the handler the body with its keys normalised

    async def _parse(self, stream: Any, scope: Scope) -> Any:
        try:
            body = await super()._parse(stream, scope=scope)
            # Lone UTF-16 surrogates ("\\ud800") parse, but no database can store them.
            json.dumps(body, ensure_ascii=False).encode()
        except (ValueError, LookupError, RecursionError) as error:
            # Not UTF-8 or an unknown charset, integers beyond Python's 4300 digits,
            # nesting deeper than the parser recurses, or lone surrogates.
            raise BodyRejected(f"unusable body: {type(error).__name__}") from None
        properties = self._schema.get("properties") if isinstance(self._schema, dict) else None
        if isinstance(body, dict) and properties:
            names = {name.lower(): name for name in properties}
            body = {names.get(key.lower(), key): value for key, value in body.items()}
        return body

    def _validate(self, body: Any) -> None:
        """connexion's check, but its reason (which is logged) names the failed rule and
        the field, never the value: the value may be a password sent in the wrong shape."""
        if body is None and not self._nullable:
            raise BodyRejected("empty body")
        error = next(iter(self._validator.iter_errors(body)), None)
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path)
            raise BodyRejected(f"{error.validator} rule failed at /{where}", _invalid(self, error))

    async def wrap_receive(self, receive: Receive, *, scope: Scope) -> tuple[Receive, Scope]:
        # connexion guesses JSON for a body without a content type; Grafana's binder does not.
        media_type = Headers(scope=scope).get("content-type", "").split(";")[0].strip()
        if media_type.lower() != "application/json":
            raise BodyRejected(f"content type {media_type!r} is not application/json")
        try:
            wrapped: tuple[Receive, Scope] = await super().wrap_receive(receive, scope=scope)
            return wrapped
        except BodyRejected:
            raise
        except BadRequestProblem as problem:
            raise BodyRejected(str(problem.detail)) from None


def _invalid(validator: GrafanaBodyValidator, error: Any) -> str:
    """Grafana's words for a value its binder takes but its handler refuses: a top-level
    field's `x-grafana-invalid` in the contract, where the value is outside its `enum`
    (a role Grafana does not know); "bad request data" for anything its binder refuses."""
    path = list(error.absolute_path)
    properties = (
        validator._schema.get("properties") if isinstance(validator._schema, dict) else None
    )
    if error.validator != "enum" or len(path) != 1 or not isinstance(properties, dict):
        return "bad request data"
    field = properties.get(path[0])
    invalid = field.get("x-grafana-invalid") if isinstance(field, dict) else None
    return str(invalid["message"]) if isinstance(invalid, dict) else "bad request data"


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> ConnexionResponse:
    return ConnexionResponse(
        status_code=status,
        body=json.dumps(body),
        content_type="application/json",
        headers=headers or {},
    )


def _api_error(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, ApiError)
    if exc.status_code == HTTPStatus.NOT_MODIFIED:  # HTTP forbids a body on 304
        return ConnexionResponse(status_code=HTTPStatus.NOT_MODIFIED, body=b"")
    return json_response(exc.status_code, exc.body())


def _bad_parameter(request: ConnexionRequest, detail: str) -> ApiError:
    """A query or path parameter that fails the schema, in Grafana's words: the contract
    states them per parameter (`x-grafana-invalid`); connexion's own text quotes the
    schema, which is not for clients."""
    log.info("rejected parameter on %s: %s", request.url.path, detail)
    operation = app_context(request).spec.match(request.method, request.url.path)
    if operation is None:
        return BadRequest()
    values: dict[str, str | None] = dict(operation.path_values(request.url.path))
    for name in operation.invalid:
        values.setdefault(name, request.query_params.get(name))
    for name, (message, message_id) in operation.invalid.items():
        value = values.get(name)
        # connexion names the offending value, not the parameter.
        if value is not None and detail.startswith((f"{value} is ", f"{value!r} ")):
            return BadRequest(message, message_id=message_id)
    return BadRequest()


def _problem(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if isinstance(exc, BodyRejected):
        log.info("rejected body on %s: %s", request.url.path, exc.reason)
        if request.url.path == "/login":  # the login form has its own words for this
            login = BadRequest("bad login data", message_id="form-auth.invalid")
            return json_response(login.status_code, login.body())
    elif type(exc) is BadRequestProblem:  # connexion's parameter validation
        error = _bad_parameter(request, str(exc.detail))
        return json_response(error.status_code, error.body())
    if status == HTTPStatus.UNAUTHORIZED:
        text = "Unauthorized"  # connexion's "No authorization token provided" and friends
    elif status in (HTTPStatus.NOT_FOUND, HTTPStatus.METHOD_NOT_ALLOWED):
        if not pages.is_api(request.url.path):
            return pages.not_found(request.url.path)
        status, text = HTTPStatus.NOT_FOUND, "Not found"
    elif status == HTTPStatus.UNSUPPORTED_MEDIA_TYPE:
        status, text = HTTPStatus.BAD_REQUEST, "bad request data"
    elif isinstance(exc, ProblemException):
        text = str(exc.detail or exc.title or HTTPStatus(status).phrase)
    else:
        text = str(exc.detail or HTTPStatus(status).phrase)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        log.error("%s %s failed: %s", request.method, request.url.path, text)
        text = "Internal Server Error"
    return json_response(status, {"message": text})


def _unstorable(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """A value from the request that the database cannot hold: PostgreSQL refuses NUL
    characters, strings longer than their column and out-of-range numbers (SQLite takes
    them). The client's fault, so 400, not 500. SQLAlchemy's DataError, also where the
    store reads through the driver's cursor (store/fast.py wraps the driver's error)."""
    log.info("database refused a value on %s: %s", request.url.path, getattr(exc, "orig", exc))
    return json_response(HTTPStatus.BAD_REQUEST, BadRequest().body())


def _unexpected(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    hint = pooler_hint(exc)
    if hint is not None:
        log.error("%s", hint)
    return json_response(HTTPStatus.INTERNAL_SERVER_ERROR, {"message": "Internal Server Error"})


def register(app: Any) -> None:
    """Install the handlers that give every error Grafana's JSON shape."""
    app.add_error_handler(ApiError, _api_error)
    app.add_error_handler(ProblemException, _problem)
    app.add_error_handler(HTTPException, _problem)
    app.add_error_handler(DataError, _unstorable)
    app.add_error_handler(Exception, _unexpected)
