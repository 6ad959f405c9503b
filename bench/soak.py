"""`python -m bench.soak [--minutes 10]`: anonymous junk alongside normal traffic, on loopback.

The server (`python -m handlers`, a SQLite file in a temporary folder) runs as a
subprocess on a free 127.0.0.1 port. After a short warm-up of every kind of request, the
normal traffic alone measures an idle baseline; then a second process (bench/junk.py) sends
anonymous junk for the soak's length while the normal traffic goes on:

* random unmatched paths and methods,
* failed logins with long user names (Basic auth and POST /login; unknown names, and
  wrong passwords for one existing account),
* stalled chunked and fixed-length uploads (answered 408 when the read timeout ends),
* slow request heads (a header line a second, then the client goes away),
* oversized bodies and an oversized request head.

Every few seconds it samples the server's RSS, open file descriptors (/proc/PID/fd),
the database file (main file and WAL), and it times every normal request
(GET /api/user, search, lookup, one at a time on a keep-alive connection). When the junk
stops, it waits for the server to close the junk's connections. The bounds (`BOUNDS`) are
checked; `python -m bench.soak` writes bench/results/soak.md and .json.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.junk import VICTIM, JunkPlan

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ADMIN = "Basic " + base64.b64encode(b"admin:admin").decode()
VICTIM_PASSWORD = "victim-password"
MIB = 1 << 20


@dataclass(frozen=True)
class Bounds:
    """What "flat" means. RSS and the database are compared between the first samples
    after the warm-up and the last quarter of the soak; the open files must come back to
    the idle count once the junk has stopped and its connections are closed."""

    rss_growth_mib: float = 24.0  # SQLite's page cache (2 MiB per pooled connection) settles
    live_growth_mib: float = 0.5  # data pages: old failed-login records are deleted, reused
    db_growth_mib: float = 1.0  # the main file (grows only at WAL checkpoints)
    wal_max_mib: float = 16.0  # the WAL is checkpointed at ~4 MiB; reused, never truncated
    socket_leftover: int = 2  # sockets after the junk is gone, beyond the idle count
    # Other open files may grow with SQLite's pool: 16 kept connections, each holding the
    # database and its WAL open (and the shared-memory file per process).
    file_growth: int = 48
    metric_lines: int = 60  # new /metrics lines: a few new (route, status) pairs, not a path each
    latency_ratio: float = 2.0  # normal p50 under junk / idle
    tail_ratio: float = 2.0  # normal p95 under junk / idle


BOUNDS = Bounds()


@dataclass
class Sample:
    at: float  # seconds since the soak began (negative: before it)
    phase: str
    rss_mib: float
    fds: int
    sockets: int
    db_mib: float
    wal_mib: float
    live_mib: float  # pages holding data: page_count - freelist_count, as committed


@dataclass
class Report:
    seconds: float
    bounds: Bounds
    samples: list[Sample] = field(default_factory=list)
    idle_ms: list[float] = field(default_factory=list)
    soak_ms: list[float] = field(default_factory=list)
    normal_errors: Counter[str] = field(default_factory=Counter)
    junk: dict[str, Any] = field(default_factory=dict)
    idle: Sample | None = None  # the vital signs before the junk
    after: Sample | None = None  # and once it had gone
    metric_lines: tuple[int, int] = (0, 0)  # /metrics lines before and after the soak
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(passed for _, passed, _ in self.checks)

    def failures(self) -> list[str]:
        return [f"{name}: {detail}" for name, passed, detail in self.checks if not passed]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- the server's vital signs -------------------------------------------------------


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def open_fds(pid: int) -> tuple[int, int]:
    """The process's open file descriptors, and how many of them are sockets."""
    fds = os.listdir(f"/proc/{pid}/fd")
    sockets = 0
    for fd in fds:
        with contextlib.suppress(OSError):  # closed meanwhile
            sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    return len(fds), sockets


def live_mib(path: Path) -> float:
    """The database's pages that hold data, as committed (read through the WAL)."""
    if not path.exists():
        return 0.0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        pages, free, size = (
            conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("page_count", "freelist_count", "page_size")
        )
    finally:
        conn.close()
    return float((pages - free) * size / MIB)


def file_mib(path: Path) -> float:
    try:
        return path.stat().st_size / MIB
    except FileNotFoundError:
        return 0.0


