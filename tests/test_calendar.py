"""Date arithmetic works on every calendar day, 29 February included."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from starlette.testclient import TestClient

from handlers.clock import ManualClock
from handlers.store import Store
from handlers.store.db import years_before
from tests.support.api import create_user


def test_ten_years_before_any_day_of_a_leap_year_is_a_real_date() -> None:
    day = datetime(2024, 1, 1, 8, 30)
    while day.year == 2024:
        earlier = years_before(day, 10)
        assert (earlier.year, earlier.time()) == (2014, day.time())
        day += timedelta(days=1)


def test_29_february_rolls_over_to_1_march_as_gos_adddate_does() -> None:
    assert years_before(datetime(2024, 2, 29, 12), 10) == datetime(2014, 3, 1, 12)
    assert years_before(datetime(2024, 2, 29, 12), 4) == datetime(2020, 2, 29, 12)


def test_a_user_created_on_29_february_was_last_seen_ten_years_before(
    admin: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = ManualClock()
    clock.freeze(datetime(2024, 2, 29, 12, 0, 0))
    monkeypatch.setattr(store.db, "clock", clock)
    user_id = create_user(admin, "leap")
    hits = admin.get("/api/users/search", params={"query": "leap"}).json()["users"]
    assert [(h["id"], h["lastSeenAt"]) for h in hits] == [(user_id, "2014-03-01T12:00:00Z")]
