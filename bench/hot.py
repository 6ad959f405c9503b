"""`python -m bench.hot`: our own cost per request on the hot reads, per credential and
backend, against connexion's floor (issue 14, parts 1 and 2).

One invocation seeds a SQLite file and (when PostgreSQL's binaries are installed) a private
PostgreSQL cluster, starts every server on 127.0.0.1 and drives each with wrk in
interleaved rounds, one server under load at a time. Scenarios:

* GET /api/user, SQLite, one worker: the connexion floor (bench/connexion_floor.py) and
  ours with basic auth, a session cookie and a service-account token;
* the hot reads (GET /api/user, search by query, lookup, a user by id) with each
  credential that may read them (a service account is no Grafana Admin: it may read only
  GET /api/user), on SQLite and on PostgreSQL;
* GET /api/user on PostgreSQL with one and with two workers.

Ratios come from one run (best round of each); CPU ms per request is the server's process
tree's CPU time over the requests served (DB CPU: the PostgreSQL cluster's).

    python -m bench.hot [--duration 5] [--rounds 3] [--users 10000] [--no-postgres]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.load import LoadResult, run_wrk
from bench.procs import Server, http_get, running
from bench.report import RESULTS, _fmt, _ratio, target_row, targets_table
from bench.runner import (
    AUTH_HEADERS,
    Config,
    Report,
    connexion_floor,
    log,
    machine,
    maybe_postgres,
    ours,
    postgres_pids,
    search_queries,
    seed,
    versions,
)
from handlers.seed import identity
from tests.support.postgres import find_bin_dir

CREDENTIALS = ("basic", "cookie", "token")
# What each credential may read here: a service account is no Grafana Admin (users:read is
# a Grafana Admin's), so the /api/users reads would only measure a 403.
READS = {
    "GET /api/user": ("basic", "cookie", "token"),
    "search": ("basic", "cookie"),
    "lookup": ("basic", "cookie"),
    "by id": ("basic", "cookie"),
}


@dataclass
class HotConfig:
    users: int = 10_000
    duration: float = 5.0
    rounds: int = 3
    connections: int = 16
    postgres: bool = True
    name: str = "hot"
    reads: tuple[str, ...] = tuple(READS)


@dataclass
class HotReport:
    config: HotConfig
    started: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    servers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def best(self, scenario: str) -> dict[str, Any] | None:
        found = [r for r in self.runs if r["scenario"] == scenario]
        return max(found, key=lambda r: r["rps"]) if found else None

    def rps(self, scenario: str) -> float | None:
        best = self.best(scenario)
        return float(best["rps"]) if best else None


def _post_json(port: int, path: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            path,
            json.dumps(body),
            headers={**headers, "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        data = response.read()
        if not 200 <= response.status < 300:
            raise RuntimeError(f"POST {path} answered {response.status}: {data[:200]!r}")
        return response, json.loads(data)
    finally:
        conn.close()


def credentials(port: int) -> dict[str, dict[str, str]]:
    """Request headers for each credential: the admin's basic auth, a session cookie of a
    login, and a token of a new service account with the Admin role."""
    response, _ = _post_json(port, "/login", {"user": "admin", "password": "admin"}, {})
    cookie = next(
        value.split(";", 1)[0]
        for name, value in response.getheaders()
        if name.lower() == "set-cookie" and value.startswith("grafana_session=")
    )
    name = f"bench-{os.getpid()}-{time.monotonic_ns()}"
    _, account = _post_json(
        port, "/api/serviceaccounts", {"name": name, "role": "Admin"}, AUTH_HEADERS
    )
    _, token = _post_json(
        port, f"/api/serviceaccounts/{account['id']}/tokens", {"name": name}, AUTH_HEADERS
    )
    return {
        "basic": dict(AUTH_HEADERS),
        "cookie": {"Cookie": cookie},
        "token": {"Authorization": f"Bearer {token['key']}"},
    }


def read_paths(users: int) -> dict[str, list[str]]:
    """Rotated request paths per hot read: 50 search queries, 50 logins to look up, 50 ids."""
    ids = [2 + (i * 7919) % max(users, 1) for i in range(50)]
    return {
        "GET /api/user": ["/api/user"],
        "search": [
            "/api/users/search?query=" + q.replace(" ", "%20") for q in search_queries(users, 50)
        ],
        "lookup": [f"/api/users/lookup?loginOrEmail={identity(i - 2)[0]}" for i in ids],
        "by id": [f"/api/users/{i}" for i in ids],
    }


def _record(report: HotReport, scenario: str, credential: str, result: LoadResult) -> None:
    row = {"scenario": scenario, "credential": credential, **result.as_dict()}
    report.runs.append(row)
    log(
        f"  {scenario} [{credential}]: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms,"
        f" cpu {result.cpu_ms_per_request:.3f} ms/req, {result.errors} errors"
    )


@dataclass
class Plan:
    """One timed load: a scenario's name, its server, credential headers and paths."""

    scenario: str
    server: Server
    credential: str
    headers: dict[str, str]
    paths: list[str]
    db_pids: Callable[[], list[int]] | None = None


