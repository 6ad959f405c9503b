"""Named tolerances: legitimate differences between Grafana versions, chosen per run.

The contract defines each one once under its top-level `x-grafana-tolerances` (what it
relaxes, which Grafana majors need it) and names on each operation the ones that apply
there. A tolerance is never a silent skip: it relaxes exactly what the contract says, on
exactly the operations that name it, and the run report lists the ones that were applied.
`--grafana-version N` picks the set the contract gives for that Grafana major.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from contract import Contract


class UnknownTolerance(ValueError):
    pass


def resolve(names: Iterable[str], version: str | None, contract: Contract) -> frozenset[str]:
    """The tolerances of a run: the named ones plus the version profile's; unknown names fail."""
    chosen = set(names)
    if version:
        try:
            chosen |= contract.tolerances_for(version)
        except KeyError:
            known = ", ".join(contract.versions)
            raise UnknownTolerance(
                f"no tolerance profile for Grafana {version} (known: {known})"
            ) from None
    for name in chosen:
        if name not in contract.tolerances:
            known = ", ".join(sorted(contract.tolerances))
            raise UnknownTolerance(f"unknown tolerance {name!r} (the contract names: {known})")
    return frozenset(chosen)


def checks_off(contract: Contract, applied: frozenset[str]) -> dict[str, list[str]]:
    """schemathesis check -> the operations on which the applied tolerances switch it off."""
    found: dict[str, list[str]] = {}
    for operation in contract.operations:
        for relaxation in contract.relaxed(operation, applied):
            if relaxation.check:
                found.setdefault(relaxation.check, []).append(operation.operation_id)
    return found


def either_403_body(contract: Contract, operation_id: str, applied: frozenset[str]) -> bool:
    """Whether an applied tolerance lets this operation deny with either 403 body: the
    plain {"message"} or the role-based access-denied one."""
    return any(r.either_403_body for r in contract.relaxed(contract[operation_id], applied))


def accepted_formats(contract: Contract, applied: frozenset[str]) -> dict[str, set[str]]:
    """Field -> alternative value formats the applied tolerances accept (e.g. short ages)."""
    found: dict[str, set[str]] = {}
    for name in applied:
        for field, form in contract.tolerances[name].relaxes.formats.items():
            found.setdefault(field, set()).add(form)
    return found


def patch_spec(raw: dict[str, Any], contract: Contract, applied: frozenset[str]) -> dict[str, Any]:
    """The contract with the schema-level tolerances applied (a copy)."""
    patched = copy.deepcopy(raw)
    schemas = patched["components"]["schemas"]
    for name in applied:
        for schema, fields in contract.tolerances[name].relaxes.required.items():
            required = schemas[schema].get("required", [])
            schemas[schema]["required"] = [f for f in required if f not in fields]
    return patched
