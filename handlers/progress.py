"""Progress of long commands on stderr: a redrawn bar on a terminal, a line every tenth of
the way otherwise (logs and CI output stay readable)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

WIDTH = 30


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


@dataclass
class _Stage:
    name: str
    total: int | None
    done: int = 0
    tenths: int = 0
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        elapsed = _clock(time.monotonic() - self.started)
        if not self.total:
            return f"{self.name:>14} {self.done:,} {elapsed}"
        filled = min(WIDTH, self.done * WIDTH // self.total)
        bar = "#" * filled + "." * (WIDTH - filled)
        return f"{self.name:>14} [{bar}] {self.done:,}/{self.total:,} {elapsed}"


class Progress:
    """`stage(name, total)` starts a bar and returns the function that advances it;
    `finish()` writes the stage's final line."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self._stage: _Stage | None = None

    def stage(self, name: str, total: int | None) -> Callable[[int], None]:
        self.finish()
        current = self._stage = _Stage(name, total)

        def advance(rows: int) -> None:
            current.done += rows
            if not self.enabled:
                return
            if self.live:
                self._write(current.line() + "\r")
            elif current.total:
                tenths = min(10, current.done * 10 // current.total)
                if tenths > current.tenths:
                    current.tenths = tenths
                    if tenths < 10:  # the last line is finish()'s
                        self._write(current.line() + "\n")

        return advance

    def finish(self) -> None:
        if self._stage is not None and self.enabled:
            self._write(self._stage.line() + "\n")
        self._stage = None

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
