"""Helpers for the contract tests: load openapi.yaml, resolve $refs, find every example."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = REPO_ROOT / "openapi.yaml"
ERRATA_YAML_PATH = REPO_ROOT / "docs" / "errata.yaml"
ERRATA_MD_PATH = REPO_ROOT / "docs" / "errata.md"
# CI checks the shared reference folder out beside the clone (../shared).
GRAFANA_SUBSET_PATH = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "reference"
    / "grafana-official-openapi-user-subset.json"
)

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

Json = dict[str, Any]


def load_spec(path: Path = SPEC_PATH) -> Json:
    spec: Json = yaml.safe_load(path.read_text(encoding="utf-8"))
    return spec


def iter_operations(spec: Json) -> Iterator[tuple[str, str, Json]]:
    """Yield (METHOD, path, operation) for every operation, in document order."""
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def follow(doc: Json, node: Any) -> Any:
    """Follow a chain of local `$ref`s (``#/a/b``) to the object they name."""
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise ValueError(f"unsupported or circular $ref {ref!r}")
        seen.add(ref)
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def inline_refs(doc: Json, node: Any, depth: int = 0) -> Any:
    """Return a copy of `node` with every local `$ref` replaced by its target."""
    if depth > 50:
        raise ValueError("schema nesting too deep (circular $ref?)")
    if isinstance(node, dict):
        if "$ref" in node:
            return inline_refs(doc, follow(doc, node), depth + 1)
        return {key: inline_refs(doc, value, depth + 1) for key, value in node.items()}
    if isinstance(node, list):
        return [inline_refs(doc, value, depth + 1) for value in node]
    return node


@dataclass(frozen=True)
class Example:
    """One example value found in the spec, with the schema it claims to match."""

    where: str
    schema: Any
    value: Any


def _pointer(parts: tuple[str, ...]) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


_SCHEMA_CHILDREN_MAPS = ("properties",)
_SCHEMA_CHILDREN_ONE = ("items", "additionalProperties", "not")
_SCHEMA_CHILDREN_LISTS = ("allOf", "anyOf", "oneOf")


def _walk_schema(schema: Any, where: tuple[str, ...]) -> Iterator[Example]:
    """Yield the `example` of a schema and of every schema nested in it."""
    if not isinstance(schema, dict) or "$ref" in schema:
        return  # a referenced schema is walked where it is defined
    if "example" in schema:
        yield Example(_pointer((*where, "example")), schema, schema["example"])
    for key in _SCHEMA_CHILDREN_MAPS:
        for name, child in schema.get(key, {}).items():
            yield from _walk_schema(child, (*where, key, name))
    for key in _SCHEMA_CHILDREN_ONE:
        if isinstance(schema.get(key), dict):
            yield from _walk_schema(schema[key], (*where, key))
    for key in _SCHEMA_CHILDREN_LISTS:
        for index, child in enumerate(schema.get(key, [])):
            yield from _walk_schema(child, (*where, key, str(index)))


def _walk(spec: Json, node: Any, where: tuple[str, ...]) -> Iterator[Example]:
    if isinstance(node, list):
        for index, child in enumerate(node):
            yield from _walk(spec, child, (*where, str(index)))
        return
    if not isinstance(node, dict):
        return
    # Media type, parameter and header objects: a `schema` beside `example(s)`.
    if "schema" in node and isinstance(node["schema"], dict):
        if "example" in node:
            yield Example(_pointer((*where, "example")), node["schema"], node["example"])
        for name, example in node.get("examples", {}).items():
            resolved = follow(spec, example)
            if "value" in resolved:
                yield Example(
                    _pointer((*where, "examples", name)), node["schema"], resolved["value"]
                )
        yield from _walk_schema(node["schema"], (*where, "schema"))
    for key, child in node.items():
        if key in {"schema", "examples", "example"} or key.startswith("x-"):
            continue
        if where == ("components",) and key == "schemas":
            for name, schema in child.items():
                yield from _walk_schema(schema, ("components", "schemas", name))
            continue
        yield from _walk(spec, child, (*where, key))


def iter_examples(spec: Json) -> Iterator[Example]:
    """Every example in the spec: media types, parameters, headers and schemas."""
    yield from _walk(spec, spec, ())


def example_errors(spec: Json, schema: Any, value: Any) -> list[str]:
    """Messages for each way `value` breaks `schema` (OpenAPI 3.0 rules, formats checked)."""
    validator = OAS30Validator(inline_refs(spec, schema), format_checker=oas30_format_checker)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(value)
    ]
