"""Per-request work connexion repeats that can be done once: applied by create_app.

connexion 3.3 calls `inspect_function_arguments` (i.e. `inspect.signature`) on every
request: twice in the security layer (does the security function take `request`,
`required_scopes`?) and once in the parameter decorator (which arguments does the
handler take?). The answers never change for a given function, so they are cached here
(measured: about 7% of a GET /api/user's CPU). Each caller gets its own copy of the list,
as before. Where connexion's internals differ (another version), nothing is patched.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

PATCHED_MODULES = ("connexion.security", "connexion.decorators.parameter")


def _cached(
    original: Callable[[Callable[..., Any]], tuple[list[str], bool]],
) -> Callable[[Callable[..., Any]], tuple[list[str], bool]]:
    remembered = functools.lru_cache(maxsize=4096)(original)

    def inspect_function_arguments(function: Callable[..., Any]) -> tuple[list[str], bool]:
        try:
            arguments, has_kwargs = remembered(function)
        except TypeError:  # an unhashable callable: ask connexion itself
            return original(function)
        return list(arguments), has_kwargs

    inspect_function_arguments.__wrapped__ = original  # type: ignore[attr-defined]
    return inspect_function_arguments


def apply() -> None:
    """Idempotent: patch each connexion module's reference once."""
    for name in PATCHED_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        current = getattr(module, "inspect_function_arguments", None)
        if current is None or hasattr(current, "__wrapped__"):
            continue
        module.inspect_function_arguments = _cached(current)  # type: ignore[attr-defined]
