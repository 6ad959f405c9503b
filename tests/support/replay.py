"""What the reads-answered-ahead tests share (tests/test_replay.py, test_replay_pool.py;
their fixtures `pg` and `runner` are in tests/conftest.py): a count of the calls that took
the connection path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from handlers.store import Store


class Paths:
    """Counts the calls that took the connection path (the greenlet runner)."""

    def __init__(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.connection = 0
        holding = store.db._holding

        def counted(borrowed: Any, call: Callable[[], Any]) -> Any:
            self.connection += 1
            return holding(borrowed, call)

        monkeypatch.setattr(store.db, "_holding", counted)
