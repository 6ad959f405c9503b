"""`python -m bench.scale`: ten million users, on SQLite and PostgreSQL.

    python -m bench.scale [--users 10000000] [--no-postgres] [--name scale]

For each backend: seed the users (`python -m handlers.seed`, timed, its progress passed
through), start our server and the Grafana-style one (bench/grafana_server.py: Grafana's
LIKE scan, LIMIT/OFFSET and a separate count) on 127.0.0.1, then

* search: GET /api/users/search?query=... for the runner's substring queries, a few
  samples of each on ours; a handful on the Grafana-style server, within a time budget
  (each of its searches reads the whole table); the answers of both compared user by user;
* the walk: GET /api/users/search?perpage=1000&page=N for every page, one after the other
  on one connection as a sync tool does, checking that the pages together list every user
  exactly once and that each agrees with totalCount; then the last page again, several
  times (its p50), and once from the Grafana-style server (same users, same order);
* the server's RSS (all its processes), sampled during the walk.

Writes bench/results/<name>.md and .json with the machine and the versions. Databases
live in a temporary folder, removed at the end (`--keep` keeps them); `--reuse DIR` keeps
them in DIR and, run again with the same users, orgs and teams, skips the seeding (the
report then gives the seed figures of the run that seeded, marked as reused).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.procs import Server, rss_bytes, running
from bench.report import target_row, targets_table
from bench.runner import (
    AUTH_HEADERS,
    log,
    machine,
    ours,
    search_queries,
    seed_command,
    versions,
)
from tests.support.postgres import find_bin_dir, running_postgres

RESULTS = Path(__file__).resolve().parent / "results"
PER_PAGE = 1000


@dataclass
class Config:
    name: str = "scale"
    users: int = 10_000_000
    postgres: bool = True
    sqlite: bool = True
    keep: bool = False
    orgs: int = 10
    teams: int = 100
    queries: int = 20
    samples: int = 5  # of each query on ours
    last_page_samples: int = 15
    grafana_budget_seconds: float = 150.0  # Grafana-style searches, per backend
    grafana_timeout_seconds: float = 240.0  # one Grafana-style request
    walk_limit_seconds: float = 1500.0


@dataclass
class Backend:
    backend: str
    seed: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)
    walk: dict[str, Any] = field(default_factory=dict)
    rss_mb: float = 0.0
    servers: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    config: Config
    started: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    backends: list[Backend] = field(default_factory=list)
    seconds: float = 0.0


# -- HTTP ------------------------------------------------------------------------------------


class Client:
    """One keep-alive connection, as a sync tool holds one."""

    def __init__(self, port: int, timeout: float = 60) -> None:
        self.port, self.timeout = port, timeout
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def get(self, path: str) -> tuple[float, bytes]:
        """(milliseconds to the whole answer, body); a 200 is required."""
        started = time.perf_counter()
        try:
            self.conn.request("GET", path, headers=AUTH_HEADERS)
            response = self.conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()  # one retry on a fresh connection
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            started = time.perf_counter()
            self.conn.request("GET", path, headers=AUTH_HEADERS)
            response = self.conn.getresponse()
            body = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}: {body[:200]!r}")
        return elapsed, body

    def close(self) -> None:
        self.conn.close()


def _p50(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _answer(body: bytes) -> tuple[int, list[int]]:
    data = json.loads(body)
    return int(data["totalCount"]), [int(u["id"]) for u in data["users"]]


def _search_path(query: str | None, page: int = 1, per_page: int | None = None) -> str:
    params: dict[str, str] = {}
    if query is not None:
        params["query"] = query
    if per_page is not None:
        params["perpage"] = str(per_page)
    if page != 1 or per_page is not None:
        params["page"] = str(page)
    return "/api/users/search?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


# -- stages ----------------------------------------------------------------------------------


def seed(cfg: Config, backend: str, url: str) -> dict[str, Any]:
    """The seeding command, timed; its progress lines pass through to our stderr."""
    argv = seed_command(cfg.users, cfg.orgs, cfg.teams, url, progress=True)
    log(f"seeding {cfg.users:,} users on {backend}")
    started = time.perf_counter()
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    last = ""
    for line in process.stderr:
        sys.stderr.write(line)
        if line.strip():
            last = line.strip()
    code = process.wait()
    wall = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"seeding failed ({code}): {last}")
    log(f"seeded in {wall:.1f}s")
    return {
        "wall_seconds": round(wall, 1),
        # ru_maxrss of the largest child waited for so far: the seeder (started first).
        "seeder_max_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "summary": last,
        "command": "python " + " ".join(argv[1:]).replace(url, f"<{backend} url>"),
    }


def search(cfg: Config, main: Server, grafana: Server, queries: Sequence[str]) -> dict[str, Any]:
    ours_client = Client(main.port)
    ours_ms: list[float] = []
    answers: dict[str, tuple[int, list[int]]] = {}
    for query in queries:  # warm-up: one each
        ours_client.get(_search_path(query))
    for _ in range(cfg.samples):
        for query in queries:
            elapsed, body = ours_client.get(_search_path(query))
            ours_ms.append(elapsed)
            answers[query] = _answer(body)
    ours_client.close()
    log(f"  ours: p50 {_p50(ours_ms)} ms over {len(ours_ms)} searches")
    grafana_client = Client(grafana.port, cfg.grafana_timeout_seconds)
    grafana_ms: list[float] = []
    compared = []
    deadline = time.perf_counter() + cfg.grafana_budget_seconds
    for query in queries:
        if time.perf_counter() > deadline:
            break
        elapsed, body = grafana_client.get(_search_path(query))
        grafana_ms.append(elapsed)
        theirs = _answer(body)
        compared.append(
            {
                "query": query,
                "totalCount": [answers[query][0], theirs[0]],
                "same": answers[query] == theirs,
            }
        )
        log(f"  Grafana-style: {query!r} {elapsed:,.0f} ms, same answer: {compared[-1]['same']}")
    grafana_client.close()
    ours_p50, theirs_p50 = _p50(ours_ms), _p50(grafana_ms)
    return {
        "queries": list(queries),
        "ours_samples": len(ours_ms),
        "ours_p50_ms": ours_p50,
        "ours_p90_ms": round(sorted(ours_ms)[int(len(ours_ms) * 0.9)], 2) if ours_ms else None,
        "grafana_samples": len(grafana_ms),
        "grafana_ms": [round(x, 1) for x in grafana_ms],
        "grafana_p50_ms": theirs_p50,
        "ratio": round(theirs_p50 / ours_p50, 1) if ours_p50 and theirs_p50 else None,
        "compared": compared,
        "same": bool(compared) and all(c["same"] for c in compared),
    }


def walk(
    cfg: Config, main: Server, grafana: Server, sample_rss: Callable[[], None]
) -> dict[str, Any]:
    """Every page at perpage=1000, in order, on one connection; then the last page's p50."""
    client = Client(main.port)
    seen = bytearray()
    listed = duplicates = pages = 0
    totals: set[int] = set()
    server_ms: list[float] = []
    started = time.perf_counter()
    page, last_page = 1, 1
    complete = True
    while page <= last_page:
        elapsed, body = client.get(_search_path(None, page, PER_PAGE))
        server_ms.append(elapsed)
        total, ids = _answer(body)
        totals.add(total)
        last_page = max(1, -(-total // PER_PAGE))
        for user_id in ids:
            if user_id >= len(seen):
                seen.extend(bytes(user_id + 1 - len(seen) + 1_000_000))
            duplicates += seen[user_id]
            seen[user_id] = 1
        listed += len(ids)
        pages += 1
        if page % 500 == 0:
            sample_rss()
            log(f"  page {page:,}/{last_page:,}, {time.perf_counter() - started:.0f}s")
        if time.perf_counter() - started > cfg.walk_limit_seconds:
            complete = False
            log("  walk stopped: over its time limit")
            break
        page += 1
    wall = time.perf_counter() - started
    sample_rss()
    total = max(totals) if totals else 0
    last_path = _search_path(None, last_page, PER_PAGE)
    last_ms = [client.get(last_path)[0] for _ in range(cfg.last_page_samples)]
    full = max(1, total // PER_PAGE)  # the deepest page holding perpage users
    full_ms = [
        client.get(_search_path(None, full, PER_PAGE))[0] for _ in range(cfg.last_page_samples)
    ]
    first_path = _search_path(None, 1, PER_PAGE)
    first_ms = [client.get(first_path)[0] for _ in range(cfg.last_page_samples)]
    ours_last = _answer(client.get(last_path)[1])
    client.close()
    log(f"  walked {pages:,} pages in {wall:.0f}s; last page p50 {_p50(last_ms)} ms")
    grafana_client = Client(grafana.port, cfg.grafana_timeout_seconds)
    try:
        grafana_last_ms, body = grafana_client.get(last_path)
        grafana_last: tuple[int, list[int]] | None = _answer(body)
    except (OSError, http.client.HTTPException, RuntimeError) as exc:
        log(f"  Grafana-style last page failed: {exc}")
        grafana_last_ms, grafana_last = 0.0, None
    grafana_client.close()
    log(f"  Grafana-style last page: {grafana_last_ms:,.0f} ms")
    return {
        "per_page": PER_PAGE,
        "pages": pages,
        "complete": complete,
        "wall_seconds": round(wall, 1),
        "request_p50_ms": _p50(server_ms),
        "request_max_ms": round(max(server_ms), 1) if server_ms else None,
        "users_listed": listed,
        "distinct_users": sum(seen),
        "duplicates": duplicates,
        "total_counts_seen": sorted(totals),
        "every_user_once": complete and len(totals) == 1 and listed == total == sum(seen),
        "last_page": last_page,
        "last_page_p50_ms": _p50(last_ms),
        "last_full_page": full,
        "last_full_page_p50_ms": _p50(full_ms),
        "first_page_p50_ms": _p50(first_ms),
        "last_page_samples": len(last_ms),
        "grafana_last_page_ms": round(grafana_last_ms, 1),
        "grafana_last_page_same": grafana_last == ours_last if grafana_last else None,
    }


@contextlib.contextmanager
def backends(cfg: Config, work: Path, reuse: bool = False) -> Iterator[Iterator[tuple[str, str]]]:
    def each() -> Iterator[tuple[str, str]]:
        if cfg.sqlite:
            yield "sqlite", f"sqlite:///{work / 'scale.db'}"
        if cfg.postgres and find_bin_dir() is not None:
            with running_postgres(keep=work / "postgresql" if reuse else None) as url:
                yield "postgresql", url

    yield each()


class ReuseMismatch(Exception):
    """The --reuse folder holds a database seeded with other users, orgs or teams."""


def seeded(cfg: Config, backend: str, url: str, marker: Path | None) -> dict[str, Any]:
    """seed(), or with --reuse (`marker`: the backend's record in the folder) the seed of
    an earlier run whose database holds the same users, orgs and teams (the record is
    written only once seeding succeeded)."""
    shape = {"users": cfg.users, "orgs": cfg.orgs, "teams": cfg.teams}
    if marker is not None and marker.exists():
        earlier = json.loads(marker.read_text(encoding="utf-8"))
        if earlier.get("shape") == shape:
            log(f"reusing the {cfg.users:,} users seeded on {backend} earlier ({marker})")
            return {**earlier["seed"], "reused": True}
        raise ReuseMismatch(
            f"{marker.parent} holds a {backend} database seeded with {earlier.get('shape')},"
            f" not {shape}: remove it or pick another --reuse folder"
        )
    result = seed(cfg, backend, url)
    if marker is not None:
        marker.write_text(json.dumps({"shape": shape, "seed": result}) + "\n", encoding="utf-8")
    return result


def measure(cfg: Config, backend: str, url: str, logs: Path, reuse: Path | None = None) -> Backend:
    result = Backend(backend)
    marker = reuse / f"{backend}.seeded.json" if reuse else None
    result.seed = seeded(cfg, backend, url, marker)
    main = ours("ours", url, logs)
    grafana = ours("Grafana-style", url, logs, module="bench.grafana_server")
    queries = search_queries(cfg.users, cfg.queries)
    peak = [0]

    def sample_rss() -> None:
        peak[0] = max(peak[0], rss_bytes(main.pids()))

    with running([main, grafana]):
        for server in (main, grafana):
            result.servers[server.name] = server.command.replace(url, f"<{backend} url>").replace(
                sys.executable, "python"
            )
        log(f"search on {backend}")
        result.search = search(cfg, main, grafana, queries)
        sample_rss()
        log(f"walking every page on {backend}")
        result.walk = walk(cfg, main, grafana, sample_rss)
        sample_rss()
    result.rss_mb = round(peak[0] / 2**20, 1)
    return result


def run(cfg: Config, reuse: Path | None = None) -> Report:
    """Every stage on every backend; `reuse`: the folder of --reuse."""
    started = time.perf_counter()
    report = Report(cfg, started=datetime.now(UTC).isoformat(timespec="seconds"))
    report.machine = machine()
    report.versions = versions(find_bin_dir() if cfg.postgres else None)
    kept = cfg.keep or reuse is not None
    if reuse is not None:
        reuse.mkdir(parents=True, exist_ok=True)
    work = reuse or Path(tempfile.mkdtemp(prefix="userapi-scale-"))
    try:
        with backends(cfg, work, reuse is not None) as found:
            for backend, url in found:
                logs = work / "logs" / backend
                logs.mkdir(parents=True, exist_ok=True)
                report.backends.append(measure(cfg, backend, url, logs, reuse))
                if backend == "sqlite" and not kept:
                    for path in work.glob("scale.db*"):
                        path.unlink()
    finally:
        if kept:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report.machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report.seconds = round(time.perf_counter() - started, 1)
    return report


# -- report ----------------------------------------------------------------------------------


def targets(report: Report) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(name: str, value: Any, goal: float, higher: bool, unit: str) -> None:
        rows.append(target_row(name, value, goal, higher, unit))

    for b in report.backends:
        add(f"search p50, {b.backend}", b.search.get("ours_p50_ms"), 10, False, " ms")
        add(f"search: Grafana-style / ours, {b.backend}", b.search.get("ratio"), 100, True, "x")
        add(f"walk of every page, {b.backend}", b.walk.get("wall_seconds"), 600, False, " s")
        add(f"last page p50, {b.backend}", b.walk.get("last_page_p50_ms"), 50, False, " ms")
        add(
            f"last full page (perpage users) p50, {b.backend}",
            b.walk.get("last_full_page_p50_ms"),
            50,
            False,
            " ms",
        )
        reused = " (an earlier run's: reused)" if b.seed.get("reused") else ""
        add(f"seed, {b.backend}{reused}", b.seed.get("wall_seconds"), 600, False, " s")
        add(f"server RSS, {b.backend}", b.rss_mb, 150, False, " MB")
    return rows


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:,.2f}{unit}" if isinstance(value, float) else f"{value:,}{unit}"


def markdown(report: Report) -> str:
    cfg = report.config
    out = [
        f"# Benchmark `{cfg.name}`",
        "",
        f"Run {report.started} in {report.seconds:,.0f} s: {cfg.users:,} seeded users"
        f" ({cfg.orgs} extra orgs, {cfg.teams} teams) on each backend; "
        + (
            "each backend in its own run (listed below), every figure and ratio of a backend"
            " from its run."
            if "runs" in report.machine
            else "every ratio is from this one run."
        )
        + " Latencies are wall times of whole answers seen by a Python client on one"
        " keep-alive connection (127.0.0.1).",
        "",
        "## Targets",
        "",
        *targets_table(targets(report)),
    ]
    for b in report.backends:
        s, w = b.search, b.walk
        compared = "; ".join(f"`{c['query']}` {c['totalCount']}" for c in s.get("compared", []))
        out += [
            "",
            f"## {b.backend}",
            "",
            f"* Seed{' (an earlier run, its database reused)' if b.seed.get('reused') else ''}:"
            f" {b.seed.get('wall_seconds')} s wall, seeder max RSS"
            f" {b.seed.get('seeder_max_rss_mb')} MB: {b.seed.get('summary')}",
            f"* Search (`query=`, {len(s.get('queries', []))} queries): ours p50"
            f" {_fmt(s.get('ours_p50_ms'))} ms, p90 {_fmt(s.get('ours_p90_ms'))} ms over"
            f" {s.get('ours_samples')} searches; Grafana-style p50"
            f" {_fmt(s.get('grafana_p50_ms'))} ms over {s.get('grafana_samples')}"
            f" ({', '.join(f'{x:,.0f}' for x in s.get('grafana_ms', []))} ms): "
            f"{_fmt(s.get('ratio'))}x. Same answers (every user, in order):"
            f" {'yes' if s.get('same') else '**no**'}"
            f" ({compared}).",
            f"* Walk, perpage={w.get('per_page')}: {w.get('pages'):,} pages in"
            f" {w.get('wall_seconds')} s (request p50 {w.get('request_p50_ms')} ms, max"
            f" {w.get('request_max_ms')} ms); {w.get('users_listed'):,} users listed,"
            f" {w.get('distinct_users'):,} distinct, {w.get('duplicates')} duplicates,"
            f" totalCount {w.get('total_counts_seen')}; every user exactly once:"
            f" {'yes' if w.get('every_user_once') else '**no**'}.",
            f"* Last page ({w.get('last_page'):,}): p50 {w.get('last_page_p50_ms')} ms over"
            f" {w.get('last_page_samples')}; last full page ({w.get('last_full_page'):,}) p50"
            f" {w.get('last_full_page_p50_ms')} ms; first page {w.get('first_page_p50_ms')} ms;"
            f" Grafana-style {_fmt(w.get('grafana_last_page_ms'))} ms, same users in the same"
            f" order: {w.get('grafana_last_page_same')}.",
            f"* Server RSS (all its processes, peak of samples): {b.rss_mb} MB.",
        ]
    out += ["", "## Machine and versions", ""]
    out += [f"* {k}: {v}" for k, v in report.machine.items()]
    out += [f"* {k}: {v}" for k, v in report.versions.items()]
    out += ["", "## Commands", "", "```"]
    out.append(
        f"python -m bench.scale --users {cfg.users} --name {cfg.name}"
        + ("" if cfg.postgres else " --no-postgres")
        + ("" if cfg.sqlite else " --no-sqlite")
    )
    for b in report.backends:
        out.append(f"# {b.backend}")
        out.append(str(b.seed.get("command")))
        out += [f"{cmd}  # {name}" for name, cmd in b.servers.items()]
    out += ["```", ""]
    return "\n".join(out)


def write(report: Report) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    md = RESULTS / f"{report.config.name}.md"
    js = RESULTS / f"{report.config.name}.json"
    md.write_text(markdown(report), encoding="utf-8")
    data = asdict(report)
    data["targets"] = targets(report)
    js.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return md, js


def load(path: Path) -> Report:
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("targets", None)
    backends = [Backend(**b) for b in data.pop("backends")]
    return Report(config=Config(**data.pop("config")), backends=backends, **data)


def combine(names: Sequence[str], name: str) -> Report:
    """One report from the results of several runs (say one per backend): each backend's
    figures and ratios stay those of its own run; the runs are listed."""
    reports = [load(RESULTS / f"{n}.json") for n in names]
    first = reports[0]
    config = Config(**{**asdict(first.config), "name": name})
    config.sqlite = any(r.config.sqlite for r in reports)
    config.postgres = any(r.config.postgres for r in reports)
    merged = Report(
        config,
        started=", ".join(r.started for r in reports),
        machine={**first.machine, "runs": [f"{r.config.name}: {r.started}" for r in reports]},
        versions={k: v for r in reports for k, v in r.versions.items()},
        backends=[b for r in reports for b in r.backends],
        seconds=sum(r.seconds for r in reports),
    )
    return merged


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--users", type=int, default=10_000_000, help="users per backend")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--name", default="scale", help="results file name (scale)")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument(
        "--reuse",
        type=Path,
        metavar="DIR",
        help="keep the databases in DIR; a later run with the same users skips the seeding",
    )
    parser.add_argument(
        "--combine",
        nargs="+",
        metavar="RESULTS",
        help="write --name from these results' .json instead of running (one run per backend)",
    )
    args = parser.parse_args(argv)
    if args.combine:
        md, _ = write(combine(args.combine, args.name))
        log(f"wrote {md}")
        return
    cfg = Config(
        name=args.name,
        users=args.users,
        postgres=not args.no_postgres,
        sqlite=not args.no_sqlite,
        keep=args.keep,
    )
    try:
        report = run(cfg, args.reuse.resolve() if args.reuse else None)
    except ReuseMismatch as exc:
        raise SystemExit(f"python -m bench.scale: {exc}") from None
    md, _ = write(report)
    log(f"wrote {md}")


if __name__ == "__main__":
    main()