# --- normal traffic: one keep-alive connection, one request at a time --------------------


class Normal:
    """GET /api/user, a search and a lookup in turn, `pause` seconds apart, timed."""

    PATHS = (
        "/api/user",
        "/api/users/search?query=soak&perpage=10",
        f"/api/users/lookup?loginOrEmail={VICTIM}",
    )

    def __init__(self, port: int, pause: float = 0.05) -> None:
        self.port = port
        self.pause = pause
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.errors: Counter[str] = Counter()

    def request(self, path: str) -> float:
        started = time.perf_counter()
        try:
            self.conn.request("GET", path, headers={"Authorization": ADMIN})
            response = self.conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()  # reconnects on the next request
            self.errors[type(exc).__name__] += 1
            return float("nan")
        if status != 200:
            self.errors[f"HTTP {status}"] += 1
        return (time.perf_counter() - started) * 1000

    def run(self, seconds: float) -> list[float]:
        # A new connection per phase: between phases the old one sat idle past the
        # server's keep-alive timeout (5 s), and the server has rightly closed it.
        self.conn.close()
        latencies: list[float] = []
        end = time.monotonic() + seconds
        n = 0
        while time.monotonic() < end:
            ms = self.request(self.PATHS[n % len(self.PATHS)])
            if ms == ms:  # not NaN
                latencies.append(ms)
            n += 1
            time.sleep(self.pause)
        return latencies


# --- the soak -----------------------------------------------------------------------------


