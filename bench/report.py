"""Turn a run into bench/results/<name>.md (tables, ratios, targets) and <name>.json (raw)."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.load import LoadResult
from bench.runner import FLOOR, Config, Report

RESULTS = Path(__file__).resolve().parent / "results"

OURS = "ours"
PRISM = "peer (Prism mock)"
CEILING = "ceiling (bare Starlette)"
PBKDF2 = "ours, PBKDF2 every request"
VALIDATING = "ours + response validation"
GRAFANA = "Grafana-style LIKE scan"


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def target_row(
    name: str, value: float | None, goal: float, higher_is_better: bool, unit: str
) -> dict[str, Any]:
    """One target: what was measured (None: not measured), the goal, whether it was met."""
    met = None if value is None else (value >= goal if higher_is_better else value <= goal)
    return {
        "target": name,
        "measured": value,
        "goal": goal,
        "unit": unit,
        "higher_is_better": higher_is_better,
        "met": met,
    }


def targets_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines of a targets table: each target's measure, its goal (with the side it
    must stay on) and whether it was met."""
    out = ["| target | measured | goal | met |", "|---|---:|---:|:---:|"]
    for row in rows:
        sign = ">=" if row["higher_is_better"] else "<="
        met = {True: "yes", False: "**no**", None: "n/a"}[row["met"]]
        out.append(
            f"| {row['target']} | {_fmt(row['measured'], row['unit'])} |"
            f" {sign} {row['goal']:g}{row['unit']} | {met} |"
        )
    return out


def _fmt(value: float | None, unit: str = "", digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def _rps(report: Report, scenario: str, server: str) -> float | None:
    best = report.best(scenario, server)
    return best.rps if best else None


def targets(report: Report) -> list[dict[str, Any]]:
    """Each target of the issue: what was measured, the goal, and whether it was met."""
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float | None, goal: float, higher_is_better: bool, unit: str) -> None:
        rows.append(target_row(name, value, goal, higher_is_better, unit))

    ours = _rps(report, "auth", OURS)
    add(
        "GET /api/user: ours / Prism (req/s)",
        _ratio(ours, _rps(report, "auth", PRISM)),
        0.75,
        True,
        "x",
    )
    add(
        "GET /api/user: ours / PBKDF2-every-request (req/s)",
        _ratio(ours, _rps(report, "auth", PBKDF2)),
        15,
        True,
        "x",
    )
    for backend in ("sqlite", "postgresql"):
        scenario = f"search/{backend}"
        p50 = report.median_p50(scenario, OURS)
        add(f"search p50 on {backend}", p50, 10, False, " ms")
        add(
            f"search p50: Grafana-style / ours on {backend}",
            _ratio(report.median_p50(scenario, GRAFANA), p50),
            20,
            True,
            "x",
        )
    add(
        "2 workers / 1 worker on PostgreSQL (req/s)",
        _ratio(
            _rps(report, "workers/postgresql", "ours, 2 workers"),
            _rps(report, "workers/postgresql", "ours, 1 worker"),
        ),
        1.3,
        True,
        "x",
    )
    ours_rss = [r.rss_mb for r in report.runs if r.server in (OURS, "ours, 1 worker")]
    add(
        f"server RSS with {report.config.users:,} users (max)",
        max(ours_rss) if ours_rss else None,
        150,
        False,
        " MB",
    )
    # As deployed (runtime dependencies only) when measured; else every start.
    deployed = [s["seconds"] for s in report.startups if s.get("kind") == "deployed"]
    starts = deployed or [s["seconds"] for s in report.startups]
    add(
        "process start to first 200 (median" + (", as deployed)" if deployed else ")"),
        round(statistics.median(starts), 2) if starts else None,
        1.5,
        False,
        " s",
    )
    for seed in report.seeds:
        add(
            f"seed {seed['users']:,} users on {seed['backend']}",
            seed["wall_seconds"],
            120,
            False,
            " s",
        )
    return rows


