"""Named tolerances: legitimate differences between Grafana versions, chosen per run.

The contract names them per operation under `x-grafana-tolerances`. A tolerance is never a
silent skip: each one says exactly what it relaxes, and the run report lists the ones that
were applied. `--grafana-version N` picks the set a Grafana release is known to need.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from conformance.spec import Contract

# What each tolerance relaxes in this suite (the contract says why it exists).
EFFECTS: dict[str, str] = {
    "lenient-query-integers": (
        "perpage/page that are not integers may be answered 200 with defaults instead of 400: "
        "negative_data_rejection is off for searchUsers and searchUsersWithPaging"
    ),
    "lastseen-short-format": 'lastSeenAtAge may use the short form ("2m", "10y", "< 1m")',
    "no-uid-field": "uid (and a team's externalUID/isProvisioned) are no longer required keys",
    "rbac-403-shape": '403 bodies may be the plain {"message"} instead of the access-denied body',
    "update-conflict-500": (
        "a login/e-mail clash on update may be 500 instead of 409: not_a_server_error is off "
        "for updateUser and updateSignedInUser"
    ),
    "old-password-401": "a wrong old password may be 401 instead of 400",
    "star-by-id-removed": "star/unstar by numeric id may be 404 (route removed)",
}

# Best-effort sets per Grafana major version (from the reference notes on Grafana's source).
# Every Grafana parses perpage/page leniently, so every profile tolerates that.
VERSION_PROFILES: dict[str, frozenset[str]] = {
    "9": frozenset(
        {
            "lenient-query-integers",
            "old-password-401",
            "lastseen-short-format",
            "no-uid-field",
            "rbac-403-shape",
        }
    ),
    "10": frozenset(
        {
            "lenient-query-integers",
            "old-password-401",
            "lastseen-short-format",
            "no-uid-field",
            "rbac-403-shape",
        }
    ),
    "11": frozenset({"lenient-query-integers"}),
    "12": frozenset({"lenient-query-integers", "star-by-id-removed", "update-conflict-500"}),
}

_NO_UID_REQUIRED = {
    "UserProfile": ("uid",),
    "UserSearchHit": ("uid",),
    "Team": ("uid", "externalUID", "isProvisioned"),
    "AdminCreateUserResponse": ("uid",),
    "CreateTeamResponse": ("uid",),
}


class UnknownTolerance(ValueError):
    pass


def resolve(names: Iterable[str], version: str | None, contract: Contract) -> frozenset[str]:
    """The tolerances of a run: the named ones plus the version profile's; unknown names fail."""
    chosen = set(names)
    if version:
        major = version.split(".")[0]
        if major not in VERSION_PROFILES:
            known = ", ".join(sorted(VERSION_PROFILES))
            raise UnknownTolerance(f"no tolerance profile for Grafana {version} (known: {known})")
        chosen |= VERSION_PROFILES[major]
    for name in chosen:
        if name not in contract.tolerance_names:
            known = ", ".join(sorted(contract.tolerance_names))
            raise UnknownTolerance(f"unknown tolerance {name!r} (the contract names: {known})")
        if name not in EFFECTS:
            raise UnknownTolerance(f"tolerance {name!r} is in the contract but not in this suite")
    return frozenset(chosen)


def tolerated(name: str, applied: frozenset[str]) -> bool:
    """Whether a named tolerance is in force (a typo here is a bug in the suite)."""
    assert name in EFFECTS, f"unknown tolerance {name}"
    return name in applied


def patch_spec(raw: dict[str, Any], applied: frozenset[str]) -> dict[str, Any]:
    """The contract with the schema-level tolerances applied (a copy)."""
    patched = copy.deepcopy(raw)
    if "no-uid-field" in applied:
        schemas = patched["components"]["schemas"]
        for name, fields in _NO_UID_REQUIRED.items():
            required = schemas[name].get("required", [])
            schemas[name]["required"] = [f for f in required if f not in fields]
    return patched
