"""Every change this project makes to a library's internals, in one place.

Each patch below relies on an internal (an underscore name, or a module-level function a
library calls by reference) of one exact library version, named in VERIFIED and pinned to
that version in pyproject.toml. Nothing here degrades silently: a patch whose internal is
gone raises PatchedInternalChanged, and tests/test_library_patches.py checks every internal
in INTERNALS and the installed versions, so an upgrade fails a test until the patch is
checked again (or removed, when the library gained a public way).

The server applies the connexion patches; the conformance suite the pytest one. (The
suite's work-around for urllib3-future is gone: the client libraries that bring it are
tested in an environment of their own.) This
module imports each library only inside the patch that needs it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import threading
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any

# The exact versions the patches were verified against (pinned in pyproject.toml); the
# pytest one works around how schemathesis names its items.
VERIFIED = {"connexion": "3.3.0", "pytest": "9.2.0", "schemathesis": "4.32.5"}

# (module, dotted attribute) of every internal a patch or a subclass here relies on.
INTERNALS = (
    # cache_connexion_argument_inspection: the function connexion calls by module reference.
    ("connexion.security", "inspect_function_arguments"),
    ("connexion.decorators.parameter", "inspect_function_arguments"),
    # skip_connexion_spec_validation: the class-level validation hook.
    ("connexion.spec", "Specification._validate_spec"),
    # handlers.errors.GrafanaBodyValidator overrides and reads these.
    ("connexion.validators.json", "JSONRequestBodyValidator._parse"),
    ("connexion.validators.json", "JSONRequestBodyValidator._validate"),
    ("connexion.validators.json", "JSONRequestBodyValidator._validator"),
    # give_items_operation_ids: the node id of a pytest item.
    ("_pytest.nodeid", "NodeId.with_params"),
)
# (module, class, attribute) of instance attributes relied on, set in the class's __init__.
INSTANCE_ATTRIBUTES = (
    ("connexion.validators.abstract", "AbstractRequestBodyValidator", "_schema"),
    ("connexion.validators.abstract", "AbstractRequestBodyValidator", "_nullable"),
    ("_pytest.nodes", "Node", "_id"),
)


class PatchedInternalChanged(RuntimeError):
    """A library internal that a patch relies on is not what it was verified against."""


def internal(module_name: str, attribute: str) -> Any:
    """The internal `module_name.attribute` (dotted), or PatchedInternalChanged."""
    try:
        found: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise PatchedInternalChanged(
            f"{module_name}.{attribute} is gone ({exc}); the patches in library_patches were "
            f"verified against {VERIFIED}"
        ) from None
    return found


def installed_versions() -> dict[str, str | None]:
    """The installed version of each library in VERIFIED (None: not installed)."""
    found: dict[str, str | None] = {}
    for name in VERIFIED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


# ------------------------------------------------------------------------------ connexion


def _remembering(
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


def cache_connexion_argument_inspection() -> None:
    """connexion 3.3 calls `inspect_function_arguments` (`inspect.signature`) on every
    request: twice in the security layer and once in the parameter decorator. The answer
    never changes for a function, so it is remembered (about 7% of a GET /api/user's CPU).
    Each caller gets its own copy of the list, as before. Idempotent."""
    for module_name in ("connexion.security", "connexion.decorators.parameter"):
        current = internal(module_name, "inspect_function_arguments")
        if not hasattr(current, "__wrapped__"):
            module = importlib.import_module(module_name)
            setattr(module, "inspect_function_arguments", _remembering(current))  # noqa: B010


_validation = threading.Lock()


@contextlib.contextmanager
def skip_connexion_spec_validation() -> Iterator[None]:
    """Within the block, connexion does not validate specs against the OpenAPI schema (a
    fifth of the server's start-up). Only for a document already validated elsewhere."""
    original = internal("connexion.spec", "Specification.__dict__")["_validate_spec"]
    from connexion.spec import Specification

    with _validation:
        Specification._validate_spec = classmethod(lambda cls, spec: None)
        try:
            yield
        finally:
            Specification._validate_spec = original


# --------------------------------------------------------------------------------- pytest


def give_items_operation_ids(items: list[Any], label_to_id: dict[str, str]) -> None:
    """Give schemathesis's per-operation items their own node ids: `test[operationId]`.

    With pytest 9.1 and later every item schemathesis 4.32 generates for one test function
    shares the function's node id, so reports and JUnit XML could not tell operations
    apart."""
    internal("_pytest.nodeid", "NodeId.with_params")
    for item in items:
        label = getattr(item, "operation_label", None)
        operation_id = label_to_id.get(label) if isinstance(label, str) else None
        node_id = item._id
        if operation_id is None or node_id.params is not None:
            continue
        item._id = node_id.with_params(operation_id)
        item.extra_keyword_matches.add(operation_id)