def _load_table(report: Report, scenario: str, reference: str, db: bool = False) -> list[str]:
    servers: list[str] = []
    for run in report.runs:
        if run.scenario == scenario and run.server not in servers:
            servers.append(run.server)
    ref = report.best(scenario, reference)
    head = "| server | req/s | vs ours | p50 ms | p99 ms | CPU ms/req |"
    rule = "|---|---:|---:|---:|---:|---:|"
    if db:
        head += " DB CPU ms/req |"
        rule += "---:|"
    lines = [head + " RSS MB | errors | rounds |", rule + "---:|---:|---:|"]
    for server in servers:
        best = report.best(scenario, server)
        assert best is not None
        rounds = [r for r in report.runs if r.scenario == scenario and r.server == server]
        p50 = statistics.median(r.p50_ms for r in rounds)
        p99 = statistics.median(r.p99_ms for r in rounds)
        vs = _ratio(best.rps, ref.rps if ref else None)
        rps = f"{best.rps:,.0f}" if best.rps >= 100 else f"{best.rps:.2g}"
        ratio = "n/a" if vs is None else f"{best.rps / ref.rps:.3g}x" if ref else "n/a"
        row = (
            f"| {server} | {rps} | {ratio} | {p50:.2f} | {p99:.2f} |"
            f" {best.cpu_ms_per_request:.3f} |"
        )
        if db:
            row += f" {_fmt(best.db_cpu_ms_per_request, '', 3)} |"
        errors = sum(r.errors for r in rounds)
        row += f" {max(r.rss_mb for r in rounds):.0f} | {errors} | {len(rounds)} |"
        lines.append(row)
    return lines


