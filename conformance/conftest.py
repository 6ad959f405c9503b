"""Clients for the identities the suite's tests act as (never the real admin)."""

from __future__ import annotations

import httpx
import pytest

from conformance.target import Target
from conformance.world import World


@pytest.fixture(scope="session")
def as_root(target: Target, world: World) -> httpx.Client:
    """The run's throwaway Grafana Admin; its current org is the run's org."""
    return target.client(world.root.basic)


@pytest.fixture(scope="session")
def as_plain(target: Target, world: World) -> httpx.Client:
    """An ordinary user: Viewer in the main org (its current org), Editor in the run's org."""
    return target.client(world.plain.basic)


@pytest.fixture(scope="session")
def anonymous(target: Target) -> httpx.Client:
    return target.client()