def drive(report: HotReport, plans: Sequence[Plan]) -> None:
    cfg = report.config
    for round_ in range(cfg.rounds):
        log(f"round {round_ + 1}/{cfg.rounds}")
        for plan in plans:
            # Each path answers 200 before it is timed (a 4xx would measure an error path).
            for path in plan.paths[:3]:
                http_get(plan.server.port, path, plan.headers)
            result = run_wrk(
                plan.server,
                plan.scenario,
                plan.paths,
                plan.headers,
                connections=cfg.connections,
                seconds=cfg.duration,
                db_pids=plan.db_pids,
            )
            if result.errors:
                raise RuntimeError(f"{plan.scenario} [{plan.credential}]: {result.errors} errors")
            _record(report, plan.scenario, plan.credential, result)


def _seed(url: str, backend: str, users: int, db_pids: Callable[[], list[int]]) -> None:
    config = Config(
        name="hot",
        users=users,
        duration=0,
        connections=0,
        search_connections=0,
        rounds=0,
        queries=0,
        orgs=2,
        teams=10,
        postgres=False,
        prism=False,
        keep=False,
        quick=True,
    )
    seed(Report(config=config), backend, url, db_pids)


def backend_plans(
    report: HotReport, backend: str, server: Server, db_pids: Callable[[], list[int]] | None
) -> list[Plan]:
    creds = credentials(server.port)
    paths = read_paths(report.config.users)
    return [
        Plan(f"{read} / {backend}", server, credential, creds[credential], paths[read], db_pids)
        for read, allowed in READS.items()
        if read in report.config.reads
        for credential in allowed
    ]


def run(cfg: HotConfig) -> HotReport:
    started = time.perf_counter()
    pg_bin = find_bin_dir() if cfg.postgres else None
    report = HotReport(config=cfg, started=datetime.now(UTC).isoformat(timespec="seconds"))
    report.machine = machine()
    report.versions = versions(pg_bin)
    work = Path(tempfile.mkdtemp(prefix="userapi-bench-hot-"))
    logs = work / "logs"
    logs.mkdir()
    sqlite_url = f"sqlite:///{work / 'hot.db'}"
    try:
        _seed(sqlite_url, "sqlite", cfg.users, list)
        main = ours("ours [sqlite]", sqlite_url, logs)
        with maybe_postgres(pg_bin is not None) as pg_url, running([main]):
            body = http_get(main.port, "/api/user", AUTH_HEADERS)
            floor = connexion_floor(body, logs)
            servers = [floor, main]
            plans = [
                Plan("GET /api/user / floor", floor, "basic", dict(AUTH_HEADERS), ["/api/user"])
            ]
            plans += backend_plans(report, "sqlite", main, None)
            if pg_url is not None:
                url = pg_url

                def db() -> list[int]:
                    return postgres_pids(url)

                _seed(pg_url, "postgresql", cfg.users, db)
                one = ours("ours [postgresql, 1 worker]", pg_url, logs)
                two = ours("ours [postgresql, 2 workers]", pg_url, logs, workers=2)
                servers += [one, two]
                with running([one, two]):
                    plans += backend_plans(report, "postgresql", one, db)
                    plans.append(
                        Plan(
                            "GET /api/user / postgresql, 2 workers",
                            two,
                            "basic",
                            dict(AUTH_HEADERS),
                            ["/api/user"],
                            db,
                        )
                    )
                    with running([floor]):
                        _describe(report, servers, sqlite_url, pg_url)
                        drive(report, plans)
            else:
                with running([floor]):
                    _describe(report, servers, sqlite_url, None)
                    drive(report, plans)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report.seconds = round(time.perf_counter() - started, 1)
    return report


