"""The contract as data: operations, their documented statuses, security and tolerances."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

_ROOT = Path(__file__).resolve().parent.parent
# The repository's openapi.yaml; installed from the wheel, the copy shipped beside it.
DEFAULT_SPEC = next(
    (p for p in (_ROOT / "openapi.yaml", _ROOT / "handlers" / "openapi.yaml") if p.is_file()),
    _ROOT / "openapi.yaml",
)
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass(frozen=True)
class Operation:
    """One operation of the contract, with what the suite needs to know about it."""

    operation_id: str
    method: str  # upper case
    path: str  # template, e.g. /api/users/{user_id}
    tag: str
    statuses: frozenset[int]
    secured: bool  # False when the operation declares `security: []`
    tolerances: frozenset[str]
    deprecated: bool
    pattern: re.Pattern[str]

    @property
    def label(self) -> str:
        """schemathesis's name for the operation, e.g. `GET /api/users/{user_id}`."""
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Contract:
    raw: dict[str, Any]
    operations: tuple[Operation, ...]

    def __getitem__(self, operation_id: str) -> Operation:
        for operation in self.operations:
            if operation.operation_id == operation_id:
                return operation
        raise KeyError(operation_id)

    def by_label(self, label: str) -> Operation | None:
        return next((op for op in self.operations if op.label == label), None)

    def match(self, method: str, path: str) -> Operation | None:
        """The operation a concrete request is routed to; static paths win, as in Grafana."""
        candidates = [
            op for op in self.operations if op.method == method.upper() and op.pattern.match(path)
        ]
        candidates.sort(key=lambda op: op.path.count("{"))
        return candidates[0] if candidates else None

    @property
    def tolerance_names(self) -> frozenset[str]:
        return frozenset(name for op in self.operations for name in op.tolerances)


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    body = "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts)
    return re.compile(f"^{body}$")


@cache
def load(path: Path = DEFAULT_SPEC) -> Contract:
    """Read openapi.yaml once per path."""
    raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    operations = []
    for template, item in raw["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            operations.append(
                Operation(
                    operation_id=op["operationId"],
                    method=method.upper(),
                    path=template,
                    tag=op["tags"][0],
                    statuses=frozenset(int(code) for code in op["responses"] if code.isdigit()),
                    secured=op.get("security", raw.get("security")) != [],
                    tolerances=frozenset(t["name"] for t in op.get("x-grafana-tolerances", [])),
                    deprecated=bool(op.get("deprecated", False)),
                    pattern=_pattern(template),
                )
            )
    return Contract(raw=raw, operations=tuple(operations))
