"""The suite's pytest plugin: options, Hypothesis profiles, session fixtures and the report.

Load it with `-p conformance.plugin` (pyproject's addopts does), so the options and the
`conformance_app` ini key exist even when only tests/ is collected.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, Phase, seed, settings

import library_patches
from conformance import options, report
from conformance.fresh import Fresh
from conformance.logins import FailedLogins
from conformance.options import RunOptions
from conformance.recorder import Deviation, Recorder
from conformance.renewal import ActorSession
from conformance.seeding import Seeder, new_prefix
from conformance.target import SetupError, Target
from conformance.world import World

SUITE_DIR = Path(__file__).resolve().parent
OPTIONS = pytest.StashKey[RunOptions | pytest.UsageError]()
RECORDER = pytest.StashKey[Recorder]()
STATE = pytest.StashKey[dict[str, object]]()
CLEAN_UP = pytest.StashKey[Callable[[], None]]()

T = TypeVar("T", bound=Callable[..., Any])
_active: list[RunOptions | pytest.UsageError] = []  # for modules that need options at import


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    quiet = [
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ]
    for name, budget in options.BUDGETS.items():
        phases = list(Phase) if budget.shrink else [p for p in Phase if p != Phase.shrink]
        settings.register_profile(
            name,
            max_examples=budget.property_examples,
            deadline=None,
            database=None,
            suppress_health_check=quiet,
            phases=phases,
        )
    try:
        chosen: RunOptions | pytest.UsageError = options.from_config(config)
    except pytest.UsageError as exc:
        chosen = exc  # only an error if conformance tests are collected
    config.stash[OPTIONS] = chosen
    state: dict[str, object] = {"started": time.monotonic()}
    config.stash[STATE] = state
    _active.append(chosen)
    if isinstance(chosen, RunOptions):
        recorder = Recorder(chosen.contract, chosen.max_requests)
        recorder.failed_logins = FailedLogins(limit=chosen.max_failed_logins)
        config.stash[RECORDER] = recorder


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(OPTIONS, None) in _active:
        _active.remove(config.stash[OPTIONS])


def active_options() -> RunOptions:
    """The options of the run being collected (test modules build per-operation tests)."""
    chosen = _active[-1] if _active else pytest.UsageError("conformance.plugin is not loaded")
    if isinstance(chosen, pytest.UsageError):
        raise chosen
    return chosen


def property_settings(test: T) -> T:
    """Give a Hypothesis test the run's profile and seed."""
    chosen = active_options()
    configured: T = seed(chosen.seed)(settings(settings.get_profile(chosen.profile))(test))
    return configured


def _in_suite(item: pytest.Item) -> bool:
    return SUITE_DIR in item.path.parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = config.stash[OPTIONS]
    if isinstance(chosen, RunOptions):
        spec = chosen.contract
        ours = [item for item in items if _in_suite(item)]
        library_patches.give_items_operation_ids(
            ours, {op.label: op.operation_id for op in spec.operations}
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    recorder = item.config.stash.get(RECORDER, None)
    if recorder is not None:
        recorder.current_test = item.nodeid


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    outcome = yield
    recorder = item.config.stash.get(RECORDER, None)
    if recorder is None or not _in_suite(item) or item.config.stash[STATE].get("setup_failed"):
        return outcome
    if outcome.failed and call.excinfo is not None and not hasattr(item, "operation_label"):
        operation, status = recorder.blame(item.nodeid)
        message = call.excinfo.exconly().strip().splitlines()
        recorder.deviate(
            Deviation(
                operation=operation,
                status=status,
                field="-",
                check=item.name,
                detail=(message[0] if message else "?")[:300],
                test=item.nodeid,
            )
        )
    return outcome


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    # A run that stopped early (-x, an interrupt, the request budget) still holds its
    # session fixtures here: pytest tears them down only after this hook. The clean-up
    # runs now, so that the report and the summary can tell what it left.
    clean_up = config.stash.get(CLEAN_UP, None)
    if clean_up is not None:
        clean_up()
    chosen, recorder = config.stash[OPTIONS], config.stash.get(RECORDER, None)
    if not isinstance(chosen, RunOptions) or recorder is None or not recorder.requests:
        return
    state = config.stash[STATE]
    state["elapsed"] = time.monotonic() - float(str(state["started"]))
    if chosen.report_dir is not None:
        report.write(chosen.report_dir, chosen, recorder, state)
    if state.get("setup_failed"):
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
    elif chosen.fail_on_unobserved and recorder.unobserved() and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    chosen, recorder = config.stash[OPTIONS], config.stash.get(RECORDER, None)
    if isinstance(chosen, RunOptions) and recorder is not None and recorder.requests:
        state = config.stash[STATE]
        for line in report.summary_lines(chosen, recorder, state):
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def conformance_options(pytestconfig: pytest.Config) -> RunOptions:
    chosen = pytestconfig.stash[OPTIONS]
    if isinstance(chosen, pytest.UsageError):
        raise chosen
    return chosen


@pytest.fixture(scope="session")
def recorder(pytestconfig: pytest.Config, conformance_options: RunOptions) -> Recorder:
    return pytestconfig.stash[RECORDER]


@pytest.fixture(scope="session")
def target(
    pytestconfig: pytest.Config, conformance_options: RunOptions, recorder: Recorder
) -> Iterator[Target]:
    """The server under test."""
    pytestconfig.stash[STATE]["started"] = time.monotonic()  # the suite's own duration
    server = Target(conformance_options, recorder)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def seeder(target: Target) -> Seeder:
    return Seeder(target, new_prefix())


@pytest.fixture(scope="session")
def world(
    pytestconfig: pytest.Config, target: Target, seeder: Seeder, conformance_options: RunOptions
) -> Iterator[World]:
    """The run's throwaway users, orgs, teams, dashboards and token; removed at the end."""
    state = pytestconfig.stash[STATE]
    state["prefix"] = seeder.prefix
    done: list[bool] = []

    def clean_up() -> None:
        """Remove the run's resources, once: when the fixture ends, or earlier when the
        session finishes before that (see pytest_sessionfinish)."""
        if done:
            return
        done.append(True)
        if target.owns_app:
            # The app was made for this run and goes away with its in-memory database.
            state["cleanup_note"] = "Skipped: the in-process app was created for this run only."
            return
        # Whatever stopped the run (a failure, an interrupt, the request budget), its
        # throwaway resources go; these requests are outside the budget.
        target.recorder.cleaning = True
        try:
            state["cleanup"] = seeder.cleanup()
        finally:
            target.recorder.cleaning = False

    pytestconfig.stash[CLEAN_UP] = clean_up
    try:
        yield seeder.build(conformance_options.budget.population)
    except (SetupError, httpx.HTTPError) as exc:
        state["setup_failed"] = True
        raise SetupError(f"cannot set up the run's fixtures on {target.base_url}: {exc}") from exc
    finally:
        clean_up()


@pytest.fixture(scope="session")
def actor_session(target: Target, recorder: Recorder, world: World) -> ActorSession:
    """The actor's login session, followed and renewed as the server asks."""
    return ActorSession(target, recorder, world.actor, world.actor_session, world.root)


@pytest.fixture(scope="session")
def fresh(seeder: Seeder, world: World) -> Fresh:
    """Makes more throwaway resources on demand (they join the ledger)."""
    return Fresh(seeder, world)
