"""How the server answers as one Grafana release.

openapi.yaml states every version difference once (`x-grafana-differences`): which
releases have it and what they answer. This module holds only the mechanisms that apply a
difference; the statuses, messages and releases are read from the contract. A handler asks
`answer(name)` for what the server's release answers in a difference's situation, or
`holds(name)` whether the release has it.
"""

from __future__ import annotations

import copy
import functools
import inspect
import re
from collections.abc import Callable
from typing import Any

import inflection

import contract
from contract import Answer, Contract, Operation
from handlers import deps
from handlers.errors import ApiError, BadRequest

# The path parameter Grafana's handlers parse themselves (and, where a difference that
# resolves uids holds, its resolver looks up as a uid): served as text, like every integer
# path parameter, and parsed at binding (as_path_integers), never by connexion.
USER_ID = "user_id"
_GO_INT64 = re.compile(r"^[+-]?[0-9]+$")
_INT64 = 2**63


def holds(name: str) -> bool:
    """Whether the release the server answers as has the named difference."""
    return deps.app_context().spec.differs(name) is not None


def answer(name: str) -> Answer:
    """What the server's release answers in the named difference's situation."""
    spec = deps.app_context().spec
    found = spec.answer(name)
    if found is None:
        raise LookupError(f"difference {name} states no answer for Grafana {spec.version}")
    return found


def error(name: str) -> ApiError:
    """The error the server's release answers with in the named difference's situation."""
    found = answer(name)
    failure = ApiError(found.message)
    failure.status_code = found.status
    return failure


def integer_path_parameters(operation: Operation) -> tuple[str, ...]:
    """The operation's path parameters the contract types as integers: Grafana's handlers
    parse them themselves (strconv.ParseInt), so the server binds them as text and parses
    them as Go does (as_path_integers), never through connexion's integer routing, which
    would answer a value that is no integer with a 404 (no route) instead of the 400."""
    return tuple(
        str(p["name"])
        for p in operation.parameters
        if p.get("in") == "path" and p.get("schema", {}).get("type") == "integer"
    )


def served_document(rules: Contract, document: dict[str, Any]) -> dict[str, Any]:
    """The document as the release `rules` describes serves it: operations it does not
    serve are left out (they answer 404 like unknown routes), fields it lacks are not
    required, and integer path parameters are text, which the binding parses as Grafana's
    handlers do (after UserUidMiddleware resolved a uid, where the release takes uids)."""
    served = copy.deepcopy(document)
    schemas = served["components"]["schemas"]
    for name in sorted(rules.active):
        for schema, fields in rules.differences[name].relaxes.required.items():
            required = schemas[schema].get("required", [])
            schemas[schema]["required"] = [f for f in required if f not in fields]
    as_text: set[str] = set()
    for operation in rules.operations:
        item = served["paths"][operation.path]
        if not operation.served:
            del item[operation.method.lower()]
        elif names := integer_path_parameters(operation):
            as_text.add(operation.path)
            op = item[operation.method.lower()]
            parameters = [*item.get("parameters", []), *op.get("parameters", [])]
            op["parameters"] = [
                {**p, "schema": {"type": "string"}} if p.get("name") in names else p
                for p in (contract.resolve_ref(served, p) for p in parameters)
            ]
    for path, item in list(served["paths"].items()):
        if not set(item) & set(contract.HTTP_METHODS):
            del served["paths"][path]  # nothing served there any more
        elif path in as_text:
            item.pop("parameters", None)  # each operation carries its own copy now
    return served


def uid_resolution(rules: Contract, operation: Operation) -> Answer | None:
    """Where the release looks a `user_id` that is no integer up as a uid on this operation
    (a difference with `resolvesUids` holds there): the answer when no user has it."""
    for name in sorted(operation.differences):
        difference = rules.differs(name)
        if difference is not None and difference.resolves_uids:
            return difference.answer or Answer(404)
    return None


def is_int64(value: str) -> bool:
    """Whether Go's strconv.ParseInt(value, 10, 64) takes the text."""
    return bool(_GO_INT64.match(value)) and -_INT64 <= int(value) < _INT64


def as_path_integers(function: Callable[..., Any], operation: Operation) -> Callable[..., Any]:
    """The handler, given its integer path parameters as integers: each path's text is a Go
    int64 (`user_id` may have been made one by UserUidMiddleware where the release takes
    uids), or else the parameter's 400 from the contract, as Grafana's handlers answer."""
    wanted = {
        inflection.underscore(name): operation.invalid.get(name, ("bad request data", None))[0]
        for name in integer_path_parameters(operation)
    }

    def convert(kwargs: dict[str, Any]) -> None:
        for name, message in wanted.items():
            value = str(kwargs[name])
            if not is_int64(value):
                raise BadRequest(message)
            kwargs[name] = int(value)

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def converted_async(*args: Any, **kwargs: Any) -> Any:
            convert(kwargs)
            return await function(*args, **kwargs)

        return converted_async

    @functools.wraps(function)
    def converted(*args: Any, **kwargs: Any) -> Any:
        convert(kwargs)
        return function(*args, **kwargs)

    return converted


def omitting_fields(
    function: Callable[..., Any], rules: Contract, op: Operation
) -> Callable[..., Any]:
    """The handler, leaving out the response fields the release does not have (the
    `required` fields its differences relax on this operation's body schema)."""
    schema = (rules.body_schema(op) or "").strip("[]")
    fields = {
        field
        for name in op.differences
        if rules.differs(name) is not None
        for field in rules.differences[name].relaxes.required.get(schema, ())
    }
    if not fields:
        return function

    def strip(result: Any) -> Any:
        body, rest = (result[0], result[1:]) if isinstance(result, tuple) else (result, None)
        items = body if isinstance(body, list) else [body]
        for item in items:
            if isinstance(item, dict):
                for field in fields:
                    item.pop(field, None)
        return (body, *rest) if rest is not None else body

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def stripped_async(*args: Any, **kwargs: Any) -> Any:
            return strip(await function(*args, **kwargs))

        return stripped_async

    @functools.wraps(function)
    def stripped(*args: Any, **kwargs: Any) -> Any:
        return strip(function(*args, **kwargs))

    return stripped
