"""`python -m bench.startup [--rounds N]`: the installed server's cold start.

"Cold" is a new process of the server as a deployment installs it, nothing pre-warmed in
Python: the console script `grafana-userapi` of a virtualenv under build/ holding the wheel
and its runtime dependencies only (`pip install .`, refreshed every run; `--fresh`
recreates the virtualenv). Each round starts it on a free 127.0.0.1 port against a small
seeded SQLite database and times process start to the first 200 of an authenticated
`GET /api/user`, with the CPU time the server used until then (less disturbed by other
work on a shared machine than the wall time). Where this process may drop the OS page
cache (root on Linux), every round is repeated after `sync; echo 3 >
/proc/sys/vm/drop_caches`, so that the files are read from disk again.

The breakdown, in the same virtualenv: `python -X importtime` of the server's modules
(the top modules by own time, and the import of each top-level package), then the phases
of a new process (interpreter up, imports done, app built, first 200) from a probe that
runs the same `main()` with create_app timed, and a cProfile of create_app, the lifespan
start-up and the first request in one process.

Writes bench/results/<name>.md and .json (default name: startup).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.procs import cpu_seconds, http_status, process_tree
from bench.runner import VENVS, deploy_venv, log, machine
from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VENV = VENVS / "startup"
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}
GOAL_SECONDS = 1.0
PACKAGES = (
    "grafana-userapi",
    "connexion",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "sqlalchemy",
    "jsonschema",
    "pyyaml",
    "psycopg",
    "alembic",
    "prometheus-client",
)
# What the server imports before it builds the app (the console script's module, then the
# app's, which __main__ imports inside main()).
IMPORTS = "import grafana_userapi.handlers.__main__, grafana_userapi.handlers.app"

# Run by the installed interpreter: the console script's main() with create_app timed.
# Prints one JSON line of epoch timestamps to stderr before serving.
PROBE = """
import gc, json, sys, time
up = time.time()
gc.disable()  # as main() does before it imports the server
import grafana_userapi.handlers.__main__ as main_module
import grafana_userapi.handlers.app as app_module
imported = time.time()
create_app = app_module.create_app
def timed_create_app(*args, **kwargs):
    app = create_app(*args, **kwargs)
    stamps = {"up": up, "imported": imported, "built": time.time()}
    print("PROBE " + json.dumps(stamps), file=sys.stderr, flush=True)
    return app
app_module.create_app = timed_create_app
main_module.main(sys.argv[1:])
"""

# Run by the installed interpreter: cProfile of create_app, the lifespan start-up and
# the first GET /api/user, driven in process (ASGI calls, no socket).
PROFILE = """
import asyncio, base64, cProfile, gc, io, pstats, sys
gc.disable()  # as the server command builds its app
from grafana_userapi.handlers.app import create_app
from grafana_userapi.handlers.settings import Settings

async def first_answer(app):
    startup = asyncio.Queue()
    await startup.put({"type": "lifespan.startup"})
    said = []
    async def send_life(message):
        said.append(message)
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, startup.get, send_life)
    )
    while not said:
        await asyncio.sleep(0)
    auth = b"Basic " + base64.b64encode(b"admin:admin")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/api/user", "raw_path": b"/api/user", "query_string": b"",
        "root_path": "", "headers": [(b"host", b"127.0.0.1"), (b"authorization", auth)],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2), "state": {},
    }
    body = [{"type": "http.request", "body": b"", "more_body": False}]
    async def receive():
        return body.pop() if body else {"type": "http.disconnect"}
    status = []
    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
    await app(scope, receive, send)
    await startup.put({"type": "lifespan.shutdown"})
    await lifespan
    return status[0]

