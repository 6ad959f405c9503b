"""The conformance suite's clean-up survives what a target accepted, and runs to the end
however the run stops.

A target may accept a dashboard uid that cannot stand in a URL path as it is (a control
character, a slash); removing it at the end of the run must escape it and, whatever
happens, report a problem instead of crashing the whole run (this happened: the fuzzer
created a uid holding U+0002 on a server that took it). A run that runs out of requests,
stops at its first failure (-x) or is interrupted still removes everything it made, and
the report says truthfully what is left - a throwaway Grafana Admin first of all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import contract
from conformance.options import RunOptions
from conformance.recorder import Recorder
from conformance.runner import Outcome, run_suite
from conformance.seeding import Seeder
from conformance.target import PageTooLarge, Target, replaced_session
from handlers.app import create_test_app
from tests.support import planted
from tests.support.conformance_env import clear_conformance_environment
from tests.support.planted import Observer, RefuseToDelete


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment must not point the inner runs elsewhere."""
    clear_conformance_environment(monkeypatch)


def _target() -> Target:
    options = RunOptions(
        base_url=None,
        app="handlers.app:create_test_app",
        admin_auth=("admin", "admin"),
        tolerances=frozenset(),
        grafana_version=contract.load().versions.newest,
        profile="ci",
        seed=1,
        fail_on_unobserved=False,
        report_dir=None,
        spec_path=contract.SPEC_PATH,
        operations=frozenset(),
        max_requests=100,
        request_timeout=10.0,
    )
    return Target(options, Recorder(contract=contract.load(), max_requests=100))


def test_dashboard_uids_are_escaped_in_the_clean_up_paths() -> None:
    target = _target()
    seeder = Seeder(target, "cnf-test-")
    seeder.ledger.dashboards += ["ctl\x02", "a/b", "sp ace"]
    with target.session(target.admin) as admin:
        saved = admin.post("/api/dashboards/db", json={"dashboard": {"title": "Kept?"}})
    seeder.ledger.dashboards.append(saved.json()["uid"])
    # None of the odd ones exists (404 is fine); the real one is deleted.
    cleanup = seeder.cleanup()
    assert cleanup.leftovers == [] and cleanup.searched
    with target.session(target.admin) as admin:
        again = admin.delete(f"/api/dashboards/uid/{saved.json()['uid']}")
    assert (again.status_code, again.json()["message"]) == (404, "Dashboard not found")


# ------------------------------------------------------------------ runs that stop early
# The suite runs in-process against an app made here (so the run does not own it and
# cleans up, as against a real Grafana), and the app is searched afterwards.


class FailTest:
    """A pytest plugin: the named test of the inner run fails (or is interrupted)."""

    def __init__(self, name: str, error: BaseException) -> None:
        self.name, self.error, self.hit = name, error, False

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        if item.name == self.name:
            self.hit = True
            raise self.error


def _run(app: Any, tmp_path: Path, *args: str, **kwargs: Any) -> tuple[Outcome, str]:
    planted.kept = app
    try:
        outcome = run_suite(
            ["--app", "tests.support.planted:kept", "-q", "--report-dir", str(tmp_path), *args],
            **kwargs,
        )
    finally:
        planted.kept = None
    return outcome, (tmp_path / "report.md").read_text(encoding="utf-8")


def _users_left(app: Any) -> list[str]:
    with TestClient(app) as client:
        found = client.get(
            "/api/users/search", params={"query": "cnf-", "perpage": 1000}, auth=("admin", "admin")
        ).json()
    return [u["login"] for u in found["users"]]


def _removed_everything(outcome: Outcome, report: str, app: Any) -> None:
    assert outcome.cleanup is not None, "the clean-up did not run"
    assert outcome.cleanup.leftovers == [] and outcome.cleanup.searched, outcome.cleanup
    assert outcome.cleanup.removed > 20, "the clean-up removed too little to have run fully"
    assert "Everything the run created was removed" in report, report[-2000:]
    assert _users_left(app) == []


