"""The conformance suite's failed logins stay few, counted, and within the run's limit.

Grafana locks a login after 5 failed logins in 5 minutes, and (with IP protection on) the
client's address, the admin's logins included. The whole suite runs here against the
reference server wrapped in an observer that counts, as the server sees them, the
requests that failed with a password - unknown names included, as some releases count
them - and every page size asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.logins import DEFAULT_LIMIT
from conformance.paging import asks_too_many
from conformance.runner import Outcome, run_suite
from handlers.app import create_test_app
from tests.support import planted
from tests.support.conformance_env import clear_conformance_environment
from tests.support.planted import Observer

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_conformance_environment(monkeypatch)


def _run(app: Any, tmp_path: Path, *args: str, modules: tuple[str, ...] = ()) -> Outcome:
    planted.kept = app
    try:
        return run_suite(
            ["--app", "tests.support.planted:kept", "-q", "--report-dir", str(tmp_path), *args],
            modules=modules,
        )
    finally:
        planted.kept = None


def test_a_whole_run_sends_two_wrong_passwords_and_never_a_huge_page(tmp_path: Path) -> None:
    observer = Observer(create_test_app())
    outcome = _run(observer, tmp_path)
    assert outcome.exit_code == pytest.ExitCode.OK, outcome.failure_text()[:3000]
    # What the server saw is what the suite counted: the two on purpose, nothing else.
    assert len(observer.failed_logins) == len(outcome.failed_logins) == 2, (
        observer.failed_logins,
        outcome.failed_logins,
    )
    assert len(outcome.failed_logins) <= DEFAULT_LIMIT
    assert len({f.login for f in outcome.failed_logins}) == 2, "one wrong password per login"
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "* Failed logins sent: 2 (at most 4 a run)" in report
    assert "## Failed logins (2)" in report
    too_large = [size for size in observer.page_sizes if asks_too_many(size)]
    assert observer.page_sizes and not too_large, too_large[:10]


def test_a_lower_limit_keeps_the_wrong_passwords_back_and_says_so(tmp_path: Path) -> None:
    observer = Observer(create_test_app())
    outcome = _run(observer, tmp_path, "--max-failed-logins", "1", modules=("test_chains.py",))
    assert outcome.exit_code == pytest.ExitCode.OK, outcome.failure_text()[:3000]
    assert len(observer.failed_logins) == len(outcome.failed_logins) == 1
    (refused,) = outcome.refused_logins
    assert "would be failed login 2 of the run (limit 1" in refused
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert refused in report


def test_no_wrong_password_at_all_with_a_limit_of_zero(tmp_path: Path) -> None:
    observer = Observer(create_test_app())
    outcome = _run(
        observer,
        tmp_path,
        "--max-failed-logins",
        "0",
        "-k",
        "password",
        modules=("test_chains.py", "test_auth_matrix.py"),
    )
    assert outcome.exit_code == pytest.ExitCode.OK, outcome.failure_text()[:3000]
    assert observer.failed_logins == [] and outcome.failed_logins == []
    assert len(outcome.refused_logins) == 2, outcome.refused_logins


def test_a_wrong_admin_password_is_sent_once_and_not_again_to_clean_up(tmp_path: Path) -> None:
    observer = Observer(create_test_app())
    outcome = _run(
        observer,
        tmp_path,
        "--admin-auth",
        "admin:not-the-password",
        "-k",
        "org_member_twice",
        modules=("test_chains.py",),
    )
    assert outcome.exit_code != pytest.ExitCode.OK
    assert observer.failed_logins == ["GET /api/user"], observer.failed_logins
    assert [f.login for f in outcome.failed_logins] == ["admin"]
    assert outcome.cleanup is not None and "never accepted" in outcome.cleanup.skipped
