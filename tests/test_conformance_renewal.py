"""The conformance suite keeps its signed-in session alive when the server ends or
replaces it, instead of seeing nothing but 401s for the rest of the run.

The fuzzed operations of the signed-in user go out with the throwaway actor's session
cookie. Here the reference server is wrapped so that cookies expire after a few uses, or
are rotated (a Set-Cookie names a new one, the old one stops working); the suite must
still pass, and its report must list each renewal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.runner import Outcome, run_suite
from handlers.app import create_test_app
from tests.support import planted
from tests.support.conformance_env import clear_conformance_environment
from tests.support.planted import ExpireSessions, RotateSessions

pytestmark = pytest.mark.slow

# Operations the actor's session sends (the signed-in user's own).
AS_THE_ACTOR = [
    "getSignedInUser",
    "getStars",
    "getSignedInUserOrgList",
    "getSignedInUserTeamList",
    "getUserAuthTokens",
]


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_conformance_environment(monkeypatch)


def _run(app: Any, tmp_path: Path) -> tuple[Outcome, str]:
    planted.kept = app
    selected = [arg for op in AS_THE_ACTOR for arg in ("--operation", op)]
    try:
        outcome = run_suite(
            ["--app", "tests.support.planted:kept", "-q", "--report-dir", str(tmp_path), *selected],
            modules=["test_contract.py"],
        )
    finally:
        planted.kept = None
    return outcome, (tmp_path / "report.md").read_text(encoding="utf-8")


def test_an_expired_session_is_renewed_by_signing_in_again(tmp_path: Path) -> None:
    server = ExpireSessions(create_test_app(), uses=15)
    outcome, report = _run(server, tmp_path)
    assert server.expired, "no session expired: the test proves nothing"
    assert outcome.exit_code == pytest.ExitCode.OK, outcome.failure_text()[:3000]
    assert outcome.renewals, "the session expired and was never renewed"
    assert all(r.ok and r.how.startswith("signed in again as ") for r in outcome.renewals)
    assert all("answered 401" in r.reason for r in outcome.renewals)
    # Each renewal replaced one expired cookie (the actor's); none was renewed in vain.
    assert len(outcome.renewals) == len(server.expired)
    assert f"## Session renewals ({len(outcome.renewals)})" in report
    assert "signed in again as " in report


def test_a_rotated_session_cookie_is_followed(tmp_path: Path) -> None:
    server = RotateSessions(create_test_app(), every=10)
    outcome, report = _run(server, tmp_path)
    assert server.retired, "no session was rotated: the test proves nothing"
    assert outcome.exit_code == pytest.ExitCode.OK, outcome.failure_text()[:3000]
    followed = [r for r in outcome.renewals if r.how == "followed it"]
    assert followed and len(followed) == len(outcome.renewals), outcome.renewals
    assert "the server replaced the session (Set-Cookie)" in report
