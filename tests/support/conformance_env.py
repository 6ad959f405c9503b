"""Inner conformance runs must not be pointed elsewhere by the caller's environment."""

from __future__ import annotations

import os

import pytest


def clear_conformance_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset every CONFORMANCE_* variable (base URL, app, tolerances, seed, report...), and
    the Grafana release the in-process reference server answers as."""
    for name in [n for n in os.environ if n.startswith("CONFORMANCE_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("USERAPI_GRAFANA_VERSION", raising=False)
