"""Compare openapi.yaml with Grafana's own generated (Swagger 2.0) spec, subset.

Each difference gets a stable key; docs/errata.yaml must explain every key.

Key forms (``<op>`` is our operationId, or Grafana's when we lack the operation):

* ``operation-only-in-grafana:<op>`` / ``operation-only-in-ours:<op>``
* ``operation-id:<op>`` - same method and path, different operationId
* ``status-only-in-grafana:<op>:<status>`` / ``status-only-in-ours:<op>:<status>``
* ``field-only-in-grafana:<op>:<status>:<field>`` / ``field-only-in-ours:...`` /
  ``field-type:<op>:<status>:<field>`` for success responses, where ``<field>`` is a
  path such as ``$.users[].id`` (``$`` is the whole body);
* the same three with ``errors`` in place of ``<op>:<status>`` for error responses
  (4xx/5xx), because both specs share one error body across operations.

Run ``python -m tests.spec_grafana_diff`` (from the repo root) to print the current differences.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.spec_support import (
    GRAFANA_SUBSET_PATH,
    HTTP_METHODS,
    Json,
    follow,
    iter_operations,
    load_spec,
)

Fields = dict[str, str]  # field path -> JSON type


def _route(method: str, path: str) -> str:
    return f"{method} {re.sub(r'{[^}]+}', '{}', path)}"


def _schema_type(schema: Json) -> str:
    if "type" in schema:
        return str(schema["type"])
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "any"


def schema_fields(doc: Json, schema: Any, at: str = "$", depth: int = 0) -> Fields:
    """Flatten a schema into {field path: type}, merging allOf/anyOf/oneOf branches."""
    fields: Fields = {}
    if depth > 20 or not isinstance(schema, dict):
        return fields
    schema = follow(doc, schema)
    branches = [*schema.get("allOf", []), *schema.get("anyOf", []), *schema.get("oneOf", [])]
    for branch in branches:
        for path, kind in schema_fields(doc, branch, at, depth + 1).items():
            fields.setdefault(path, kind)
    if branches and not ({"type", "properties", "items"} & set(schema)):
        return fields
    kind = _schema_type(schema)
    fields[at] = kind
    for name, child in schema.get("properties", {}).items():
        fields.update(schema_fields(doc, child, f"{at}.{name}", depth + 1))
    if kind == "array" and "items" in schema:
        fields.update(schema_fields(doc, schema["items"], f"{at}[]", depth + 1))
    return fields


def _grafana_operations(swagger: Json) -> dict[str, tuple[Json, dict[str, Fields]]]:
    base = swagger.get("basePath", "")
    operations: dict[str, tuple[Json, dict[str, Fields]]] = {}
    for path, item in swagger["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = item[method]
            responses: dict[str, Fields] = {}
            for status, response in operation.get("responses", {}).items():
                response = follow(swagger, response)
                schema = response.get("schema")
                responses[str(status)] = schema_fields(swagger, schema) if schema else {}
            operations[_route(method.upper(), base + path)] = (operation, responses)
    return operations


def _our_operations(spec: Json) -> dict[str, tuple[Json, dict[str, Fields]]]:
    operations: dict[str, tuple[Json, dict[str, Fields]]] = {}
    for method, path, operation in iter_operations(spec):
        responses: dict[str, Fields] = {}
        for status, response in operation.get("responses", {}).items():
            response = follow(spec, response)
            media = response.get("content", {}).get("application/json", {})
            schema = media.get("schema")
            responses[str(status)] = schema_fields(spec, schema) if schema else {}
        operations[_route(method, path)] = (operation, responses)
    return operations


def _compare_fields(scope: str, ours: Fields, grafana: Fields, out: dict[str, str]) -> None:
    for field in sorted(grafana.keys() - ours.keys()):
        out[f"field-only-in-grafana:{scope}:{field}"] = f"Grafana's spec has {field}"
    for field in sorted(ours.keys() - grafana.keys()):
        out[f"field-only-in-ours:{scope}:{field}"] = f"only our spec has {field}"
    for field in sorted(ours.keys() & grafana.keys()):
        if ours[field] != grafana[field] and "any" not in (ours[field], grafana[field]):
            out[f"field-type:{scope}:{field}"] = (
                f"{field} is {ours[field]} in ours, {grafana[field]} in Grafana's"
            )


def differences(spec: Json, swagger: Json) -> dict[str, str]:
    """Every difference between the two specs: {key: human-readable detail}."""
    ours, grafana = _our_operations(spec), _grafana_operations(swagger)
    out: dict[str, str] = {}
    for route in sorted(grafana.keys() - ours.keys()):
        out[f"operation-only-in-grafana:{grafana[route][0]['operationId']}"] = route
    for route in sorted(ours.keys() - grafana.keys()):
        out[f"operation-only-in-ours:{ours[route][0]['operationId']}"] = route
    for route in sorted(ours.keys() & grafana.keys()):
        (our_op, our_responses), (their_op, their_responses) = ours[route], grafana[route]
        op = our_op["operationId"]
        if their_op.get("operationId") != op:
            out[f"operation-id:{op}"] = f"{route}: Grafana calls it {their_op.get('operationId')}"
        for status in sorted(their_responses.keys() - our_responses.keys()):
            out[f"status-only-in-grafana:{op}:{status}"] = route
        for status in sorted(our_responses.keys() - their_responses.keys()):
            out[f"status-only-in-ours:{op}:{status}"] = route
        for status in sorted(our_responses.keys() & their_responses.keys()):
            scope = "errors" if status[0] in "45" else f"{op}:{status}"
            _compare_fields(scope, our_responses[status], their_responses[status], out)
    return out


def load_grafana_subset(path: Path = GRAFANA_SUBSET_PATH) -> Json:
    swagger: Json = json.loads(path.read_text(encoding="utf-8"))
    return swagger


if __name__ == "__main__":
    for key, detail in sorted(differences(load_spec(), load_grafana_subset()).items()):
        print(f"{key}\t{detail}")
