"""`python -m bench.fake`: the fake Grafana's costs, side by side in one run.

* start to first answer: a new `FakeGrafana` in a process that has imported it already
  (what the pytest fixture pays once per session), and a new Python process importing it
  (what a one-off script pays), against the server command's start to first answer;
* reset: `FakeGrafana.reset()` against restarting (a new fake in-process, a new server
  process);
* seeding 100 users with passwords: the same password for all (one PBKDF2 hash, shared),
  100 different passwords (100 hashes), and the same 100 users created over HTTP;
* the example project's test suite (examples/user-provisioning), wall time.

Writes bench/results/fake.md and fake.json.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from testing.fake import FakeGrafana
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
COLD_START = """
import time, urllib.request, base64
started = time.perf_counter()
from testing.fake import FakeGrafana
imported = time.perf_counter()
fake = FakeGrafana().start()
request = urllib.request.Request(fake.url + "/api/user")
request.add_header("Authorization", "Basic " + base64.b64encode(b"admin:admin").decode())
assert urllib.request.urlopen(request).status == 200
print(imported - started, time.perf_counter() - imported)
fake.stop()
"""


def timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def first_answer(fake: FakeGrafana) -> None:
    assert httpx.get(fake.url + "/api/user", auth=fake.admin).status_code == 200


def warm_start() -> float:
    def start() -> None:
        fake = FakeGrafana().start()
        first_answer(fake)
        fake.stop()

    return timed(start)


def process_start(command: list[str], url: str) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                if httpx.get(url + "/api/user", auth=("admin", "admin"), timeout=2).is_success:
                    return time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.01)
    finally:
        process.terminate()
        process.wait(timeout=20)


def users(count: int, distinct: bool) -> dict[str, Any]:
    """`count` users; `distinct`: passwords never seen before (none is hashed already)."""
    batch = time.perf_counter_ns()
    return {
        "users": [
            {"login": f"user{i}", "password": f"pw-{batch}-{i}" if distinct else "pw-shared"}
            for i in range(count)
        ]
    }


def run(rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {"rounds": rounds}
    cold = [
        [float(x) for x in subprocess.check_output([sys.executable, "-c", COLD_START]).split()]
        for _ in range(rounds)
    ]
    results["start_cold_import_ms"] = median_ms([c[0] for c in cold])
    results["start_cold_after_import_ms"] = median_ms([c[1] for c in cold])
    results["start_cold_total_ms"] = median_ms([sum(c) for c in cold])
    results["start_warm_ms"] = median_ms([warm_start() for _ in range(rounds)])
    port = free_port()
    server = [sys.executable, "-m", "handlers", "--port", str(port), "--database-url", "sqlite://"]
    results["server_process_start_ms"] = median_ms(
        [process_start(server, f"http://127.0.0.1:{port}") for _ in range(rounds)]
    )
    with FakeGrafana() as fake:
        fake.seed(users(100, distinct=False))
        fake.snapshot("hundred")
        fake.reset()
        resets = [timed(fake.reset) for _ in range(200)]
        results["reset_ms"] = median_ms(resets)
        results["reset_p95_ms"] = round(sorted(resets)[189] * 1000, 2)
        results["reset_to_snapshot_ms"] = median_ms(
            [timed(lambda: fake.reset("hundred")) for _ in range(200)]
        )
        shared, distinct, over_http = [], [], []
        for _ in range(rounds):
            fake.reset()
            shared.append(timed(lambda: fake.seed(users(100, distinct=False))))
            fake.reset()
            distinct.append(timed(lambda: fake.seed(users(100, distinct=True))))
            fake.reset()
            with httpx.Client(base_url=fake.url, auth=fake.admin) as client:

                def create() -> None:
                    for user in users(100, distinct=True)["users"]:
                        client.post("/api/admin/users", json=user).raise_for_status()

                over_http.append(timed(create))
        results["seed_100_shared_password_ms"] = median_ms(shared)
        results["seed_100_distinct_passwords_ms"] = median_ms(distinct)
        results["create_100_over_http_ms"] = median_ms(over_http)
    clients = ROOT / ".venv" / "clients" / "bin" / "python"
    python = str(clients) if clients.exists() else sys.executable
    example = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    cwd = ROOT / "examples" / "user-provisioning"
    results["example_suite_s"] = round(
        statistics.median(
            [
                timed(lambda: subprocess.run(example, cwd=cwd, check=True, capture_output=True))
                for _ in range(rounds)
            ]
        ),
        2,
    )
    results["reset_vs_warm_restart"] = round(results["start_warm_ms"] / results["reset_ms"])
    results["reset_vs_process_restart"] = round(
        results["server_process_start_ms"] / results["reset_ms"]
    )
    return results


def markdown(results: dict[str, Any], when: str) -> str:
    r = results
    rows = [
        (
            "start to first answer, new fake in a warm process",
            f"{r['start_warm_ms']} ms",
            "≤ 500 ms",
        ),
        (
            "start to first answer, new Python process",
            f"{r['start_cold_total_ms']} ms ({r['start_cold_import_ms']} ms of imports)",
            "",
        ),
        (
            "server command (`python -m handlers`) to first answer",
            f"{r['server_process_start_ms']} ms",
            "",
        ),
        ("reset to the start", f"{r['reset_ms']} ms (p95 {r['reset_p95_ms']} ms)", "≤ 10 ms"),
        ("reset to a snapshot of 100 users", f"{r['reset_to_snapshot_ms']} ms", ""),
        ("reset vs a new fake in-process", f"{r['reset_vs_warm_restart']}× faster", "≥ 100×"),
        (
            "reset vs restarting the server process",
            f"{r['reset_vs_process_restart']}× faster",
            "≥ 100×",
        ),
        (
            "seed 100 users, one shared password",
            f"{r['seed_100_shared_password_ms']} ms",
            "≤ 100 ms",
        ),
        (
            "seed 100 users, 100 different passwords",
            f"{r['seed_100_distinct_passwords_ms']} ms",
            "",
        ),
        (
            "create the 100 users over HTTP (POST /api/admin/users)",
            f"{r['create_100_over_http_ms']} ms",
            "",
        ),
        (
            "example project's test suite (examples/user-provisioning)",
            f"{r['example_suite_s']} s",
            "",
        ),
    ]
    lines = [
        "# Fake Grafana benchmarks",
        "",
        f"{when}, {platform.python_implementation()} {platform.python_version()},"
        f" {os.cpu_count()} CPUs, medians of {r['rounds']} rounds (resets: of 200).",
        "Command: `python -m bench.fake`.",
        "",
        "| measure | result | goal |",
        "|---|---|---|",
        *[f"| {name} | {value} | {goal} |" for name, value, goal in rows],
        "",
        "Seeding hashes each distinct password once per fake (PBKDF2, 10,000 rounds, ~10 ms) and",
        "writes all users in one transaction: users sharing a password share its salt and hash",
        "(fixtures, not accounts to protect). 100 different passwords still cost 100 hashes.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results = run(rounds)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fake.json").write_text(json.dumps({"when": when, **results}, indent=2) + "\n")
    text = markdown(results, when)
    (RESULTS / "fake.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