def _describe(report: HotReport, servers: Sequence[Server], sqlite: str, pg: str | None) -> None:
    for server in servers:
        command = server.command.replace(sqlite, "<sqlite url>").replace(sys.executable, "python")
        report.servers[server.name] = command.replace(pg, "<postgresql url>") if pg else command


# -- report -----------------------------------------------------------------------------------


# Issue 14: two PostgreSQL workers against one, req/s.
TWO_WORKERS_GOAL = 1.7


def targets(report: HotReport) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float | None, goal: float) -> None:
        rows.append(target_row(name, value, goal, True, "x"))

    sqlite = _credential_rps(report, "GET /api/user / sqlite", "basic")
    add(
        "GET /api/user, SQLite, 1 worker: ours / connexion floor (req/s)",
        _ratio(sqlite, report.rps("GET /api/user / floor")),
        0.85,
    )
    pg_one = _credential_rps(report, "GET /api/user / postgresql", "basic")
    add("GET /api/user, PostgreSQL / SQLite, 1 worker (req/s)", _ratio(pg_one, sqlite), 0.75)
    add(
        "GET /api/user, PostgreSQL: 2 workers / 1 worker (req/s)",
        _ratio(report.rps("GET /api/user / postgresql, 2 workers"), pg_one),
        TWO_WORKERS_GOAL,
    )
    for backend in ("sqlite", "postgresql"):
        base = _credential_rps(report, f"GET /api/user / {backend}", "basic")
        for credential in ("cookie", "token"):
            value = _credential_rps(report, f"GET /api/user / {backend}", credential)
            add(f"GET /api/user, {backend}: {credential} / basic (req/s)", _ratio(value, base), 0.9)
    return rows


def two_worker_cores(report: HotReport) -> str | None:
    """What one PostgreSQL worker's run keeps busy, and what two workers at the target's
    TWO_WORKERS_GOAL would need: the server's and the database's CPU per request times req/s (wrk's
    own share aside), against the machine's cores."""
    one = [
        r
        for r in report.runs
        if r["scenario"] == "GET /api/user / postgresql" and r["credential"] == "basic"
    ]
    if not one:
        return None
    best = max(one, key=lambda r: r["rps"])
    server = float(statistics.median(r["cpu_ms_per_request"] for r in one))
    db_values = [r["db_cpu_ms_per_request"] for r in one if r["db_cpu_ms_per_request"]]
    database = float(statistics.median(db_values)) if db_values else 0.0
    busy = best["rps"] * (server + database) / 1000
    needed = busy * TWO_WORKERS_GOAL
    cores = report.machine.get("cores")
    return (
        f"GET /api/user, PostgreSQL, 1 worker: {best['rps']:,.0f} req/s x ({server:.3f} ms of"
        f" server CPU + {database:.3f} ms of the database's) = {busy:.2f} cores busy (wrk"
        f" aside); 2 workers at {TWO_WORKERS_GOAL:g}x would need {needed:.2f} cores"
        + (f" of this machine's {cores}." if cores else ".")
    )


