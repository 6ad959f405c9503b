"""`python -m handlers.stubs [--write]`: a typed stub for every operation without a handler.

Adding an endpoint = edit openapi.yaml, run this, fill in the body. Without --write the
stubs are printed; with it they are appended to handlers/<tag>.py (created if missing).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import inflection

from handlers.app import HTTP_METHODS, _read_spec, handler_name

PY_TYPES = {
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "string": "str",
    "array": "list[Any]",
    "object": "dict[str, Any]",
}
HEADER = (
    '"""Operations tagged `{tag}`."""\n\nfrom __future__ import annotations\n\n'
    "from typing import Any\n\nfrom handlers.errors import ApiError\n"
)


def _param_type(spec: dict[str, Any], param: dict[str, Any]) -> str:
    if "$ref" in param:
        name = param["$ref"].rsplit("/", 1)[-1]
        param = spec["components"]["parameters"][name]
    schema = param.get("schema", {})
    return PY_TYPES.get(schema.get("type", "string"), "Any")


def _resolve(spec: dict[str, Any], param: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in param:
        resolved: dict[str, Any] = spec["components"]["parameters"][
            param["$ref"].rsplit("/", 1)[-1]
        ]
        return resolved
    return param


def stub(spec: dict[str, Any], path: str, method: str, op: dict[str, Any]) -> str:
    """The source of one stub function, typed from the operation's parameters."""
    params = [_resolve(spec, p) for p in op.get("parameters", [])]
    required = [p for p in params if p.get("required")]
    optional = [p for p in params if not p.get("required")]
    args = [f"{inflection.underscore(p['name'])}: {_param_type(spec, p)}" for p in required]
    if "requestBody" in op:
        args.append("body: dict[str, Any]")
    args += [
        f"{inflection.underscore(p['name'])}: {_param_type(spec, p)} | None = None"
        for p in optional
    ]
    name = handler_name(op["operationId"], op["tags"][0]).rpartition(".")[2]
    return (
        f"\n\ndef {name}({', '.join(args)}) -> dict[str, Any]:\n"
        f'    """{method.upper()} {path}: not implemented yet."""\n'
        f'    raise ApiError("Not implemented: {op["operationId"]}")\n'
    )


def missing(spec: dict[str, Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(tag, path, method, operation) for every operation with no handler function."""
    found = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            module, _, function = handler_name(op["operationId"], op["tags"][0]).rpartition(".")
            try:
                bound = hasattr(importlib.import_module(module), function)
            except ModuleNotFoundError:
                bound = False
            if not bound:
                found.append((op["tags"][0], path, method, op))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="append to handlers/<tag>.py")
    args = parser.parse_args(argv)
    spec = _read_spec()
    todo = missing(spec)
    if not todo:
        print("every operation has a handler", file=sys.stderr)
        return 0
    for tag, path, method, op in todo:
        source = stub(spec, path, method, op)
        if args.write:
            target = Path(__file__).parent / f"{tag}.py"
            if not target.exists():
                target.write_text(HEADER.format(tag=tag))
            with target.open("a") as handle:
                handle.write(source)
            print(f"wrote {op['operationId']} -> {target.name}", file=sys.stderr)
        else:
            print(f"# handlers/{tag}.py{source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
