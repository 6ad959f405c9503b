"""A fake Grafana for other people's tests: `FakeGrafana`, seed data and a pytest plugin.

Installed, this package is `grafana_userapi.testing`. Its names are imported on first use,
so the pytest plugin that lives here costs a test run nothing until a test asks for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from testing.fake import Fake, FakeGrafana
    from testing.faults import Fault, Faults
    from testing.journal import Journal, Recorded
    from testing.seeding import Seeded, SeedError

__all__ = [
    "Fake",
    "FakeGrafana",
    "Fault",
    "Faults",
    "Journal",
    "Recorded",
    "SeedError",
    "Seeded",
]
_HOMES = {
    "Fake": "fake",
    "FakeGrafana": "fake",
    "Fault": "faults",
    "Faults": "faults",
    "Journal": "journal",
    "Recorded": "journal",
    "SeedError": "seeding",
    "Seeded": "seeding",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
