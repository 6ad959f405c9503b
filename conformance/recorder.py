"""What a run saw: every (operation, status) answered, every deviation, the request budget,
failed logins and session renewals."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pytest

from conformance.logins import FailedLogins
from contract import Contract


@dataclass(frozen=True)
class Deviation:
    """One way the target differs from the contract, for the report."""

    operation: str  # operationId, or "-" when no request is to blame
    status: int | None  # the status the target answered
    field: str  # JSON path, header or "status"; "-" when not about one field
    check: str  # schemathesis check title or the suite's test name
    detail: str
    test: str  # the failing test's node id


@dataclass(frozen=True)
class Renewal:
    """The actor's session stopped working (or the server replaced it) and was renewed."""

    test: str
    reason: str  # what showed it: a Set-Cookie, or a 401 the session should not get
    how: str  # followed the Set-Cookie, rotated, or signed in again
    ok: bool


@dataclass
class Recorder:
    contract: Contract
    max_requests: int
    observed: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    deviations: list[Deviation] = field(default_factory=list)
    requests: int = 0
    current_test: str = "-"
    last_answer: dict[str, tuple[str, int]] = field(default_factory=dict)
    # version difference -> whether the target has it (None: answers as no release)
    fingerprints: dict[str, bool | None] = field(default_factory=dict)
    health_version: str | None = None  # what the target's /api/health says
    failed_logins: FailedLogins = field(default_factory=FailedLogins)
    renewals: list[Renewal] = field(default_factory=list)
    # Clean-up runs whatever happened before: its requests are counted apart, outside the
    # budget (a run that ran out of requests must still remove what it made).
    cleaning: bool = False
    cleanup_requests: int = 0

    def observe(self, method: str, path: str, status: int) -> None:
        """Count a response to a concrete request (routed by the contract's paths)."""
        operation = self.contract.match(method, path)
        self.observe_operation(operation.operation_id if operation else None, status)

    def observe_operation(self, operation_id: str | None, status: int) -> None:
        if self.cleaning:
            self.cleanup_requests += 1
            return
        self.requests += 1
        if self.max_requests and self.requests > self.max_requests:
            pytest.exit(f"request budget of {self.max_requests} exhausted", returncode=3)
        if operation_id is None:
            return
        self.observed[operation_id][status] += 1
        self.last_answer[self.current_test] = (operation_id, status)

    def deviate(self, deviation: Deviation) -> None:
        self.deviations.append(deviation)

    def blame(self, test: str) -> tuple[str, int | None]:
        """The operation and status of the last answer a test received."""
        operation, status = self.last_answer.get(test, ("-", None))
        return operation, status

    def unobserved(self) -> dict[str, list[int]]:
        """Documented statuses below 500 that no request produced, per operation.

        Server errors (5xx) are documented for completeness but cannot be provoked from
        outside a healthy server, so they are not expected to be observed.
        """
        missing: dict[str, list[int]] = {}
        for operation in self.contract.operations:
            seen = self.observed.get(operation.operation_id, Counter())
            gaps = sorted(s for s in operation.statuses if s < 500 and s not in seen)
            if gaps:
                missing[operation.operation_id] = gaps
        return missing
