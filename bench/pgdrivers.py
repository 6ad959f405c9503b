"""`python -m bench.pgdrivers`: what one PostgreSQL read costs the server's process, per way
of running it on an event loop (issue 14, part 1: "measure before you choose").

A private PostgreSQL cluster on loopback (tests/support/postgres.py); one small indexed
table; the same one-row SELECT by primary key, N times, one after the other, timed by the
client process's CPU (user + system) and by the wall clock, best of several rounds:

* psycopg, blocking, on the loop thread (the loop waits: no other request runs meanwhile);
* psycopg, blocking, on a worker thread from the loop (anyio.to_thread, the server's
  former PostgreSQL path);
* psycopg's asyncio connection, awaited directly;
* asyncpg, awaited directly (when installed: `pip install asyncpg`);
* through SQLAlchemy's asyncio extension as the server runs it (Database.on_loop: plain
  code in a greenlet, a connection from the pool, the query, the connection back), with
  psycopg and with asyncpg.

Writes bench/results/pgdrivers.md and .json with the machine and versions.

    python -m bench.pgdrivers [--queries 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from anyio import to_thread

from bench.report import RESULTS
from bench.runner import log, machine, versions
from tests.support.postgres import find_bin_dir, running_postgres

SETUP = (
    "CREATE TABLE IF NOT EXISTS probe (id bigint PRIMARY KEY, login text NOT NULL);"
    " INSERT INTO probe SELECT g, 'user' || g FROM generate_series(1, 1000) g"
    " ON CONFLICT DO NOTHING"
)
PSYCOPG_SQL = "SELECT id, login FROM probe WHERE id = %s"
ASYNCPG_SQL = "SELECT id, login FROM probe WHERE id = $1"


@dataclass
class Way:
    name: str
    cpu_us: float
    wall_us: float
    note: str


@dataclass
class DriversReport:
    queries: int
    rounds: int
    started: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    ways: list[Way] = field(default_factory=list)


async def _measure(step: Callable[[int], Awaitable[Any]], queries: int, rounds: int) -> Way:
    """Best round's CPU and wall time per query (a round: `queries` steps in a row)."""
    for i in range(min(queries, 200)):  # warm: connections, prepared statements
        await step(i)
    cpu, wall = float("inf"), float("inf")
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        for i in range(queries):
            await step(i)
        cpu = min(cpu, (time.process_time() - c0) / queries)
        wall = min(wall, (time.perf_counter() - w0) / queries)
    return Way("", round(cpu * 1e6, 1), round(wall * 1e6, 1), "")


async def _ways(url: str, queries: int, rounds: int) -> list[Way]:
    import psycopg
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.util import greenlet_spawn

    found: list[Way] = []

    async def add(name: str, note: str, step: Callable[[int], Awaitable[Any]]) -> None:
        way = await _measure(step, queries, rounds)
        way.name, way.note = name, note
        found.append(way)
        log(f"{name}: {way.cpu_us} us CPU, {way.wall_us} us wall per read")

    blocking = psycopg.connect(url, autocommit=True)
    blocking.execute(SETUP)

    def read(i: int) -> Any:
        return blocking.execute(PSYCOPG_SQL, (1 + i % 1000,)).fetchone()

    async def on_loop(i: int) -> Any:
        return read(i)

    async def on_thread(i: int) -> Any:
        return await to_thread.run_sync(read, i)

    await add("psycopg, blocking, on the loop", "the loop waits for the round trip", on_loop)
    await add("psycopg, blocking, on a worker thread", "the former PostgreSQL path", on_thread)
    blocking.close()

    awaited = await psycopg.AsyncConnection.connect(url, autocommit=True)

    async def psycopg_async(i: int) -> Any:
        cursor = await awaited.execute(PSYCOPG_SQL, (1 + i % 1000,))
        return await cursor.fetchone()

    await add("psycopg, asyncio connection", "awaited directly", psycopg_async)
    await awaited.close()

    drivers = ["psycopg"]
    try:
        import asyncpg  # type: ignore[import-not-found,import-untyped,unused-ignore]

        drivers.append("asyncpg")
        direct = await asyncpg.connect(url)

        async def asyncpg_direct(i: int) -> Any:
            return await direct.fetchrow(ASYNCPG_SQL, 1 + i % 1000)

        await add("asyncpg", "awaited directly", asyncpg_direct)
        await direct.close()
    except ImportError:
        log("asyncpg is not installed: its rows are left out")

    base = url.split("://", 1)[1]
    for driver in drivers:
        engine = create_async_engine(
            f"postgresql+{driver}://{base}",
            isolation_level="AUTOCOMMIT",
            pool_reset_on_return=None,
        )
        pooled = engine.sync_engine
        sql = PSYCOPG_SQL if driver == "psycopg" else ASYNCPG_SQL

        def plain_code(i: int, pooled: Any = pooled, sql: str = sql) -> Any:
            with pooled.connect() as conn:
                cursor = conn.connection.cursor()
                cursor.execute(sql, (1 + i % 1000,))
                row = cursor.fetchone()
                cursor.close()
                return row

        async def bridged(i: int, plain_code: Any = plain_code) -> Any:
            return await greenlet_spawn(plain_code, i)

        await add(
            f"SQLAlchemy asyncio extension, {driver}",
            "as Database.on_loop runs a read: greenlet, pool checkout, query, check-in",
            bridged,
        )
        await engine.dispose()
    return found


def markdown(report: DriversReport) -> str:
    lines = [
        "# Benchmark `pgdrivers`: one PostgreSQL read, per way of running it",
        "",
        f"Run {report.started}: a one-row SELECT by primary key, {report.queries:,} in a row,"
        f" best of {report.rounds} rounds; CPU is the client process's (user + system), wall"
        " the elapsed time, both per read. PostgreSQL runs on the same 2-core machine"
        " (loopback). `python -m bench.pgdrivers` (bench/pgdrivers.py).",
        "",
        "| way | CPU us/read | wall us/read | note |",
        "|---|---:|---:|---|",
    ]
    lines += [f"| {w.name} | {w.cpu_us:,.1f} | {w.wall_us:,.1f} | {w.note} |" for w in report.ways]
    lines += ["", "## Machine and versions", ""]
    lines += [f"* {k}: {v}" for k, v in {**report.machine, **report.versions}.items()]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pgdrivers", description=__doc__)
    parser.add_argument("--queries", type=int, default=3000, help="reads per round (3000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, the best kept (5)")
    args = parser.parse_args(argv)
    if args.queries < 1 or args.rounds < 1:
        parser.error("--queries and --rounds must be at least 1")
    pg_bin = find_bin_dir()
    if pg_bin is None:
        raise SystemExit("PostgreSQL's server binaries are not installed")
    report = DriversReport(args.queries, args.rounds)
    report.started = datetime.now(UTC).isoformat(timespec="seconds")
    report.machine = machine()
    report.versions = versions(pg_bin)
    with contextlib.suppress(metadata.PackageNotFoundError):
        report.versions["asyncpg"] = metadata.version("asyncpg")
    with running_postgres() as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        report.ways = asyncio.run(_ways(plain, args.queries, args.rounds))
    report.machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pgdrivers.md").write_text(markdown(report), encoding="utf-8")
    (RESULTS / "pgdrivers.json").write_text(
        json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8"
    )
    print(markdown(report))


if __name__ == "__main__":
    main()
