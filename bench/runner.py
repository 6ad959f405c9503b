"""The benchmark run: seed, start every server, drive each with wrk, compare, write results.

Everything compared runs in one invocation, one server at a time under load (the others
idle), in interleaved rounds; the report's headline numbers are ratios between servers
measured minutes apart on the same machine, which survive a noisy, shared host far better
than absolute requests per second do.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import platform
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.load import LoadResult, run_sequential, run_wrk, wrk_binary
from bench.procs import Server, cpu_seconds, http_get, process_tree, running
from handlers.seed import identity
from tests.support.postgres import find_bin_dir, free_port, running_postgres

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PRISM = BENCH / "node_modules" / ".bin" / "prism"
FLOOR = "connexion floor (no database)"
ADMIN = "Basic " + base64.b64encode(b"admin:admin").decode()
AUTH_HEADERS = {"Authorization": ADMIN}


@dataclass
class Config:
    name: str
    users: int
    duration: float
    connections: int
    search_connections: int
    rounds: int
    queries: int
    orgs: int
    teams: int
    postgres: bool
    prism: bool
    keep: bool
    quick: bool


@dataclass
class Report:
    config: Config
    started: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    seeds: list[dict[str, Any]] = field(default_factory=list)
    runs: list[LoadResult] = field(default_factory=list)
    startups: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    servers: dict[str, str] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def best(self, scenario: str, server: str) -> LoadResult | None:
        """The round with the most requests per second (the least disturbed one)."""
        found = [r for r in self.runs if r.scenario == scenario and r.server == server]
        return max(found, key=lambda r: r.rps) if found else None

    def median_p50(self, scenario: str, server: str) -> float | None:
        found = [r.p50_ms for r in self.runs if r.scenario == scenario and r.server == server]
        return statistics.median(found) if found else None


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# -- environment -----------------------------------------------------------------------------


def _first_line(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "missing"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError, ValueError):
        memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_mb": memory,
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def versions(pg_bin: Path | None) -> dict[str, str]:
    found = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for package in (
        "connexion",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "sqlalchemy",
        "psycopg",
        "alembic",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    found["wrk"] = _first_line([wrk_binary(), "--version"]).split(" [")[0]
    found["node"] = _first_line(["node", "--version"])
    if PRISM.exists():
        found["prism"] = _first_line([str(PRISM), "--version"])
    if pg_bin is not None:
        found["postgresql"] = _first_line([str(pg_bin / "postgres"), "--version"])
    return found


def postgres_pids(url: str) -> list[int]:
    """The private cluster's postmaster and all its backends."""
    port = urllib.parse.urlsplit(url.replace("+psycopg", "")).port
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if argv[0].endswith(b"/postgres") and f"-p {port}".encode() in b" ".join(argv):
                return process_tree(int(entry.name))
    return []


# -- seeding ---------------------------------------------------------------------------------


def seed_command(users: int, orgs: int, teams: int, url: str, progress: bool) -> list[str]:
    """`python -m handlers.seed` with these counts, on the database at `url`."""
    argv = [sys.executable, "-m", "handlers.seed", "--users", str(users), "--orgs", str(orgs)]
    argv += ["--teams", str(teams), "--database-url", url]
    return argv if progress else [*argv, "--no-progress"]


def seed(report: Report, backend: str, url: str, db_pids: Callable[[], list[int]]) -> None:
    cfg = report.config
    argv = seed_command(cfg.users, cfg.orgs, cfg.teams, url, progress=False)
    log(f"seeding {cfg.users:,} users on {backend}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    db_before = cpu_seconds(db_pids())
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"seeding failed: {done.stderr[-2000:]}")
    summary = done.stderr.strip().replace("\n", " ")
    report.seeds.append(
        {
            "backend": backend,
            "users": cfg.users,
            "wall_seconds": round(wall, 1),
            "seed_cpu_seconds": round(
                after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1
            ),
            "db_cpu_seconds": round(cpu_seconds(db_pids()) - db_before, 1)
            if backend != "sqlite"
            else None,
            "summary": re.sub(r"\s+", " ", summary),
            "command": " ".join(argv[1:]).replace(url, f"<{backend} url>"),
        }
    )
    log(f"seeded in {wall:.1f}s")


def search_queries(users: int, count: int) -> list[str]:
    """Substrings (5 to 9 characters) of seeded users' logins, names and e-mails, the way an
    admin types part of someone's name: each matches one to a few dozen users."""
    rng = random.Random(20240601)
    queries: list[str] = []
    while len(queries) < count:
        login, email, name = identity(rng.randrange(users))
        # Not the e-mail's domain: a handful of domains, each shared by a quarter of users.
        value = rng.choice([login, name, name.upper(), email.split("@")[0] + "@"])
        size = rng.randint(5, 9)
        start = rng.randrange(max(len(value) - size, 0) + 1)
        query = value[start : start + size]
        if len(query.strip()) >= 3 and query not in queries:
            queries.append(query)
    return queries


# -- servers ---------------------------------------------------------------------------------


