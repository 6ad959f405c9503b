"""Run the suite inside this process and collect what happened (for the CLI and self-tests)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conformance.logins import FailedLogin
from conformance.recorder import Deviation, Renewal
from conformance.seeding import Cleanup

SUITE_DIR = Path(__file__).resolve().parent
# "conformance" here, "grafana_userapi.conformance" when installed.
PACKAGE = __name__.rpartition(".")[0]
PLUGIN = f"{PACKAGE}.plugin"


def _suite_module(name: str) -> bool:
    return name.startswith(f"{PACKAGE}.test_") or name == f"{PACKAGE}.conftest"


@dataclass
class Outcome:
    exit_code: int
    failed: dict[str, str] = field(default_factory=dict)  # node id -> failure text
    passed: int = 0
    deviations: list[Deviation] = field(default_factory=list)
    unobserved: dict[str, list[int]] = field(default_factory=dict)
    fingerprints: dict[str, bool | None] = field(default_factory=dict)
    health_version: str | None = None
    failed_logins: list[FailedLogin] = field(default_factory=list)
    refused_logins: list[str] = field(default_factory=list)  # wrong passwords not sent
    renewals: list[Renewal] = field(default_factory=list)
    cleanup: Cleanup | None = None  # None: it did not run (or was skipped)
    requests: int = 0
    cleanup_requests: int = 0

    def failure_text(self) -> str:
        """Every failing test id and its failure, as one searchable text."""
        return "\n".join(f"{node}\n{text}" for node, text in self.failed.items())


class _Collector:
    """A pytest plugin object that keeps the reports of one run."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.outcome.failed[report.nodeid] = report.longreprtext
        elif report.passed and report.when == "call":
            self.outcome.passed += 1

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from conformance.plugin import RECORDER, STATE

        recorder = session.config.stash.get(RECORDER, None)
        if recorder is not None:
            self.outcome.deviations = list(recorder.deviations)
            self.outcome.unobserved = recorder.unobserved()
            self.outcome.fingerprints = dict(recorder.fingerprints)
            self.outcome.health_version = recorder.health_version
            self.outcome.failed_logins = list(recorder.failed_logins.failed)
            self.outcome.refused_logins = list(recorder.failed_logins.refused)
            self.outcome.renewals = list(recorder.renewals)
            self.outcome.requests = recorder.requests
            self.outcome.cleanup_requests = recorder.cleanup_requests
        cleanup = session.config.stash.get(STATE, {}).get("cleanup")
        self.outcome.cleanup = cleanup if isinstance(cleanup, Cleanup) else None


def run_suite(
    args: Sequence[str], modules: Sequence[str] = (), plugins: Sequence[object] = ()
) -> Outcome:
    """`pytest <suite> -p conformance.plugin *args`, in this process.

    `modules` limits the run to some of the suite's test files (e.g. `test_chains.py`);
    `plugins` are more pytest plugin objects for the run (the self-tests plant failures
    and interrupts with them).

    The suite's test modules build their tests from the run's options when imported, so
    they are imported afresh for every run (and the caller's copies are put back after).
    """
    ours = [name for name in sys.modules if _suite_module(name)]
    saved = {name: sys.modules.pop(name) for name in ours}
    outcome = Outcome(exit_code=0)
    try:
        paths = [str(SUITE_DIR / module) for module in modules] or [str(SUITE_DIR)]
        code = pytest.main(
            [
                *paths,
                "-p",
                PLUGIN,
                "-p",
                "no:cacheprovider",
                # already imported here, so pytest cannot (and need not) rewrite them
                "-W",
                "ignore::pytest.PytestAssertRewriteWarning",
                *args,
            ],
            plugins=[_Collector(outcome), *plugins],
        )
    finally:
        for name in [n for n in sys.modules if _suite_module(n)]:
            del sys.modules[name]
        sys.modules.update(saved)
    outcome.exit_code = int(code)
    return outcome
