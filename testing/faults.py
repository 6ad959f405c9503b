"""Fault injection: the next N requests matching a method and path answer a given status,
are delayed, or lose their connection - for testing clients' retries and timeouts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from threading import Lock
from typing import Any

from testing.journal import matches

KINDS = ("status", "delay", "drop")


@dataclass
class Fault:
    method: str  # "GET", or a pattern: "*"
    path: str  # "/api/users/7", or a pattern: "/api/users/*"
    kind: str  # status | delay | drop
    times: int = 1  # how many matching requests it hits
    status: int = 503
    message: str = "Service Unavailable (injected by the fake)"
    seconds: float = 0.0  # the delay (kind delay)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.times < 1:
            raise ValueError("a fault must hit at least one request (times >= 1)")
        if not 100 <= self.status <= 599:
            raise ValueError(f"not an HTTP status: {self.status}")
        if self.seconds < 0:
            raise ValueError("a delay cannot be negative")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """The armed faults, first armed first served; each is spent after `times` hits."""

    def __init__(self) -> None:
        self._armed: list[Fault] = []
        self._lock = Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._armed.append(fault)
        return fault

    def fail(
        self, method: str, path: str, status: int = 503, *, times: int = 1, message: str = ""
    ) -> Fault:
        """The next `times` matching requests answer `status` with {"message": ...}."""
        return self.add(
            Fault(method.upper(), path, "status", times, status, message or Fault.message)
        )

    def delay(self, method: str, path: str, seconds: float, *, times: int = 1) -> Fault:
        """The next `times` matching requests are answered `seconds` late."""
        return self.add(Fault(method.upper(), path, "delay", times, seconds=seconds))

    def drop(self, method: str, path: str, *, times: int = 1) -> Fault:
        """The next `times` matching requests get no answer: the connection is closed."""
        return self.add(Fault(method.upper(), path, "drop", times))

    def take(self, method: str, path: str) -> Fault | None:
        """The fault this request meets, if any (spending one of its hits)."""
        with self._lock:
            for fault in self._armed:
                if matches(fault.method, method) and matches(fault.path, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._armed.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._armed)

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