def ours(
    name: str,
    url: str,
    logs: Path,
    *,
    workers: int = 1,
    cache: bool = True,
    validate: bool = False,
    module: str = "handlers",
    python: str = sys.executable,
) -> Server:
    port = free_port()
    argv = [
        python,
        "-m",
        module,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--database-url",
        url,
    ]
    if workers > 1:
        argv += ["--workers", str(workers)]
    if validate:
        argv.append("--validate-responses")
    env = {} if cache else {"USERAPI_CREDENTIAL_CACHE": "false"}
    return Server(name, argv, port, "/api/user", dict(AUTH_HEADERS), env, ROOT, logs / name)


def _uvicorn_app(
    name: str, app: str, body: bytes, logs: Path, headers: dict[str, str], folder: str
) -> Server:
    """A small ASGI app of bench/ answering GET /api/user with `body`."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--no-access-log", "--log-level", "warning"]
    env = {"BENCH_CEILING_BODY": body.decode()}
    return Server(name, argv, port, "/api/user", headers, env, ROOT, logs / folder)


def ceiling(body: bytes, logs: Path) -> Server:
    return _uvicorn_app("ceiling (bare Starlette)", "bench.ceiling:app", body, logs, {}, "ceiling")


def connexion_floor(body: bytes, logs: Path) -> Server:
    return _uvicorn_app(FLOOR, "bench.connexion_floor:app", body, logs, dict(AUTH_HEADERS), "floor")


def prism(logs: Path) -> Server:
    port = free_port()
    argv = [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), "openapi.yaml"]
    return Server(
        "peer (Prism mock)", argv, port, "/api/user", dict(AUTH_HEADERS), {}, ROOT, logs / "prism"
    )


def describe(report: Report, servers: Sequence[Server], url: str, backend: str) -> None:
    for server in servers:
        report.servers[f"{server.name} [{backend}]"] = server.command.replace(
            url, f"<{backend} url>"
        ).replace(sys.executable, "python")


def drive(
    report: Report,
    scenario: str,
    servers: Sequence[Server],
    paths: Sequence[str],
    connections: int,
    db_pids: Callable[[], list[int]] | None = None,
    sequential: Sequence[Server] = (),
) -> None:
    """Interleaved rounds; `sequential` servers (full-table scans, seconds per request) get
    a few requests one after the other instead of a timed wrk run."""
    cfg = report.config
    for round_ in range(cfg.rounds):
        for server in servers:
            log(f"{scenario}: {server.name}, round {round_ + 1}/{cfg.rounds}")
            if server in sequential:
                count = 2 if cfg.quick else 3
                offset = round_ * count  # each round its own queries
                result = run_sequential(
                    server,
                    scenario,
                    [*paths[offset:], *paths[:offset]],
                    AUTH_HEADERS,
                    count=count,
                    db_pids=db_pids,
                )
            else:
                result = run_wrk(
                    server,
                    scenario,
                    paths,
                    ADMIN,
                    connections=connections,
                    seconds=cfg.duration,
                    db_pids=db_pids,
                )
            report.runs.append(result)
            log(
                f"  {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f}"
                f" ms, cpu {result.cpu_ms_per_request:.3f} ms/req, {result.errors} errors"
            )


# -- scenarios -------------------------------------------------------------------------------


def auth_scenario(report: Report, url: str, logs: Path) -> None:
    """GET /api/user with basic auth on SQLite, one worker: ceiling, peer, ours, Grafana's way."""
    main = ours("ours", url, logs)
    pbkdf2 = ours("ours, PBKDF2 every request", url, logs, cache=False)
    validating = ours("ours + response validation", url, logs, validate=True)
    logged = ours("ours, access log on", url, logs)
    logged.env["GF_SERVER_ROUTER_LOGGING"] = "true"
    with running([main]):
        body = http_get(main.port, "/api/user", AUTH_HEADERS)
        report.startups.append({"server": "ours [sqlite]", "seconds": main.startup_seconds})
        first = [ceiling(body, logs), connexion_floor(body, logs)]
        if report.config.prism and PRISM.exists():
            first.append(prism(logs))
        variants = [logged, pbkdf2, validating]
        with running([*first, *variants]):
            servers = [*first, main, *variants]
            describe(report, servers, url, "sqlite")
            drive(report, "auth", servers, ["/api/user"], report.config.connections)


def search_scenario(
    report: Report,
    backend: str,
    url: str,
    logs: Path,
    db_pids: Callable[[], list[int]] | None = None,
) -> None:
    """GET /api/users/search?query=... over every seeded user: ours vs Grafana's LIKE scan."""
    main = ours("ours", url, logs / backend)
    grafana = ours("Grafana-style LIKE scan", url, logs / backend, module="bench.grafana_server")
    servers = [main, grafana]
    if backend == "sqlite":
        servers.append(ours("ours + response validation", url, logs / backend, validate=True))
    paths = ["/api/users/search?query=" + urllib.parse.quote(q, safe="") for q in report.queries]
    with running(servers):
        describe(report, servers, url, backend)
        if backend != "sqlite":
            report.startups.append({"server": f"ours [{backend}]", "seconds": main.startup_seconds})
        for path in paths[:3]:  # same answers from both (Grafana's scan is slow: a few only)
            totals = [
                json.loads(http_get(s.port, path, AUTH_HEADERS))["totalCount"]
                for s in (main, grafana)
            ]
            report.checks.append(
                {
                    "backend": backend,
                    "path": path,
                    "totalCount": totals,
                    "same": totals[0] == totals[1],
                }
            )
        drive(
            report,
            f"search/{backend}",
            servers,
            paths,
            report.config.search_connections,
            db_pids,
            sequential=[grafana],
        )