profile = cProfile.Profile()
profile.enable()
app = create_app(Settings(database_url=sys.argv[1]))
gc.freeze()
gc.enable()
status = asyncio.run(first_answer(app))
profile.disable()
assert status == 200, status
out = io.StringIO()
stats = pstats.Stats(profile, stream=out).strip_dirs()
stats.sort_stats("cumulative").print_stats(int(sys.argv[2]))
print(out.getvalue())
"""


@dataclass
class Start:
    cache: str  # "warm": the OS page cache as it is; "dropped": dropped just before
    seconds: float
    cpu_seconds: float


@dataclass
class Result:
    name: str
    rounds: int
    started: str = ""
    seconds: float = 0.0
    venv: str = ""
    source: str = ""
    parsed_spec: bool = False
    command: str = ""
    install_command: str = ""
    seed_command: str = ""
    drop_caches: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    starts: list[Start] = field(default_factory=list)
    phases: list[dict[str, float]] = field(default_factory=list)
    imports_total_ms: list[float] = field(default_factory=list)
    import_modules: list[dict[str, Any]] = field(default_factory=list)
    import_packages: list[dict[str, Any]] = field(default_factory=list)
    profile: str = ""

    def series(self, cache: str) -> list[Start]:
        return [s for s in self.starts if s.cache == cache]


def summary(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


# -- the installed server ---------------------------------------------------------------------


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def install(
    fresh: bool, commit: str | None, work: Path, tree: Path | None = None
) -> tuple[Path, str]:
    """The virtualenv with the wheel installed (`pip install .`), refreshed: of the working
    tree, of `commit` (its files as git archive gives them, whatever the working tree
    holds) or of another source `tree`. Returns its Python and what was installed."""
    if fresh and VENV.exists():
        shutil.rmtree(VENV)
    source = ROOT
    if tree is not None:
        source, what = tree, f"source tree {tree.name}"
    elif commit is None:
        changed = git("status", "--porcelain", "--untracked-files=no")
        what = f"working tree at {git('rev-parse', '--short', 'HEAD')}"
        what += " with uncommitted changes" if changed else " (no uncommitted changes)"
    else:
        sha = git("rev-parse", "--verify", f"{commit}^{{commit}}")
        source = work / "source"
        source.mkdir()
        archive = subprocess.run(
            ["git", "archive", sha], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
        what = f"commit {sha[:12]} (git archive)"
    python = deploy_venv(VENV, source)
    if python is None:
        raise SystemExit("could not install the server into a virtualenv (see above)")
    return python, what


def uses_parsed_spec(python: Path) -> bool:
    """Whether the installed contract reads its openapi.yaml parsed at build (JSON)."""
    code = (
        "try:\n"
        "    from grafana_userapi.contract import parsed, reader\n"
        "except ImportError:  # a version from before the parsed form\n"
        "    print(False)\n"
        "else:\n"
        "    print(parsed.read(reader.SPEC_PATH, reader.spec_text()) is not None)\n"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip() == "True"


def installed_versions(python: Path) -> dict[str, str]:
    code = (
        "import json, platform, sqlite3\n"
        "from importlib import metadata\n"
        "found = {'python': platform.python_version(), 'sqlite': sqlite3.sqlite_version}\n"
        f"for name in {PACKAGES!r}:\n"
        "    try:\n"
        "        found[name] = metadata.version(name)\n"
        "    except metadata.PackageNotFoundError:\n"
        "        pass\n"
        "print(json.dumps(found))\n"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    found: dict[str, str] = json.loads(done.stdout)
    return found


def seed(python: Path, url: str, users: int) -> list[str]:
    argv = [str(python), "-m", "grafana_userapi.handlers.seed", "--users", str(users)]
    argv += ["--database-url", url, "--no-progress"]
    subprocess.run(argv, capture_output=True, text=True, check=True)
    return argv


def server_argv(python: Path, port: int, url: str) -> list[str]:
    script = python.parent / "grafana-userapi"
    return [str(script), "--host", "127.0.0.1", "--port", str(port), "--database-url", url]


def can_drop_caches() -> bool:
    return sys.platform == "linux" and os.access(DROP_CACHES, os.W_OK)


def drop_caches() -> None:
    os.sync()
    DROP_CACHES.write_text("3\n")


def first_200(
    argv: Sequence[str], port: int, cwd: Path, timeout: float = 60
) -> tuple[float, float, str]:
    """Start `argv`, wait for the first 200 of GET /api/user; (wall seconds, the server's
    CPU seconds by then, its stderr). The server is stopped before returning."""
    log_file = cwd / f"server-{port}.log"
    with log_file.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited with {process.returncode}")
                with contextlib.suppress(OSError):
                    if http_status(port, "/api/user", AUTH, timeout=2) == 200:
                        break
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"no 200 within {timeout} s")
                time.sleep(0.002)
            wall = time.perf_counter() - started
            cpu = cpu_seconds(process_tree(process.pid))
        finally:
            # Our own child leads its own process group: end exactly that group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, 9)
                process.wait(5)
    return wall, cpu, log_file.read_text(errors="replace")


def phases(python: Path, url: str, cwd: Path) -> dict[str, float]:
    """One new process of the probe: seconds from process start to each phase."""
    port = free_port()
    argv = [str(python), "-c", PROBE, "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--database-url", url]
    spawned = time.time()
    wall, cpu, output = first_200(argv, port, cwd)
    line = next(x for x in output.splitlines() if x.startswith("PROBE "))
    stamps = json.loads(line.removeprefix("PROBE "))
    return {
        "interpreter_up": round(stamps["up"] - spawned, 3),
        "imports_done": round(stamps["imported"] - spawned, 3),
        "app_built": round(stamps["built"] - spawned, 3),
        "first_200": round(wall, 3),
        "cpu_at_first_200": round(cpu, 3),
    }


# -- the breakdown ----------------------------------------------------------------------------


def importtime(python: Path, cwd: Path) -> tuple[float, dict[str, tuple[int, int]]]:
    """One `python -X importtime` of the server's imports: (total ms, module -> (own µs,
    µs including what it imported))."""
    done = subprocess.run(
        [str(python), "-X", "importtime", "-c", IMPORTS],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    )
    modules: dict[str, tuple[int, int]] = {}
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if found:
            own, total, name = int(found[1]), int(found[2]), found[4]
            modules[name] = (own, total)
    return sum(own for own, _ in modules.values()) / 1000, modules


def import_breakdown(result: Result, python: Path, cwd: Path, runs: int, top: int) -> None:
    """The median over `runs` of each module's own import time; each top-level package's
    import (its own modules' times summed: what importing it cost, wherever from)."""
    samples: list[dict[str, tuple[int, int]]] = []
    for _ in range(runs):
        total, modules = importtime(python, cwd)
        result.imports_total_ms.append(round(total, 1))
        samples.append(modules)
    names = set().union(*samples)
    own = {n: statistics.median(s.get(n, (0, 0))[0] for s in samples) for n in names}
    cumulative = {n: statistics.median(s.get(n, (0, 0))[1] for s in samples) for n in names}
    for name in sorted(own, key=own.__getitem__, reverse=True)[:top]:
        result.import_modules.append(
            {
                "module": name,
                "own_ms": round(own[name] / 1000, 1),
                "with_imports_ms": round(cumulative[name] / 1000, 1),
            }
        )
    packages: dict[str, float] = {}
    for name, micro in own.items():
        parts = name.split(".")
        key = ".".join(parts[:2]) if parts[0] == "grafana_userapi" else parts[0]
        packages[key] = packages.get(key, 0) + micro
    for name in sorted(packages, key=packages.__getitem__, reverse=True)[:top]:
        result.import_packages.append({"package": name, "ms": round(packages[name] / 1000, 1)})


def profile(python: Path, url: str, cwd: Path, lines: int = 30) -> str:
    done = subprocess.run(
        [str(python), "-c", PROFILE, url, str(lines)],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=True,
    )
    return re.sub(r"\n{2,}", "\n", done.stdout).strip()


# -- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> Result:
    result = Result(name=args.name, rounds=args.rounds)
    result.started = datetime.now(UTC).isoformat(timespec="seconds")
    began = time.perf_counter()
    result.machine = machine()
    work = Path(tempfile.mkdtemp(prefix="userapi-startup-"))
    try:
        python, result.source = install(args.fresh, args.commit, work, args.source)
        result.venv = "${TMPDIR:-/tmp}/" + str(VENV.relative_to(VENVS.parent))
        result.install_command = f"python -m venv {result.venv}; {result.venv}/bin/pip install ."
        result.versions = installed_versions(python)
        result.parsed_spec = uses_parsed_spec(python)
        url = f"sqlite:///{work / 'startup.db'}"
        argv = seed(python, url, args.users)
        result.seed_command = _shown(" ".join(argv), result.venv)
        result.seed_command = result.seed_command.replace(url, "<sqlite url>")
        dropping = can_drop_caches() and not args.no_drop_caches
        result.drop_caches = (
            "sync; echo 3 > /proc/sys/vm/drop_caches before each such round"
            if dropping
            else "not measured: " + ("--no-drop-caches" if args.no_drop_caches else "not permitted")
        )
        for round_ in range(args.rounds):
            kinds = ["warm", "dropped"] if dropping else ["warm"]
            for cache in kinds:
                if cache == "dropped":
                    drop_caches()
                port = free_port()
                command = server_argv(python, port, url)
                wall, cpu, _ = first_200(command, port, work)
                result.starts.append(Start(cache, round(wall, 3), round(cpu, 3)))
                log(f"round {round_ + 1}, page cache {cache}: {wall:.3f} s (CPU {cpu:.3f} s)")
            result.command = _shown(" ".join(command), result.venv)
            result.command = re.sub(r"--port \d+", "--port <free port>", result.command)
            result.command = result.command.replace(url, "<sqlite url>")
        log("breakdown: phases of a new process")
        for _ in range(args.probe_rounds):
            result.phases.append(phases(python, url, work))
        log("breakdown: python -X importtime")
        import_breakdown(result, python, work, args.probe_rounds, args.top)
        log("breakdown: cProfile of create_app and the first request")
        result.profile = profile(python, url, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result.seconds = round(time.perf_counter() - began, 1)
    return result


def markdown(result: Result) -> str:
    out = [
        "# Start-up of the installed server, cold",
        "",
        f"Run {result.started} in {result.seconds:.0f} s: {result.rounds} rounds. Each round"
        " starts a new process of the console script installed from the wheel"
        f" (`{result.venv}`: `pip install .` of the {result.source}, runtime dependencies"
        " only; openapi.yaml read from its parsed form at build:"
        f" {'yes' if result.parsed_spec else '**no**'}) on a free"
        " 127.0.0.1 port against a small seeded SQLite file, and times process start to"
        " the first 200 of an authenticated `GET /api/user` (polled every 2 ms); CPU is"
        ' the server\'s user+system time by then. Page cache "dropped": '
        f"{result.drop_caches}.",
        "",
        "| page cache | starts | median s | min s | max s | median CPU s | goal | met |",
        "|---|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for cache in ("warm", "dropped"):
        starts = result.series(cache)
        wall = summary([s.seconds for s in starts])
        cpu = summary([s.cpu_seconds for s in starts])
        if wall is None or cpu is None:
            continue
        met = "yes" if wall["median"] <= GOAL_SECONDS else "**no**"
        out.append(
            f"| {cache} | {len(starts)} | {wall['median']:.3f} | {wall['min']:.3f} |"
            f" {wall['max']:.3f} | {cpu['median']:.3f} | <= {GOAL_SECONDS:g} s | {met} |"
        )
    out += ["", "Every start (s, CPU s):", ""]
    for cache in ("warm", "dropped"):
        starts = result.series(cache)
        if starts:
            listed = ", ".join(f"{s.seconds:.3f} ({s.cpu_seconds:.3f})" for s in starts)
            out.append(f"* {cache}: {listed}")
    out += [
        "",
        "## Where the time goes",
        "",
        "Phases of a new process (the same `main()`, create_app timed; seconds from"
        " process start; medians of each):",
        "",
        "| interpreter up | imports done | app built | first 200 | CPU at first 200 |",
        "|---:|---:|---:|---:|---:|",
    ]
    if result.phases:
        keys = ("interpreter_up", "imports_done", "app_built", "first_200", "cpu_at_first_200")
        medians = [statistics.median(p[k] for p in result.phases) for k in keys]
        out.append("| " + " | ".join(f"{m:.3f}" for m in medians) + " |")
    out += [
        "",
        f'`python -X importtime -c "{IMPORTS}"`: {len(result.imports_total_ms)} runs, the'
        f" modules' own times summed {', '.join(f'{t:.0f}' for t in result.imports_total_ms)}"
        " ms (importtime's own overhead included). Median per module:",
        "",
        "| package (own modules summed) | ms |",
        "|---|---:|",
        *(f"| {p['package']} | {p['ms']:.1f} |" for p in result.import_packages),
        "",
        "| module | own ms | with its imports ms |",
        "|---|---:|---:|",
        *(
            f"| {m['module']} | {m['own_ms']:.1f} | {m['with_imports_ms']:.1f} |"
            for m in result.import_modules
        ),
        "",
        "cProfile of create_app, the lifespan start-up and the first request (one process,"
        " in-process ASGI calls; the profiler's overhead inflates Python-heavy code):",
        "",
        "```",
        result.profile,
        "```",
        "",
        "## Machine and versions",
        "",
        *(f"* {k}: {v}" for k, v in result.machine.items()),
        *(f"* {k}: {v}" for k, v in result.versions.items()),
        "",
        "## Commands",
        "",
        "```",
        "python -m bench.startup --rounds "
        + str(result.rounds)
        + (f" --commit {result.source.split()[1]}" if result.source.startswith("commit") else ""),
        "# install",
        result.install_command,
        "# seed",
        result.seed_command,
        "# each start",
        result.command,
        "```",
        "",
    ]
    return "\n".join(out)


def write(result: Result) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    md = RESULTS / f"{result.name}.md"
    js = RESULTS / f"{result.name}.json"
    md.write_text(markdown(result), encoding="utf-8")
    data = asdict(result)
    data["summary"] = {
        cache: {
            "seconds": summary([s.seconds for s in result.series(cache)]),
            "cpu_seconds": summary([s.cpu_seconds for s in result.series(cache)]),
        }
        for cache in ("warm", "dropped")
    }
    data["goal_seconds"] = GOAL_SECONDS
    js.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return md, js


def _shown(command: str, venv: str) -> str:
    """A command as the results show it: no path of this machine (the checkout's paths
    relative to it, the virtualenv's as `venv` names it)."""
    return command.replace(str(VENV), venv).replace(str(ROOT) + "/", "")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.startup",
        description="Start the installed server (wheel, fresh virtualenv under build/) again"
        " and again: process start to the first 200 of GET /api/user, with a breakdown;"
        " writes bench/results/<name>.md and .json.",
    )
    parser.add_argument("--rounds", type=int, default=10, help="starts per page-cache state (10)")
    parser.add_argument(
        "--probe-rounds", type=int, default=3, help="runs of each breakdown measurement (3)"
    )
    parser.add_argument("--users", type=int, default=1000, help="users seeded (1,000)")
    parser.add_argument("--top", type=int, default=20, help="modules listed (20)")
    parser.add_argument("--fresh", action="store_true", help="recreate the virtualenv first")
    parser.add_argument(
        "--commit", metavar="REV", help="install this commit (default: the working tree)"
    )
    parser.add_argument(
        "--source", type=Path, metavar="DIR", help="install this source tree instead"
    )
    parser.add_argument(
        "--no-drop-caches", action="store_true", help="never drop the OS page cache"
    )
    parser.add_argument("--name", default="startup", help="results file name (startup)")
    args = parser.parse_args(argv)
    result = run(args)
    md, js = write(result)
    print(markdown(result))
    log(f"wrote {md.relative_to(ROOT)} and {js.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
