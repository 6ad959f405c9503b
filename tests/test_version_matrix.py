"""The version matrix: the conformance suite expecting Grafana release N against the
reference server answering as release M, for every release the contract lists.

On the diagonal (N = M) the whole suite runs and must report no deviation, each release
with its own generation seed. Off the diagonal the version fingerprints run, and exactly
the differences the contract gives N and M apart (and /api/health's version) must fail,
each named: the suite tells releases apart instead of reporting mysteries. A fingerprint's
verdict depends on the served release only, so one mismatched run per served release,
with the verdicts matching that release alone, covers every ordered pair.
"""

from __future__ import annotations

import pytest

import contract
from conformance import fingerprints
from conformance.options import DEFAULT_SEED
from conformance.runner import run_suite
from tests.support.conformance_env import clear_conformance_environment

pytestmark = pytest.mark.slow

SPEC = contract.load()
RELEASES = SPEC.versions.names
APP = "handlers.app:create_test_app"
FINGERPRINT = "test_the_target_answers_as_the_expected_grafana_release"
HEALTH = "test_the_target_says_it_is_the_expected_grafana_release"


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_conformance_environment(monkeypatch)


def _named(node: str) -> str:
    """The version difference a failed test id names ("health" for the version check,
    the whole id for anything else)."""
    if FINGERPRINT in node:
        return node.rpartition("[")[2].rstrip("]")
    return "health" if HEALTH in node else node


def _serve_as(monkeypatch: pytest.MonkeyPatch, release: str) -> None:
    monkeypatch.setenv("USERAPI_GRAFANA_VERSION", release)


@pytest.mark.parametrize("release", RELEASES)
def test_the_suite_reports_nothing_when_server_and_suite_expect_the_same_release(
    release: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve_as(monkeypatch, release)
    seed = DEFAULT_SEED + RELEASES.index(release)
    # The smoke budget: every test, few generated cases (the default budget runs on the
    # newest release in `pytest conformance` and over HTTP in test_conformance_remote).
    args = ["--app", APP, "--grafana-version", release, "--seed", str(seed), "--profile", "smoke"]
    outcome = run_suite([*args, "-q"])
    assert outcome.exit_code == pytest.ExitCode.OK, outcome.failure_text()[:4000]
    assert set(outcome.fingerprints) == set(SPEC.differences)
    assert outcome.deviations == []


@pytest.mark.parametrize("served", RELEASES)
def test_off_the_diagonal_the_suite_names_exactly_the_version_differences(
    served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a fingerprint sees depends on the served release alone, so one mismatched run
    per served release covers every pair: the run expecting the next release (cyclically)
    fails exactly on the differences between the two, each named; what each fingerprint
    saw is the served release's side of its difference; and those verdicts match no
    listed release but the served one, so any expected release other than it is told
    apart by the differences between them."""
    expected = RELEASES[(RELEASES.index(served) + 1) % len(RELEASES)]
    _serve_as(monkeypatch, served)
    outcome = run_suite(
        ["--app", APP, "--grafana-version", expected, "-q"], modules=["test_versions.py"]
    )
    named = {_named(node) for node in outcome.failed}
    differing = {
        name
        for name, difference in SPEC.differences.items()
        if difference.holds_in(expected) != difference.holds_in(served)
    }
    assert named == differing | {"health"}, (served, expected, outcome.failure_text()[:2000])
    for name in differing:
        text = next(t for node, t in outcome.failed.items() if f"[{name}]" in node)
        assert f"version difference {name}" in text
    assert outcome.fingerprints == {
        name: d.holds_in(served) for name, d in SPEC.differences.items()
    }
    assert fingerprints.releases_matching(SPEC, outcome.fingerprints) == [served]