class Sampler(threading.Thread):
    def __init__(self, pid: int, db: Path, every: float, began: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.db, self.every, self.began = pid, db, every, began
        self.phase = "warm-up"
        self.samples: list[Sample] = []
        self.stopped = threading.Event()

    def take(self) -> Sample:
        fds, sockets = open_fds(self.pid)
        sample = Sample(
            at=round(time.monotonic() - self.began, 1),
            phase=self.phase,
            rss_mib=round(rss_mib(self.pid), 1),
            fds=fds,
            sockets=sockets,
            db_mib=round(file_mib(self.db), 2),
            wal_mib=round(file_mib(self.db.with_name(self.db.name + "-wal")), 2),
            live_mib=round(live_mib(self.db), 3),
        )
        self.samples.append(sample)
        return sample

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.take()


def metric_lines(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        return len(conn.getresponse().read().splitlines())
    finally:
        conn.close()


def seed(port: int) -> None:
    """The account the normal traffic looks up and the junk fails to log in as."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps(
        {"login": VICTIM, "email": f"{VICTIM}@example.com", "password": VICTIM_PASSWORD}
    )
    headers = {"Authorization": ADMIN, "Content-Type": "application/json"}
    conn.request("POST", "/api/admin/users", body, headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"could not create {VICTIM}: {response.status}")


def run_junk(plan: JunkPlan) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bench.junk", json.dumps(asdict(plan))]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def soak(
    seconds: float,
    folder: Path,
    *,
    idle_seconds: float = 20.0,
    warmup_seconds: float = 10.0,
    sample_every: float = 5.0,
    read_timeout: float = 30.0,
    plan: dict[str, float] | None = None,
    bounds: Bounds = BOUNDS,
    progress: Callable[[str], None] = lambda _: None,
) -> Report:
    """Run the whole soak against a new server in `folder`; returns the checked report."""
    from tests.support.live import ServerProcess

    db = folder / "soak.db"
    env = {"GF_SERVER_READ_TIMEOUT": f"{read_timeout}s"}
    server = ServerProcess(f"sqlite:///{db}", folder / "server.log", env)
    report = Report(seconds=seconds, bounds=bounds)
    server.start()
    try:
        seed(server.port)
        began = time.monotonic() + warmup_seconds + idle_seconds
        sampler = Sampler(server.pid, db, sample_every, began)
        sampler.start()
        normal = Normal(server.port)
        junk_options = {"port": server.port, "read_timeout": read_timeout, **(plan or {})}

        progress(f"warm-up {warmup_seconds:.0f} s: a little of everything")
        warm = run_junk(JunkPlan(seconds=warmup_seconds, **junk_options))
        normal.run(warmup_seconds)
        warm.communicate(timeout=read_timeout + 60)
        normal.errors.clear()

        progress(f"idle baseline {idle_seconds:.0f} s: normal traffic alone")
        sampler.phase = "idle"
        report.idle = sampler.take()
        before = metric_lines(server.port)
        report.idle_ms = normal.run(idle_seconds)

        progress(f"soak {seconds:.0f} s: junk alongside normal traffic")
        sampler.phase = "soak"
        junk = run_junk(JunkPlan(seconds=seconds, **junk_options))
        report.soak_ms = normal.run(seconds)
        out, _ = junk.communicate(timeout=read_timeout + 60)
        report.junk = json.loads(out) if junk.returncode == 0 else {"exit": junk.returncode}
        report.normal_errors = normal.errors
        normal.conn.close()

        # The junk's connections are closed by now (the junk process has exited); give the
        # server a moment to notice, then count what it still holds open.
        sampler.phase = "after"
        deadline = time.monotonic() + 10
        while True:
            after = sampler.take()
            enough = after.sockets <= report.idle.sockets + bounds.socket_leftover
            if enough or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        report.after = after
        report.metric_lines = (before, metric_lines(server.port))
        sampler.stopped.set()
        sampler.join()
        report.samples = sampler.samples
    finally:
        server.stop()
    check(report)
    return report


def check(report: Report) -> None:
    bounds = report.bounds
    soaked = [s for s in report.samples if s.phase == "soak"]
    add = report.checks.append
    if len(soaked) < 4:
        add(("samples", False, f"only {len(soaked)} samples during the soak"))
        return
    quarter = max(1, len(soaked) // 4)
    first, last = soaked[:quarter], soaked[-quarter:]
    rss_growth = max(s.rss_mib for s in last) - statistics.median(s.rss_mib for s in first)
    add(
        (
            "RSS flat",
            rss_growth <= bounds.rss_growth_mib,
            f"last quarter's peak is {rss_growth:+.1f} MiB from the first quarter's median"
            f" (bound {bounds.rss_growth_mib} MiB)",
        )
    )
    live_growth = max(s.live_mib for s in last) - min(s.live_mib for s in first)
    add(
        (
            "data flat",
            live_growth <= bounds.live_growth_mib,
            f"pages in use {live_growth:+.3f} MiB (bound {bounds.live_growth_mib} MiB)",
        )
    )
    db_growth = max(s.db_mib for s in last) - min(s.db_mib for s in first)
    add(
        (
            "database flat",
            db_growth <= bounds.db_growth_mib,
            f"main file {db_growth:+.2f} MiB (bound {bounds.db_growth_mib} MiB)",
        )
    )
    wal = max(s.wal_mib for s in report.samples)
    add(("WAL bounded", wal <= bounds.wal_max_mib, f"peak {wal:.1f} MiB"))
    idle, after = report.idle, report.after
    assert idle is not None and after is not None
    leftover = after.sockets - idle.sockets
    add(
        (
            "connections back to idle",
            leftover <= bounds.socket_leftover,
            f"{after.sockets} sockets after the junk vs {idle.sockets} idle"
            f" (peak {max(s.sockets for s in soaked)} during)",
        )
    )
    files = (after.fds - after.sockets) - (idle.fds - idle.sockets)
    add(
        (
            "other open files bounded",
            files <= bounds.file_growth,
            f"{after.fds - after.sockets} after the junk vs {idle.fds - idle.sockets} idle"
            f" (bound +{bounds.file_growth})",
        )
    )
    grown = report.metric_lines[1] - report.metric_lines[0]
    add(
        (
            "metric series flat",
            grown <= bounds.metric_lines,
            f"/metrics {report.metric_lines[0]} -> {report.metric_lines[1]} lines",
        )
    )
    for q, ratio in ((0.5, bounds.latency_ratio), (0.95, bounds.tail_ratio)):
        idle, loaded = percentile(report.idle_ms, q), percentile(report.soak_ms, q)
        add(
            (
                f"normal p{round(q * 100)} within {ratio:g}x idle",
                loaded <= ratio * idle,
                f"{loaded:.2f} ms under junk vs {idle:.2f} ms idle ({loaded / idle:.2f}x)",
            )
        )
    add(("normal traffic answered", not report.normal_errors, str(dict(report.normal_errors))))
    answers: dict[str, int] = report.junk.get("answers", {})
    errors = {k: v for k, v in answers.items() if k.split(" ")[-1].startswith("5")}
    add(("junk ran", sum(answers.values()) > 0, f"{sum(answers.values())} junk requests"))
    add(("no 5xx for junk", not errors, str(errors) if errors else "none"))


# --- results --------------------------------------------------------------------------


def summary(report: Report) -> dict[str, Any]:
    soaked = [s for s in report.samples if s.phase == "soak"]

    def span(values: list[float]) -> dict[str, float]:
        return {"min": min(values), "max": max(values), "last": values[-1]}

    return {
        "rss_mib": span([s.rss_mib for s in soaked]),
        "fds": span([float(s.fds) for s in soaked]),
        "sockets": span([float(s.sockets) for s in soaked]),
        "db_mib": span([s.db_mib for s in soaked]),
        "wal_mib": span([s.wal_mib for s in soaked]),
        "live_mib": span([s.live_mib for s in soaked]),
        "idle": asdict(report.idle) if report.idle else None,
        "after": asdict(report.after) if report.after else None,
        "metric_lines": list(report.metric_lines),
        "latency_ms": {
            phase: {
                "requests": len(values),
                "p50": round(percentile(values, 0.5), 2),
                "p95": round(percentile(values, 0.95), 2),
                "p99": round(percentile(values, 0.99), 2),
            }
            for phase, values in (("idle", report.idle_ms), ("soak", report.soak_ms))
        },
    }


def write_results(report: Report, name: str, command: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    figures = summary(report)
    idle, after = report.idle, report.after
    assert idle is not None and after is not None
    data = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}",
        "soak_seconds": report.seconds,
        "bounds": asdict(report.bounds),
        "checks": [{"check": n, "passed": p, "detail": d} for n, p, d in report.checks],
        "figures": figures,
        "junk": report.junk,
        "samples": [asdict(s) for s in report.samples],
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    lat = figures["latency_ms"]
    lines = [
        "# Soak: anonymous junk alongside normal traffic",
        "",
        f"`{command}` on {data['when']} ({data['machine']}). The server is `python -m handlers`"
        " on a SQLite file, default settings (30 s read timeout), 127.0.0.1 only.",
        f"{report.seconds / 60:.0f} minutes of junk; what each kind of junk got back, by status:",
        "",
        "| junk | answers |",
        "|---|---:|",
        *[
            f"| {kind} | {count:,} |"
            for kind, count in sorted(report.junk.get("answers", {}).items())
        ],
        "",
        "## Checks",
        "",
        "| check | result | figures |",
        "|---|---|---|",
        *[f"| {n} | {'pass' if p else '**FAIL**'} | {d} |" for n, p, d in report.checks],
        "",
        "## Figures during the soak",
        "",
        "| | min | max | last |",
        "|---|---:|---:|---:|",
        *[
            "| {} | {min:g} | {max:g} | {last:g} |".format(label, **figures[key])
            for label, key in (
                ("RSS (MiB)", "rss_mib"),
                ("open files", "fds"),
                ("of them sockets", "sockets"),
                ("database file (MiB)", "db_mib"),
                ("WAL file (MiB)", "wal_mib"),
                ("database pages in use (MiB)", "live_mib"),
            )
        ],
        "",
        f"Open files (of them sockets): {idle.fds} ({idle.sockets}) idle,"
        f" {after.fds} ({after.sockets}) once the junk had gone.",
        "",
        "| normal traffic (GET /api/user, search, lookup) | requests | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|",
        *[
            f"| {phase} | {v['requests']:,} | {v['p50']} | {v['p95']} | {v['p99']} |"
            for phase, v in lat.items()
        ],
        "",
        "Samples every few seconds are in the .json file.",
        "",
    ]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(lines))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="soak length (10)")
    parser.add_argument("--name", default="soak", help="results file name (soak)")
    options = parser.parse_args(args)
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        report = soak(
            options.minutes * 60,
            Path(folder),
            progress=lambda text: print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True),
        )
    command = "python -m bench.soak" + (
        f" --minutes {options.minutes:g}" if options.minutes != 10 else ""
    )
    path = write_results(report, options.name, command)
    for name, passed, detail in report.checks:
        print(f"{'pass' if passed else 'FAIL'}  {name}: {detail}")
    print(f"wrote {path.relative_to(ROOT)}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
