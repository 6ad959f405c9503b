"""Drive a server with Debian's `wrk` (a C load generator) and read its numbers back."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.procs import Server, cpu_seconds, http_get, rss_bytes

# Rotates through the request paths; prints wrk's summary as one JSON line at the end.
LUA = """
local paths = {%(paths)s}
local i = 0
%(headers)s
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"mean_us":%%.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


def lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("the load generator `wrk` is missing: apt-get install -y wrk")
    return found


@dataclass
class LoadResult:
    server: str
    scenario: str
    connections: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    cpu_ms_per_request: float
    db_cpu_ms_per_request: float | None
    rss_mb: float
    command: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def run_wrk(
    server: Server,
    scenario: str,
    paths: Sequence[str],
    auth: str | Mapping[str, str],
    *,
    connections: int,
    seconds: float,
    db_pids: Callable[[], list[int]] | None = None,
) -> LoadResult:
    """One wrk run against a started server, with the server's CPU time and memory.
    `auth`: the Authorization header's value, or the request headers to send."""
    headers = {"Authorization": auth} if isinstance(auth, str) else dict(auth)
    lines = "\n".join(
        f"wrk.headers[{lua_string(name)}] = {lua_string(value)}" for name, value in headers.items()
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % {"paths": ", ".join(lua_string(p) for p in paths), "headers": lines})
    url = f"http://127.0.0.1:{server.port}"
    argv = [
        wrk_binary(),
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "60s",
        "-s",
        script.name,
        url,
    ]

    def db_cpu() -> float:
        return cpu_seconds(db_pids()) if db_pids else 0.0

    cpu_before, db_before = cpu_seconds(server.pids()), db_cpu()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    cpu_after, db_after = cpu_seconds(server.pids()), db_cpu()
    Path(script.name).unlink()
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    requests = max(int(data["requests"]), 1)
    duration = data["duration_us"] / 1e6
    errors = sum(int(data[k]) for k in ("connect", "read", "write", "status", "timeout"))
    return LoadResult(
        server=server.name,
        scenario=scenario,
        connections=connections,
        seconds=round(duration, 2),
        requests=int(data["requests"]),
        errors=errors,
        rps=round(data["requests"] / duration, 1),
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        mean_ms=round(data["mean_us"] / 1000, 3),
        cpu_ms_per_request=round((cpu_after - cpu_before) * 1000 / requests, 3),
        db_cpu_ms_per_request=(
            round((db_after - db_before) * 1000 / requests, 3) if db_pids else None
        ),
        rss_mb=round(rss_bytes(server.pids()) / 2**20, 1),
        command=" ".join(argv[:-3]) + f" -s <{len(paths)} paths> {url}",
    )


def run_sequential(
    server: Server,
    scenario: str,
    paths: Sequence[str],
    headers: dict[str, str],
    *,
    count: int,
    db_pids: Callable[[], list[int]] | None = None,
) -> LoadResult:
    """`count` requests one after the other (for servers so slow that a timed wrk run would
    complete none): the same figures as run_wrk, from Python's http.client."""

    def db_cpu() -> float:
        return cpu_seconds(db_pids()) if db_pids else 0.0

    cpu_before, db_before = cpu_seconds(server.pids()), db_cpu()
    latencies = []
    started = time.perf_counter()
    for i in range(count):
        sent = time.perf_counter()
        http_get(server.port, paths[i % len(paths)], headers)
        latencies.append((time.perf_counter() - sent) * 1000)
    duration = time.perf_counter() - started
    cpu_after, db_after = cpu_seconds(server.pids()), db_cpu()
    ordered = sorted(latencies)
    return LoadResult(
        server=server.name,
        scenario=scenario,
        connections=1,
        seconds=round(duration, 2),
        requests=count,
        errors=0,
        rps=round(count / duration, 2),
        p50_ms=round(statistics.median(ordered), 3),
        p90_ms=round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))], 3),
        p99_ms=round(ordered[-1], 3),
        mean_ms=round(statistics.fmean(ordered), 3),
        cpu_ms_per_request=round((cpu_after - cpu_before) * 1000 / count, 3),
        db_cpu_ms_per_request=(
            round((db_after - db_before) * 1000 / count, 3) if db_pids else None
        ),
        rss_mb=round(rss_bytes(server.pids()) / 2**20, 1),
        command=f"{count} sequential GETs (http.client) of the same paths",
    )
