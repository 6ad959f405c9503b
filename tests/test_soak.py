"""A short soak: anonymous junk alongside normal traffic leaves the server as it found it.

The same mix as `python -m bench.soak` (bench/soak.py), for seconds instead of minutes,
with a 2 s read timeout so stalled uploads come and go within it. The bounds are the
soak's own; a leak of a connection, a file or a metric series per junk request shows
within seconds at this rate (~60 junk requests a second).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench.soak import BOUNDS, soak

pytestmark = pytest.mark.slow


def test_a_short_soak_keeps_memory_files_data_and_latency_within_the_soaks_bounds(
    tmp_path: Path,
) -> None:
    # 3 s of idle traffic is ~60 requests, so its p95 is the third slowest: allow the tail 3x.
    bounds = replace(BOUNDS, tail_ratio=3.0)
    report = soak(
        10,
        tmp_path,
        idle_seconds=3,
        warmup_seconds=2,
        sample_every=1,
        read_timeout=2,
        bounds=bounds,
    )
    answers = report.junk["answers"]
    assert answers.get("stalled 408", 0) > 0, answers  # the junk really stalled uploads
    assert answers.get("path 404", 0) > 100, answers
    assert report.ok, "\n".join(report.failures())
