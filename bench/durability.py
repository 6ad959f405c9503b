"""`python -m bench.durability`: what SQLite's safe synchronous mode costs writes.

The server opens SQLite in WAL mode with `PRAGMA synchronous=FULL` by default: the WAL is
synced at every commit, so a write the API has acknowledged survives a power loss.
`USERAPI_SQLITE_SYNCHRONOUS=NORMAL` syncs only at checkpoints: faster commits, and after
a power loss the database is intact but the last acknowledged writes may be gone.

Measured here, side by side in interleaved rounds on the same disk:

* the server (`python -m handlers`, a SQLite file in a temporary folder, 127.0.0.1):
  `PUT /api/user` (a one-row write transaction) from 1 and from 4 connections, each
  request waiting for its answer; requests per second and the median latency;
* plain SQLite: one-row UPDATE commits in a loop, µs per commit (the floor).

Writes bench/results/durability.md and .json.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MODES = ("FULL", "NORMAL")
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}


def sqlite_commits(folder: Path, mode: str, commits: int) -> float:
    """µs per one-row UPDATE commit, WAL mode, this synchronous mode."""
    path = folder / f"plain-{mode}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={mode}")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, n INTEGER)")
    conn.execute("INSERT OR REPLACE INTO t VALUES (1, 0)")
    started = time.perf_counter()
    for n in range(commits):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE t SET n = ? WHERE id = 1", (n,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed / commits * 1e6


def writer(port: int, until: float, latencies: list[float], errors: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = ADMIN | {"Content-Type": "application/json"}
    n = 0
    while time.monotonic() < until:
        name = f"Admin {threading.get_ident()} {n}"
        body = json.dumps({"login": "admin", "email": "admin@localhost", "name": name})
        started = time.perf_counter()
        conn.request("PUT", "/api/user", body, headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            errors.append(str(response.status))
        latencies.append((time.perf_counter() - started) * 1000)
        n += 1
    conn.close()


def server_writes(folder: Path, mode: str, connections: int, seconds: float) -> dict[str, Any]:
    from tests.support.live import running_server

    url = f"sqlite:///{folder / f'server-{mode}-{connections}-{time.monotonic_ns()}.db'}"
    env = {"USERAPI_SQLITE_SYNCHRONOUS": mode}
    with running_server(url, folder / "server.log", env) as server:
        warm: list[float] = []
        writer(server.port, time.monotonic() + 1, warm, [])  # connections, caches
        latencies: list[float] = []
        errors: list[str] = []
        until = time.monotonic() + seconds
        threads = [
            threading.Thread(target=writer, args=(server.port, until, latencies, errors))
            for _ in range(connections)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    if errors:
        raise RuntimeError(f"{mode}: {len(errors)} failed writes, e.g. {errors[:3]}")
    return {
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2),
    }


def run(seconds: float, rounds: int, commits: int) -> dict[str, Any]:
    plain: dict[str, list[float]] = {mode: [] for mode in MODES}
    server: dict[str, dict[int, list[dict[str, Any]]]] = {m: {1: [], 4: []} for m in MODES}
    with tempfile.TemporaryDirectory(prefix="durability-") as name:
        folder = Path(name)
        for round_ in range(rounds):
            for mode in MODES if round_ % 2 == 0 else MODES[::-1]:
                plain[mode].append(sqlite_commits(folder, mode, commits))
                for connections in (1, 4):
                    result = server_writes(folder, mode, connections, seconds)
                    server[mode][connections].append(result)
                    print(f"round {round_ + 1} {mode} x{connections}: {result}", flush=True)
    best = {
        mode: {
            str(c): max(runs, key=lambda r: float(r["requests_per_second"]))
            for c, runs in by_connections.items()
        }
        for mode, by_connections in server.items()
    }
    return {
        "plain_us_per_commit": {mode: round(min(v), 1) for mode, v in plain.items()},
        "server_best": best,
        "server_rounds": {m: {str(c): r for c, r in v.items()} for m, v in server.items()},
    }


def markdown(data: dict[str, Any]) -> str:
    plain = data["plain_us_per_commit"]
    best = data["server_best"]
    lines = [
        "# Durability: SQLite synchronous=FULL (the default) against NORMAL",
        "",
        f"`{data['command']}` on {data['when']} ({data['machine']}); {data['rounds']}"
        f" interleaved rounds of {data['seconds']:g} s per server run, the best round shown.",
        "",
        "| | FULL (default) | NORMAL | FULL costs |",
        "|---|---:|---:|---:|",
        f"| plain SQLite, µs per one-row commit | {plain['FULL']} | {plain['NORMAL']} |"
        f" +{plain['FULL'] - plain['NORMAL']:.0f} µs |",
    ]
    for connections in ("1", "4"):
        full, normal = best["FULL"][connections], best["NORMAL"][connections]
        ratio = full["requests_per_second"] / normal["requests_per_second"]
        lines.append(
            f"| server, `PUT /api/user`, {connections} connection(s): req/s |"
            f" {full['requests_per_second']} | {normal['requests_per_second']} |"
            f" {(1 - ratio) * 100:.0f}% fewer |"
        )
        lines.append(
            f"| server, `PUT /api/user`, {connections} connection(s): p50 ms |"
            f" {full['p50_ms']} | {normal['p50_ms']} |"
            f" +{full['p50_ms'] - normal['p50_ms']:.2f} ms |"
        )
    lines += [
        "",
        "FULL syncs the WAL at every commit, so an acknowledged write survives a power loss;"
        " NORMAL syncs at checkpoints only (the database stays consistent, the last commits"
        " may be lost). Either survives a crash of the server process itself. Reads are not"
        " affected. The figures depend on the disk's fsync cost; this machine's disk is"
        " what was measured.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.durability", description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="per server run (8)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (2)")
    parser.add_argument("--commits", type=int, default=2000, help="plain SQLite commits (2000)")
    options = parser.parse_args(argv)
    data = run(options.seconds, options.rounds, options.commits)
    data |= {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench.durability " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}",
        "seconds": options.seconds,
        "rounds": options.rounds,
    }
    data["command"] = data["command"].strip()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "durability.json").write_text(json.dumps(data, indent=1) + "\n")
    (RESULTS / "durability.md").write_text(markdown(data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
