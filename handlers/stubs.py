"""`python -m handlers.stubs [--write]`: a typed stub for every operation without a handler.

Adding an endpoint = edit openapi.yaml, run this, fill in the body. Without --write the
stubs are printed; with it they are appended to handlers/<tag>.py (created if missing).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import inflection

import contract
from contract import Contract, Operation
from handlers.app import handler_name

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


def _param_type(param: Mapping[str, Any]) -> str:
    schema = param.get("schema", {})
    return PY_TYPES.get(schema.get("type", "string"), "Any")


def stub(operation: Operation) -> str:
    """The source of one stub function, typed from the operation's parameters (those of
    its path included)."""
    params = operation.parameters
    required = [p for p in params if p.get("required")]
    optional = [p for p in params if not p.get("required")]
    args = [f"{inflection.underscore(p['name'])}: {_param_type(p)}" for p in required]
    if "requestBody" in operation.raw:
        args.append("body: dict[str, Any]")
    args += [
        f"{inflection.underscore(p['name'])}: {_param_type(p)} | None = None" for p in optional
    ]
    name = handler_name(operation.operation_id, operation.tag).rpartition(".")[2]
    return (
        f"\n\ndef {name}({', '.join(args)}) -> dict[str, Any]:\n"
        f'    """{operation.label}: not implemented yet."""\n'
        f'    raise ApiError("Not implemented: {operation.operation_id}")\n'
    )


def missing(spec: Contract) -> list[Operation]:
    """Every operation with no handler function."""
    found = []
    for operation in spec.operations:
        module, _, function = handler_name(operation.operation_id, operation.tag).rpartition(".")
        try:
            bound = hasattr(importlib.import_module(module), function)
        except ModuleNotFoundError:
            bound = False
        if not bound:
            found.append(operation)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="append to handlers/<tag>.py")
    args = parser.parse_args(argv)
    todo = missing(contract.load())
    if not todo:
        print("every operation has a handler", file=sys.stderr)
        return 0
    for operation in todo:
        tag, source = operation.tag, stub(operation)
        if args.write:
            target = Path(__file__).parent / f"{tag}.py"
            if not target.exists():
                target.write_text(HEADER.format(tag=tag))
            with target.open("a") as handle:
                handle.write(source)
            print(f"wrote {operation.operation_id} -> {target.name}", file=sys.stderr)
        else:
            print(f"# handlers/{tag}.py{source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
