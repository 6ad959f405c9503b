"""The spec and the handler functions bind one-to-one, by convention."""

from __future__ import annotations

import importlib
import inspect

import contract
from handlers.app import handler_name

OPERATIONS = {op.operation_id: op.tag for op in contract.load().operations}


def handler_modules() -> set[str]:
    return {f"handlers.{tag}" for tag in OPERATIONS.values()}


def test_every_operation_in_the_spec_has_a_handler_function() -> None:
    missing = []
    for operation_id, tag in OPERATIONS.items():
        module, _, function = handler_name(operation_id, tag).rpartition(".")
        if not callable(getattr(importlib.import_module(module), function, None)):
            missing.append(f"{operation_id} -> {module}.{function}")
    assert missing == [], "unbound operations (run `make stubs`): " + ", ".join(missing)


def test_every_public_handler_function_is_an_operation_of_the_spec() -> None:
    bound = {handler_name(op, tag) for op, tag in OPERATIONS.items()}
    orphans = []
    for name in handler_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            is_local = inspect.isfunction(value) and value.__module__ == name
            if is_local and not attr.startswith("_") and f"{name}.{attr}" not in bound:
                orphans.append(f"{name}.{attr}")
    assert orphans == [], "handler functions not in openapi.yaml: " + ", ".join(orphans)
