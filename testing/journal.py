"""The fake's journal: what clients sent and what they got, with small assertion helpers."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from threading import Lock
from typing import Any
from urllib.parse import parse_qs

BODY_LIMIT = 1 << 20  # bytes of a request or response body kept


@dataclass(frozen=True)
class Recorded:
    """One exchange: `query` maps each parameter to its values; bodies are decoded JSON
    where they are JSON, text otherwise (None when empty)."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int
    response: Any
    fault: str | None = None  # the fault that answered it, if one did

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decode(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw[:BODY_LIMIT].decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def matches(pattern: str, value: str) -> bool:
    """`*` and `?` as in shell patterns: "/api/users/*" matches "/api/users/7"."""
    return pattern == value or fnmatch.fnmatchcase(value, pattern)


class Journal:
    """Every request the fake answered (control requests excepted), oldest first."""

    def __init__(self) -> None:
        self._entries: list[Recorded] = []
        self._lock = Lock()

    def add(self, entry: Recorded) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def all(self) -> list[Recorded]:
        with self._lock:
            return list(self._entries)

    def __iter__(self) -> Iterator[Recorded]:
        return iter(self.all())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __getitem__(self, index: int) -> Recorded:
        return self.all()[index]

    @property
    def last(self) -> Recorded:
        entries = self.all()
        if not entries:
            raise AssertionError("no request was made")
        return entries[-1]

    def filter(
        self, method: str = "*", path: str = "*", status: int | None = None
    ) -> list[Recorded]:
        """The requests with this method and path (shell patterns) and status."""
        return [
            r
            for r in self.all()
            if matches(method.upper(), r.method)
            and matches(path, r.path)
            and (status is None or r.status == status)
        ]

    def assert_called(
        self, method: str, path: str, *, times: int | None = None, status: int | None = None
    ) -> list[Recorded]:
        """Fail unless such requests were made (exactly `times` of them when given)."""
        found = self.filter(method, path, status)
        expected = "at least once" if times is None else f"{times} time(s)"
        if (times is None and not found) or (times is not None and len(found) != times):
            raise AssertionError(
                f"expected {method} {path}{'' if status is None else f' -> {status}'} "
                f"{expected}, saw it {len(found)} time(s); requests made:\n{self._summary()}"
            )
        return found

    def assert_not_called(self, method: str, path: str) -> None:
        self.assert_called(method, path, times=0)

    def _summary(self) -> str:
        return "\n".join(f"  {r.method} {r.path} -> {r.status}" for r in self.all()) or "  none"


def query_of(scope: dict[str, Any]) -> dict[str, list[str]]:
    raw: bytes = scope.get("query_string", b"")
    return parse_qs(raw.decode("latin-1"), keep_blank_values=True)
