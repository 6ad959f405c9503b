"""The server's one source of time: every age, expiry, lockout window and stored timestamp.

A store's `Database` owns a `Clock`; handlers reach it through `deps.clock()`. The real
clock reads the system time; a `ManualClock` (the fake Grafana's) can be frozen, set and
advanced, and the whole server follows: last-seen ages, session expiry and rotation,
lockout windows, token expiry, created/updated times.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Real time."""

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def seconds(self) -> int:
        """Whole seconds since the epoch (how session and token times are stored)."""
        return int(self.time())

    def now(self) -> datetime:
        """Now, whole seconds, naive UTC (how every DATETIME column is stored)."""
        return datetime.fromtimestamp(int(self.time()), UTC).replace(tzinfo=None)


SYSTEM = Clock()


class ManualClock(Clock):
    """Real time until told otherwise: `freeze()` stops it, `advance()` moves it on (frozen
    or not), `set()` jumps to a moment, `resume()` lets it run again from where it is."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0  # added to the system time while running
        self._frozen_at: float | None = None

    def time(self) -> float:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return time.time() + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop the clock, at `at` (naive means UTC) or now; returns the moment."""
        moment = self.time() if at is None else _epoch(at)
        with self._lock:
            self._frozen_at = moment
        return self.now()

    def set(self, at: datetime) -> datetime:
        """Jump to `at` (naive means UTC); a frozen clock stays frozen there."""
        moment = _epoch(at)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = moment
            else:
                self._offset = moment - time.time()
        return self.now()

    def advance(
        self, seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> datetime:
        """Move the clock forward (frozen or running); returns the new now."""
        step = timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += step.total_seconds()
            else:
                self._offset += step.total_seconds()
        return self.now()

    def resume(self) -> datetime:
        """Let a frozen clock run again from the moment it shows."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None
        return self.now()

    def restore(self) -> None:
        """Back to real time, running."""
        with self._lock:
            self._offset, self._frozen_at = 0.0, None


def _epoch(moment: datetime) -> float:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.timestamp()
