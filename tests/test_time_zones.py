"""The server keeps time in UTC whatever its time zone, and works on 29 February.

Each case starts `python -m handlers` as a subprocess with `TZ` set, and for the leap-day
cases under libfaketime (Debian's `faketime` package: LD_PRELOAD, the clock starting at
2024-02-29 06:00 UTC, which is 29 February in the server's zone too), then drives the
calls whose answers depend on the clock over HTTP: creating a user (its last-seen time
is ten years back, a date that does not exist in 2014 on a leap day), search and
lastSeenAtAge, the last-seen update and its 15-minute throttle, a login session and its
times, a service account token's expiry. The server's clock is read from its `Date`
header, so the expectations follow whatever time it runs at.

Where libfaketime is missing the leap-day cases are skipped, except when
USERAPI_REQUIRE_FAKETIME=1 (set by .ci/run): then a missing library is a failure.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from handlers.store.db import years_before
from tests.support.api import PASSWORD
from tests.support.live import fresh_database_url, running_server

LEAP_DAY = datetime(2024, 2, 29, 6, 0, tzinfo=UTC)
SLACK = timedelta(seconds=60)  # server start and the calls, with room for a slow machine
LIBFAKETIME = (
    "/usr/lib/*/faketime/libfaketimeMT.so.1",  # Debian's multi-arch path
    "/usr/lib/faketime/libfaketimeMT.so.1",
    "/usr/local/lib/faketime/libfaketimeMT.so.1",
)

pytestmark = pytest.mark.slow


def find_libfaketime() -> str | None:
    """The multi-threaded libfaketime (the server runs request threads), or None."""
    for pattern in LIBFAKETIME:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def faked_clock(zone: str, moment: datetime) -> dict[str, str]:
    """Environment that starts the process's wall clock at `moment` and lets it run.

    libfaketime reads an absolute start ("@...") as local time of the process's zone.
    The monotonic clock stays real: Python's timed waits use it and hang when it jumps."""
    library = find_libfaketime()
    if library is None:
        if os.environ.get("USERAPI_REQUIRE_FAKETIME") == "1":
            pytest.fail("libfaketime is required (USERAPI_REQUIRE_FAKETIME=1) but not installed")
        pytest.skip("libfaketime is not installed (Debian's package: faketime)")
    local = moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "LD_PRELOAD": library,
        "FAKETIME": f"@{local}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


def server_now(response: httpx.Response) -> datetime:
    """The server's own clock, from its Date header, as naive UTC."""
    return parsedate_to_datetime(response.headers["date"]).astimezone(UTC).replace(tzinfo=None)


def parse(stamp: str) -> datetime:
    """An RFC 3339 UTC time as the API renders it ("2024-02-29T06:00:01Z"), naive UTC."""
    assert stamp.endswith("Z"), stamp
    return datetime.fromisoformat(stamp.removesuffix("Z"))


def near(value: datetime, expected: datetime) -> bool:
    return abs(value - expected) <= SLACK


@pytest.fixture
def base_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    zone, moment = request.param
    # Without the zone's file the C library silently runs in UTC: the case would prove nothing.
    assert Path("/usr/share/zoneinfo", zone).is_file(), f"no tzdata for {zone}"
    env = {"TZ": zone}
    if moment is not None:
        env |= faked_clock(zone, moment)
    url = fresh_database_url("sqlite", tmp_path)
    with running_server(url, tmp_path / "server.log", env) as server:
        yield server.url


CASES = [
    pytest.param(("UTC", None), id="UTC"),
    pytest.param(("America/St_Johns", None), id="St_Johns-0330"),
    pytest.param(("Pacific/Kiritimati", None), id="Kiritimati+14"),
    pytest.param(("Pacific/Kiritimati", LEAP_DAY), id="Kiritimati+14-on-29-February"),
    pytest.param(("America/St_Johns", LEAP_DAY), id="St_Johns-0330-on-29-February"),
]


@pytest.mark.parametrize("base_url", CASES, indirect=True)
def test_users_sessions_and_tokens_keep_utc_time_in_any_zone_and_on_29_february(
    base_url: str, request: pytest.FixtureRequest
) -> None:
    leap = "29-February" in request.node.callspec.id
    admin = httpx.Client(base_url=base_url, auth=("admin", "admin"), timeout=30)
    user = httpx.Client(base_url=base_url, timeout=30)

    started = server_now(admin.get("/api/health"))
    expected_start = (
        LEAP_DAY.replace(tzinfo=None) if leap else datetime.now(UTC).replace(tzinfo=None)
    )
    assert near(started, expected_start), f"the server's clock says {started}"

    # Creating a user: last seen ten years back, 1 March 2014 when today is 29 February.
    created = admin.post(
        "/api/admin/users",
        json={"login": "tz.jane", "email": "tz.jane@example.com", "password": PASSWORD},
    )
    assert created.status_code == 200, created.text
    now = server_now(created)
    (hit,) = admin.get("/api/users/search", params={"query": "tz.jane"}).json()["users"]
    assert near(parse(hit["lastSeenAt"]), years_before(now, 10)), hit
    assert hit["lastSeenAtAge"] == "10 years"
    if leap:
        assert hit["lastSeenAt"].startswith("2014-03-01T"), hit

    # A login session: the first request marks the user seen now, in UTC.
    login = user.post("/login", json={"user": "tz.jane", "password": PASSWORD})
    assert login.status_code == 200, login.text
    me = user.get("/api/user")
    assert me.status_code == 200, me.text
    seen = server_now(me)
    (hit,) = admin.get("/api/users/search", params={"query": "tz.jane"}).json()["users"]
    assert near(parse(hit["lastSeenAt"]), seen), (hit, seen)
    assert hit["lastSeenAtAge"] == "< 1 minute"
    first_seen = hit["lastSeenAt"]

    # Within the 15-minute throttle a later request does not write it again.
    time.sleep(1.1)  # the stored time has whole seconds
    assert user.get("/api/user").status_code == 200
    (hit,) = admin.get("/api/users/search", params={"query": "tz.jane"}).json()["users"]
    assert hit["lastSeenAt"] == first_seen
    looked_up = admin.get("/api/users/lookup", params={"loginOrEmail": "tz.jane"})
    assert looked_up.json()["id"] == hit["id"]

    sessions = user.get("/api/user/auth-tokens")
    assert sessions.status_code == 200, sessions.text
    (session,) = sessions.json()
    assert session["isActive"] is True
    assert near(parse(session["createdAt"]), seen) and near(parse(session["seenAt"]), seen)

    # A token that lives one day expires one day after now, and works meanwhile.
    account = admin.post("/api/serviceaccounts", json={"name": "tz-robot", "role": "Viewer"})
    assert account.status_code == 201, account.text
    tokens_path = f"/api/serviceaccounts/{account.json()['id']}/tokens"
    made = admin.post(tokens_path, json={"name": "day", "secondsToLive": 86400})
    assert made.status_code == 200, made.text
    issued = server_now(made)
    bearer = {"Authorization": f"Bearer {made.json()['key']}"}
    assert httpx.get(base_url + "/api/user", headers=bearer, timeout=30).status_code == 200
    (token,) = admin.get(tokens_path).json()
    assert near(parse(token["expiration"]), issued + timedelta(days=1)), token
    assert token["hasExpired"] is False
    assert 86400 - 60 <= token["secondsUntilExpiration"] <= 86400, token
    if leap:
        assert token["expiration"].startswith("2024-03-01T"), token