def _credential_rps(report: HotReport, scenario: str, credential: str) -> float | None:
    found = [
        r["rps"] for r in report.runs if r["scenario"] == scenario and r["credential"] == credential
    ]
    return max(found) if found else None


def markdown(report: HotReport) -> str:
    cfg = report.config
    lines = [
        f"# Benchmark `{cfg.name}`: our cost per request on the hot reads",
        "",
        f"Run {report.started} in {report.seconds:.0f} s: {cfg.users:,} seeded users,"
        f" {cfg.duration:g} s per load run, {cfg.rounds} interleaved round(s),"
        f" wrk with {cfg.connections} connections. Req/s is each load's best round; latencies"
        " and CPU per request are medians over rounds. CPU ms/req: the server's process tree;"
        " DB CPU ms/req: the PostgreSQL cluster's. `python -m bench.hot` (bench/hot.py).",
        "",
        "## Targets",
        "",
        *targets_table(targets(report)),
    ]
    needed = two_worker_cores(report)
    if needed:
        lines += ["", needed]
    lines += [
        "",
        "## Loads",
        "",
        "| load | credential | req/s | p50 ms | p99 ms | CPU ms/req | DB CPU ms/req | RSS MB"
        " | rounds |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    keys: list[tuple[str, str]] = []
    for row in report.runs:
        if (row["scenario"], row["credential"]) not in keys:
            keys.append((row["scenario"], row["credential"]))
    for scenario, credential in keys:
        rows = [
            r for r in report.runs if r["scenario"] == scenario and r["credential"] == credential
        ]
        best = max(r["rps"] for r in rows)
        db = [r["db_cpu_ms_per_request"] for r in rows if r["db_cpu_ms_per_request"] is not None]
        lines.append(
            f"| {scenario} | {credential} | {best:,.0f}"
            f" | {statistics.median(r['p50_ms'] for r in rows):.2f}"
            f" | {statistics.median(r['p99_ms'] for r in rows):.2f}"
            f" | {statistics.median(r['cpu_ms_per_request'] for r in rows):.3f}"
            f" | {_fmt(statistics.median(db) if db else None, digits=3)}"
            f" | {max(r['rss_mb'] for r in rows):.0f} | {len(rows)} |"
        )
    lines += ["", "## Machine and versions", ""]
    lines += [f"* {k}: {v}" for k, v in {**report.machine, **report.versions}.items()]
    lines += ["", "## Commands", "", "```"]
    for name, command in report.servers.items():
        lines += [f"# {name}", command]
    lines += ["```", ""]
    return "\n".join(lines)


def write(report: HotReport) -> tuple[Path, Path]:
    RESULTS.mkdir(exist_ok=True)
    md = RESULTS / f"{report.config.name}.md"
    js = RESULTS / f"{report.config.name}.json"
    md.write_text(markdown(report), encoding="utf-8")
    js.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return md, js


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hot", description=__doc__)
    parser.add_argument("--users", type=int, default=10_000, help="users to seed (10,000)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load (5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--name", default="hot", help="results file name (hot)")
    parser.add_argument(
        "--reads",
        default=",".join(READS),
        help=f"comma-separated hot reads to load (default all: {', '.join(READS)})",
    )
    args = parser.parse_args(argv)
    reads = tuple(r.strip() for r in args.reads.split(",") if r.strip())
    if not reads or not set(reads) <= set(READS):
        parser.error(f"--reads takes some of: {', '.join(READS)}")
    if args.users < 100 or args.duration <= 0 or args.rounds < 1 or args.connections < 1:
        parser.error("--users >= 100, --duration > 0, --rounds >= 1 and --connections >= 1")
    cfg = HotConfig(
        args.users,
        args.duration,
        args.rounds,
        args.connections,
        not args.no_postgres,
        args.name,
        reads,
    )
    report = run(cfg)
    md, js = write(report)
    print(markdown(report))
    log(f"wrote {md} and {js}")


if __name__ == "__main__":
    main()
