"""Layer 0: which Grafana release the target behaves as.

One test per version difference of the contract (`x-grafana-differences`): its probe
(conformance/fingerprints.py) puts the target in the difference's situation, and the
answer must be the one the expected release gives (`--grafana-version`, the newest by
default). A failure names the difference and the releases the target behaved like, so a
run against the wrong release reports version differences, not mysteries. The verdicts
also feed `--grafana-version auto` and the report's version section.
"""

from __future__ import annotations

import pytest

from conformance import fingerprints
from conformance.fresh import Fresh
from conformance.options import RunOptions
from conformance.plugin import active_options
from conformance.recorder import Recorder
from conformance.seeding import Seeder
from conformance.target import Target
from conformance.world import World

_contract = active_options().contract
NAMES = sorted(_contract.differences)


@pytest.fixture(scope="module")
def situation(
    target: Target, world: World, fresh: Fresh, seeder: Seeder, conformance_options: RunOptions
) -> fingerprints.Situation:
    return fingerprints.Situation(
        target=target,
        world=world,
        fresh=fresh,
        contract=conformance_options.contract,
        created=seeder.created,
    )


def test_every_version_difference_has_a_fingerprint() -> None:
    assert set(fingerprints.PROBES) == set(NAMES)


def test_the_target_says_it_is_the_expected_grafana_release(
    target: Target, conformance_options: RunOptions, recorder: Recorder
) -> None:
    with target.session() as client:
        version = str(client.get("/api/health").json().get("version", ""))
    recorder.health_version = version
    expected = conformance_options.grafana_version
    try:
        named = _contract.versions.resolve(version.partition("-")[0])
    except ValueError:
        named = None
    assert named == expected, (
        f"/api/health says version {version!r}, which is "
        f"{f'release {named}' if named else 'no release the contract describes'}; "
        f"the run expects Grafana {expected}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_the_target_answers_as_the_expected_grafana_release(
    name: str,
    situation: fingerprints.Situation,
    conformance_options: RunOptions,
    recorder: Recorder,
) -> None:
    difference = _contract.differences[name]
    seen = fingerprints.PROBES[name](situation, difference)
    recorder.fingerprints[name] = seen.holds
    version = conformance_options.grafana_version
    expected = difference.holds_in(version)
    if seen.holds is None:
        pytest.fail(
            f"version difference {name}: the target answers as no Grafana release "
            f"({seen.detail}); Grafana {version} answers as the releases "
            f"{'with' if expected else 'without'} it"
        )
    assert seen.holds == expected, (
        f"version difference {name}: the target behaves as the releases "
        f"{'with' if seen.holds else 'without'} it ({difference.span if seen.holds else 'others'}"
        f": {seen.detail}), but Grafana {version} "
        f"{'has' if expected else 'does not have'} it: {difference.description}"
    )