def markdown(report: Report) -> str:
    cfg = report.config
    out = [
        f"# Benchmark `{cfg.name}`",
        "",
        f"Run {report.started} in {report.seconds:.0f} s: {cfg.users:,} seeded users"
        f" ({cfg.orgs} extra orgs, {cfg.teams} teams), {cfg.duration:g} s per load run,"
        f" {cfg.rounds} interleaved round(s) per server, wrk with {cfg.connections}"
        f" connections (search: {cfg.search_connections}).",
        "",
        "Req/s is the best round of each server (the least disturbed by other work on this"
        " shared machine); latencies are medians over rounds; CPU ms/req is the server"
        " process tree's user+system CPU time divided by the requests served; RSS is the"
        " server's resident memory (all its processes) after the run.",
        "",
        "## Targets",
        "",
        *(
            [
                "The targets are set for the full run (1,000,000 users); this run seeded"
                f" {cfg.users:,} users{' (--quick: a smoke test)' if cfg.quick else ''}.",
                "",
            ]
            if cfg.users < 1_000_000 or cfg.quick
            else []
        ),
        *targets_table(targets(report)),
    ]
    out += [
        "",
        f"## GET /api/user, basic auth, SQLite, 1 worker, {cfg.connections} connections",
        "",
        *_load_table(report, "auth", OURS),
        "",
        f"Response validation costs {_validation_cost(report, 'auth')} on this endpoint.",
        *_floor_note(report),
    ]
    for backend in ("sqlite", "postgresql"):
        scenario = f"search/{backend}"
        if not any(r.scenario == scenario for r in report.runs):
            continue
        out += [
            "",
            f"## GET /api/users/search?query=..., {backend}, {cfg.users:,} users,"
            f" {cfg.search_connections} connection(s)",
            "",
            *_load_table(report, scenario, OURS, db=backend != "sqlite"),
        ]
        if backend == "sqlite":
            out += ["", f"Response validation costs {_validation_cost(report, scenario)} here."]
    if any(r.scenario == "workers/postgresql" for r in report.runs):
        out += [
            "",
            f"## GET /api/user on PostgreSQL, 1 vs 2 workers, {cfg.connections} connections",
            "",
            *_load_table(report, "workers/postgresql", "ours, 1 worker", db=True),
        ]
    out += [
        "",
        "## Seeding",
        "",
        "| backend | users | wall s | seed CPU s | DB CPU s | stages |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for seed in report.seeds:
        out.append(
            f"| {seed['backend']} | {seed['users']:,} | {seed['wall_seconds']:.1f} |"
            f" {seed['seed_cpu_seconds']:.1f} | {_fmt(seed['db_cpu_seconds'], '', 1)} |"
            f" {seed['summary']} |"
        )
    out += ["", "## Start-up (process start to the first 200 of GET /api/user)", ""]
    out += [f"* {s['server']}: {s['seconds']:.2f} s" for s in report.startups]
    out += ["", "## Same answers (totalCount, ours vs Grafana-style)", ""]
    out += [
        f"* {c['backend']} `{c['path']}`: {c['totalCount']} {'same' if c['same'] else 'DIFFERENT'}"
        for c in report.checks
    ]
    out += ["", "## Machine and versions", ""]
    out += [f"* {k}: {v}" for k, v in report.machine.items()]
    out += [f"* {k}: {v}" for k, v in report.versions.items()]
    out += ["", "## Commands", "", "```"]
    root = f"{RESULTS.parent.parent}/"
    out += [f"# {name}\n{command.replace(root, '')}" for name, command in report.servers.items()]
    out += [f"# seed {s['backend']}\npython {s['command']}" for s in report.seeds]
    commands = sorted({r.command for r in report.runs})
    out += ["# load", *commands, "```", ""]
    out += ["Search queries (rotated by wrk): " + ", ".join(f"`{q}`" for q in report.queries), ""]
    return "\n".join(out)


def _floor_note(report: Report) -> list[str]:
    """How far the connexion floor itself is from the PBKDF2 variant: the most any
    connexion-routed server could reach on the ratio target, on this machine."""
    floor, pbkdf2, ours = (_rps(report, "auth", s) for s in (FLOOR, PBKDF2, OURS))
    if floor is None or pbkdf2 is None or ours is None:
        return []
    return [
        "",
        f"The connexion floor (one operation, constant-time auth, no database) serves"
        f" {_ratio(floor, pbkdf2)}x the PBKDF2 variant's req/s: the bound on the ratio for"
        f" any server routed by connexion here. Ours serves {_ratio(ours, floor)}x the"
        f" floor's req/s.",
    ]


def _validation_cost(report: Report, scenario: str) -> str:
    plain = report.best(scenario, OURS)
    validating = report.best(scenario, VALIDATING)
    if plain is None or validating is None:
        return "n/a (not measured)"
    extra = validating.cpu_ms_per_request - plain.cpu_ms_per_request
    return (
        f"{extra:+.3f} ms CPU per request ({_pct(extra, plain.cpu_ms_per_request)}),"
        f" {_pct(validating.rps - plain.rps, plain.rps)} req/s"
    )


def _pct(delta: float, base: float) -> str:
    return f"{delta / base * 100:+.0f}%" if base else "n/a"


def write(report: Report) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    md = RESULTS / f"{report.config.name}.md"
    js = RESULTS / f"{report.config.name}.json"
    md.write_text(markdown(report), encoding="utf-8")
    data = asdict(report)
    data["runs"] = [r.as_dict() if isinstance(r, LoadResult) else r for r in report.runs]
    data["targets"] = targets(report)
    js.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return md, js


def load(path: Path) -> Report:
    """A report back from its .json (to render it again with this code)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return Report(
        config=Config(**data["config"]),
        started=data["started"],
        machine=data["machine"],
        versions=data["versions"],
        seeds=data["seeds"],
        runs=[LoadResult(**run) for run in data["runs"]],
        startups=data["startups"],
        checks=data["checks"],
        servers=data["servers"],
        queries=data["queries"],
        seconds=data["seconds"],
    )
