"""pytest plugin (entry point `grafana_userapi`): the `fake_grafana` fixture.

One fake server per Grafana release for the whole session, reset before every test to
how it started (Grafana's defaults plus the session's seed file), so tests cannot see
each other's changes. Choose with options or ini keys, or per test with the marker:

    --fake-grafana-seed FILE       (ini fake_grafana_seed)     seed data for every test
    --fake-grafana-version X.Y     (ini fake_grafana_version)  the release to answer as

    @pytest.mark.fake_grafana(seed="more.yaml" or {...}, version="11.6")

Nothing is imported from the server until a test asks for the fixture.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from testing.fake import FakeGrafana

MARKER = (
    "fake_grafana(seed=None, version=None): seed data (a file or a mapping) applied "
    "after the reset, and the Grafana release the fake answers as (grafana_userapi)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fake_grafana", "fake Grafana (grafana_userapi)")
    group.addoption(
        "--fake-grafana-seed",
        metavar="FILE",
        help="YAML or JSON seed data for the fake_grafana fixture, before every test",
    )
    group.addoption(
        "--fake-grafana-version",
        metavar="VERSION",
        help="the Grafana release fake_grafana answers as (default: the newest described)",
    )
    parser.addini("fake_grafana_seed", "seed data file for the fake_grafana fixture")
    parser.addini("fake_grafana_version", "the Grafana release fake_grafana answers as")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


def _setting(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"--fake-grafana-{name}") or config.getini(f"fake_grafana_{name}")
    return str(value) if value else None


class _Servers:
    """The session's fake servers, one per Grafana release, started on first use."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.running: dict[str | None, FakeGrafana] = {}

    def get(self, version: str | None) -> FakeGrafana:
        if version not in self.running:
            with warnings.catch_warnings():  # connexion's imports warn of jsonschema's future
                warnings.simplefilter("ignore", DeprecationWarning)
                from testing.fake import FakeGrafana

            seed = _setting(self.config, "seed")
            path = None if seed is None else Path(self.config.rootpath, seed)
            self.running[version] = FakeGrafana(seed=path, grafana_version=version).start()
        return self.running[version]

    def stop(self) -> None:
        for server in self.running.values():
            server.stop()


@pytest.fixture(scope="session")
def fake_grafana_servers(pytestconfig: pytest.Config) -> Iterator[_Servers]:
    servers = _Servers(pytestconfig)
    yield servers
    servers.stop()


@pytest.fixture
def fake_grafana(request: pytest.FixtureRequest, fake_grafana_servers: _Servers) -> FakeGrafana:
    """A fake Grafana at `.url`, reset to how the session started it: admin `.admin`,
    `.seed()`, `.requests`, `.clock`, `.faults`, `.reset()`, `.snapshot()`."""
    marker = request.node.get_closest_marker("fake_grafana")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    version = options.get("version") or _setting(request.config, "version")
    fake = fake_grafana_servers.get(version)
    fake.reset()
    seed = options.get("seed")
    if seed is not None:
        source = seed if isinstance(seed, dict) else Path(request.node.path.parent, seed)
        fake.seeded = fake.seed(source)
    return fake
