"""Tolerances: the Grafana version differences a run accepts, chosen per run.

The contract defines each difference once under its top-level `x-grafana-differences`
(which releases have it, what a run accepting it relaxes) and names on each operation the
ones that show there. Accepting one is never a silent skip: it relaxes exactly what the
contract says, on exactly the operations that name it, and the run report lists the ones
that were applied. `--grafana-version N` accepts the differences release N has.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from contract import HTTP_METHODS, Contract


class UnknownTolerance(ValueError):
    pass


def resolve(names: Iterable[str], version: str | None, contract: Contract) -> frozenset[str]:
    """The tolerances of a run: the named ones plus the version profile's; unknown names fail."""
    chosen = set(names)
    if version:
        try:
            chosen |= contract.tolerances_for(version)
        except ValueError as exc:
            raise UnknownTolerance(str(exc)) from None
    for name in chosen:
        if name not in contract.differences:
            known = ", ".join(sorted(contract.differences))
            raise UnknownTolerance(f"unknown difference {name!r} (the contract names: {known})")
    return frozenset(chosen)


def either_403_body(contract: Contract, operation_id: str, applied: frozenset[str]) -> bool:
    """Whether an applied tolerance lets this operation deny with either 403 body: the
    plain {"message"} or the role-based access-denied one."""
    return any(r.either_403_body for r in contract.relaxed(contract[operation_id], applied))


def patch_spec(raw: dict[str, Any], contract: Contract, applied: frozenset[str]) -> dict[str, Any]:
    """The contract as a run sends it (a copy): schema-level tolerances applied, lenient
    parameters taking any text, and without the operations the expected release does not
    serve (the version fingerprints check those answer 404)."""
    patched = copy.deepcopy(raw)
    # Grafana ignores a lenient parameter's value that is no integer: any text is valid
    # input there (the server must answer it), so negative cases do not mutate it.
    inline = (
        parameter
        for item in patched["paths"].values()
        for holder in (item, *(item[m] for m in HTTP_METHODS if m in item))
        for parameter in holder.get("parameters", [])
    )
    for parameter in (*patched["components"].get("parameters", {}).values(), *inline):
        if parameter.get("x-grafana-lenient"):
            parameter["schema"] = {"type": "string"}
    for operation in contract.operations:
        if not operation.served:
            del patched["paths"][operation.path][operation.method.lower()]
    schemas = patched["components"]["schemas"]
    for name in applied:
        for schema, fields in contract.differences[name].relaxes.required.items():
            required = schemas[schema].get("required", [])
            schemas[schema]["required"] = [f for f in required if f not in fields]
    return patched
