"""bench/hot.py's report: the two-worker target's arithmetic against the machine's cores."""

from __future__ import annotations

from typing import Any

from bench.hot import HotConfig, HotReport, markdown, two_worker_cores


def _run(scenario: str, rps: float, cpu: float, db: float | None) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "credential": "basic",
        "rps": rps,
        "p50_ms": 1.0,
        "p99_ms": 2.0,
        "cpu_ms_per_request": cpu,
        "db_cpu_ms_per_request": db,
        "rss_mb": 100.0,
    }


def test_the_cores_one_worker_keeps_busy_and_two_would_need() -> None:
    report = HotReport(HotConfig(), machine={"cores": 2})
    report.runs = [
        _run("GET /api/user / postgresql", 1800.0, 0.600, 0.100),
        _run("GET /api/user / postgresql", 2000.0, 0.500, 0.150),  # best round: its req/s
        _run("GET /api/user / postgresql", 1900.0, 0.520, 0.140),
    ]
    # Medians of CPU (0.520 + 0.140 ms) times the best req/s: 1.32 cores; x 1.7: 2.24.
    line = two_worker_cores(report)
    assert line is not None
    assert "2,000 req/s x (0.520 ms of server CPU + 0.140 ms" in line
    assert "= 1.32 cores busy" in line and "would need 2.24 cores of this machine's 2." in line
    assert line in markdown(report)


def test_no_postgresql_run_no_line() -> None:
    report = HotReport(HotConfig(postgres=False))
    report.runs = [_run("GET /api/user / sqlite", 2000.0, 0.5, None)]
    assert two_worker_cores(report) is None