def workers_scenario(
    report: Report, url: str, logs: Path, db_pids: Callable[[], list[int]]
) -> None:
    """GET /api/user on PostgreSQL: one uvicorn worker against two."""
    one = ours("ours, 1 worker", url, logs / "pg")
    two = ours("ours, 2 workers", url, logs / "pg", workers=2)
    with running([one, two]):
        describe(report, [one, two], url, "postgresql")
        drive(
            report,
            "workers/postgresql",
            [one, two],
            ["/api/user"],
            report.config.connections,
            db_pids,
        )


# Virtualenvs the benchmarks install the server into, kept between runs in the system's
# temporary directory: outside the checkout, whose tools (linters, scanners) would read
# their site-packages as the project's.
VENVS = Path(tempfile.gettempdir()) / "grafana-userapi-bench-venvs"


def deploy_venv(venv: Path = VENVS / "deploy", source: Path = ROOT) -> Path | None:
    """VENVS/deploy (or `venv`): the server installed the way a deployment installs it
    (`pip install .` of `source`: the wheel and its runtime dependencies, none of the test
    tools), refreshed every run. None when it cannot be built (no network for a first
    install)."""
    python = venv / "bin" / "python"
    steps = [] if python.exists() else [[sys.executable, "-m", "venv", str(venv)]]
    steps.append([str(python), "-m", "pip", "install", "--quiet", str(source)])
    log(f"installing the server into {venv} (pip install .)")
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log(f"  could not: {done.stderr.strip().splitlines()[-1:]}")
            return None
    return python


def startup_scenario(report: Report, url: str, logs: Path, backend: str) -> None:
    """Process start to the first 200 of an authenticated GET /api/user: in the
    development venv (test tools installed too) and as deployed (runtime dependencies
    only), three times each, interleaved."""
    deployed = deploy_venv()
    for attempt in range(1 if report.config.quick else 3):
        kinds = [("dev", sys.executable)] + ([("deployed", str(deployed))] if deployed else [])
        for kind, python in kinds:
            server = ours("ours", url, logs / backend, python=python)
            name = "ours" if kind == "dev" else "ours, deployed"
            with running([server]):
                report.startups.append(
                    {
                        "server": f"{name} [{backend}] #{attempt + 1}",
                        "kind": kind,
                        "seconds": server.startup_seconds,
                    }
                )


@contextlib.contextmanager
def maybe_postgres(enabled: bool) -> Iterator[str | None]:
    if not enabled or find_bin_dir() is None:
        yield None
        return
    with running_postgres() as url:
        yield url


def ensure_prism() -> bool:
    """bench/node_modules from bench/package-lock.json (npm's own client), once."""
    if PRISM.exists():
        return True
    npm = shutil.which("npm")
    if npm is None:
        return False
    log("installing Prism into bench/node_modules (npm ci)")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=BENCH,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0 and PRISM.exists()


def run(cfg: Config) -> Report:
    started = time.perf_counter()
    if cfg.prism and not ensure_prism():
        log("Prism is not installed (npm missing?): the peer is skipped")
    pg_bin = find_bin_dir() if cfg.postgres else None
    report = Report(config=cfg, started=datetime.now(UTC).isoformat(timespec="seconds"))
    report.machine = machine()
    report.versions = versions(pg_bin)
    report.queries = search_queries(cfg.users, cfg.queries)
    work = Path(tempfile.mkdtemp(prefix="userapi-bench-"))
    logs = work / "logs"
    for folder in (logs, logs / "sqlite", logs / "postgresql", logs / "pg"):
        folder.mkdir(parents=True, exist_ok=True)
    sqlite_url = f"sqlite:///{work / 'bench.db'}"
    try:
        seed(report, "sqlite", sqlite_url, list)
        auth_scenario(report, sqlite_url, logs)
        search_scenario(report, "sqlite", sqlite_url, logs)
        startup_scenario(report, sqlite_url, logs, "sqlite")
        with maybe_postgres(pg_bin is not None) as pg_url:
            if pg_url is not None:
                seed(report, "postgresql", pg_url, lambda: postgres_pids(pg_url))
                url = pg_url

                def db() -> list[int]:
                    return postgres_pids(url)

                search_scenario(report, "postgresql", pg_url, logs, db)
                workers_scenario(report, pg_url, logs, db)
    finally:
        if cfg.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report.machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report.seconds = round(time.perf_counter() - started, 1)
    return report