def test_the_clean_up_runs_to_the_end_when_the_request_budget_runs_out(tmp_path: Path) -> None:
    app = create_test_app()
    outcome, report = _run(app, tmp_path, "--max-requests", "80", modules=["test_chains.py"])
    assert outcome.exit_code == 3, outcome.failure_text()[:2000]  # pytest.exit's code
    assert outcome.requests == 81, "the run went on past its budget"
    assert outcome.cleanup_requests > 20, "clean-up requests were counted against the budget"
    _removed_everything(outcome, report, app)


def test_the_clean_up_runs_when_a_test_fails_with_exitfirst(tmp_path: Path) -> None:
    app = create_test_app()
    failing = FailTest("test_adding_an_org_member_twice_is_a_conflict", AssertionError("planted"))
    outcome, report = _run(app, tmp_path, "-x", modules=["test_chains.py"], plugins=[failing])
    assert failing.hit and outcome.exit_code == pytest.ExitCode.TESTS_FAILED
    _removed_everything(outcome, report, app)


def test_the_clean_up_runs_when_the_run_is_interrupted(tmp_path: Path) -> None:
    app = create_test_app()
    interrupt = FailTest("test_logout_ends_the_session", KeyboardInterrupt())
    outcome, report = _run(app, tmp_path, modules=["test_sessions.py"], plugins=[interrupt])
    assert interrupt.hit and outcome.exit_code == pytest.ExitCode.INTERRUPTED
    _removed_everything(outcome, report, app)


def test_a_throwaway_grafana_admin_left_behind_is_named_first_in_the_report(
    tmp_path: Path,
) -> None:
    app = RefuseToDelete(create_test_app())
    outcome, report = _run(app, tmp_path, "-k", "org_member_twice", modules=["test_chains.py"])
    assert outcome.exit_code == pytest.ExitCode.OK, outcome.failure_text()[:2000]
    assert outcome.cleanup is not None
    (root,) = app.protected
    (left,) = outcome.cleanup.leftovers
    assert (left.kind, left.ident, left.grafana_admin) == ("user", root, True)
    assert left.label.endswith("-root")
    warning = (
        f"A throwaway user that is a Grafana Admin was left on the target: `{left.label}` "
        f"(id {root})"
    )
    assert report.splitlines()[2].startswith(f"> **{warning}"), report[:600]
    assert f"**{warning}" in report.split("## Clean-up")[1]
    assert "Everything the run created was removed" not in report
    assert _users_left(app) == [left.label]


def test_the_clean_up_search_asks_for_a_bounded_page(tmp_path: Path) -> None:
    observer = Observer(create_test_app())
    outcome, _ = _run(observer, tmp_path, "-k", "org_member_twice", modules=["test_chains.py"])
    assert outcome.cleanup is not None and outcome.cleanup.searched
    assert observer.page_sizes and max(int(size) for size in observer.page_sizes) <= 1000


@pytest.mark.parametrize("perpage", ["1001", "5000", "5e3", "99999999999999999999"])
def test_the_suite_refuses_to_send_a_page_size_above_1000_of_its_own(perpage: str) -> None:
    target = _target()
    with target.session(target.admin) as admin:
        assert admin.get("/api/users/search", params={"perpage": "1000"}).status_code == 200
        with pytest.raises(PageTooLarge, match="asks for more than 1000 rows"):
            admin.get("/api/users/search", params={"perpage": perpage})


@pytest.mark.parametrize(
    ("headers", "session"),
    [
        (["grafana_session=abc123; Path=/; HttpOnly"], "abc123"),
        # httpx joins repeated headers with a comma; the expiry cookie is another one.
        (["grafana_session_expiry=99, grafana_session=def456; Path=/"], "def456"),
        (["grafana_session=; Path=/; Max-Age=0"], None),  # a logout empties it
        (["other=1"], None),
    ],
)
def test_a_set_cookie_that_replaces_the_session_is_read(
    headers: list[str], session: str | None
) -> None:
    assert replaced_session(headers) == session
