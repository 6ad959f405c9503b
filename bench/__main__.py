"""`python -m bench [--quick]`: the benchmark suite (see bench/README.md)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from bench.report import load, markdown, write
from bench.runner import Config, log, run


def parse(argv: Sequence[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Seed, serve and load-test the User API against its ceiling, its peer"
        " (Prism) and Grafana's approach; writes bench/results/<name>.md and .json.",
    )
    parser.add_argument("--quick", action="store_true", help="small and short (< 2 minutes)")
    parser.add_argument("--name", help="results file name (default: quick or full)")
    parser.add_argument("--users", type=int, help="users to seed (default 1,000,000; quick 10,000)")
    parser.add_argument("--duration", type=float, help="seconds per load run (default 10; quick 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument(
        "--search-connections", type=int, default=1, help="wrk connections for search (1)"
    )
    parser.add_argument("--rounds", type=int, help="interleaved rounds per server (2; quick 1)")
    parser.add_argument("--queries", type=int, default=50, help="distinct search queries (50)")
    parser.add_argument("--orgs", type=int, default=10, help="extra orgs to seed (10)")
    parser.add_argument("--teams", type=int, default=100, help="teams to seed (100)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-prism", action="store_true", help="skip the Prism peer")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="only re-render a results .json to .md"
    )
    args = parser.parse_args(argv)
    if args.render:
        report = load(args.render)
        md, _ = write(report)
        log(f"wrote {md}")
        raise SystemExit(0)
    quick = bool(args.quick)
    return Config(
        name=args.name or ("quick" if quick else "full"),
        users=args.users or (10_000 if quick else 1_000_000),
        duration=args.duration or (2.0 if quick else 10.0),
        connections=args.connections,
        search_connections=args.search_connections,
        rounds=args.rounds or (1 if quick else 2),
        queries=args.queries,
        orgs=args.orgs,
        teams=args.teams,
        postgres=not args.no_postgres,
        prism=not args.no_prism,
        keep=args.keep,
        quick=quick,
    )


def main(argv: Sequence[str] | None = None) -> None:
    config = parse(argv)
    report = run(config)
    md, js = write(report)
    print(markdown(report))
    log(f"wrote {md} and {js}")


if __name__ == "__main__":
    main()
