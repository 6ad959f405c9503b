"""`python -m conformance`: check a server against openapi.yaml and write a report.

Exit status: 0 the server conforms, 1 deviations were found, 2 usage or set-up error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

# Imported before pytest starts, so pytest does not rewrite (and recompile) them per run.
import conformance.plugin  # noqa: F401
from conformance import options
from conformance.runner import run_suite

DEFAULT_APP = "handlers.app:create_test_app"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Test a Grafana User HTTP API implementation against openapi.yaml. "
        "Without --base-url the reference server is tested in-process.",
    )
    parser.add_argument("--base-url", help="the server to test, e.g. http://localhost:3000")
    parser.add_argument(
        "--admin-auth",
        default="admin:admin",
        metavar="LOGIN:PASSWORD",
        help="a Grafana Admin's credentials (used only to create and remove "
        "the run's throwaway fixtures; default admin:admin)",
    )
    parser.add_argument(
        "--app",
        default=DEFAULT_APP,
        metavar="MODULE:FACTORY",
        help=f"in-process ASGI app when no --base-url (default {DEFAULT_APP})",
    )
    parser.add_argument(
        "--seed", type=int, help=f"generation seed (default {options.DEFAULT_SEED})"
    )
    parser.add_argument(
        "--profile",
        choices=options.PROFILES,
        default="ci",
        help="ci: fast (default); thorough: many more generated cases",
    )
    parser.add_argument(
        "--tolerate",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help="named tolerances to apply (see README)",
    )
    parser.add_argument("--grafana-version", help="apply the tolerances of this Grafana version")
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=Path("conformance-report"),
        help="where report.md, observed.json and junit.xml go",
    )
    parser.add_argument(
        "--fail-on-unobserved",
        action="store_true",
        help="also fail when a documented status was never produced",
    )
    parser.add_argument(
        "--operation",
        action="extend",
        nargs="+",
        default=[],
        metavar="OPERATION_ID",
        help="limit per-operation tests to these",
    )
    parser.add_argument("-k", dest="keyword", help="pytest -k expression to select tests")
    parser.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per test")
    return parser.parse_args(argv)


def pytest_args(args: argparse.Namespace) -> list[str]:
    found = [
        f"--admin-auth={args.admin_auth}",
        f"--profile={args.profile}",
        f"--report-dir={args.report_dir}",
        f"--junitxml={args.report_dir / 'junit.xml'}",
        "-rfE",
        "-v" if args.verbose else "-q",
        "-W",
        "ignore::DeprecationWarning",
    ]
    found.append(f"--base-url={args.base_url}" if args.base_url else f"--app={args.app}")
    found += [f"--tolerate={name}" for name in args.tolerate]
    found += [f"--operation={name}" for name in args.operation]
    if args.seed is not None:
        found.append(f"--seed={args.seed}")
    if args.grafana_version:
        found.append(f"--grafana-version={args.grafana_version}")
    if args.fail_on_unobserved:
        found.append("--fail-on-unobserved")
    if args.keyword:
        found += ["-k", args.keyword]
    if args.exitfirst:
        found.append("-x")
    return found


def reachable(base_url: str) -> str | None:
    """None when the server answers; otherwise why not."""
    try:
        httpx.get(f"{base_url.rstrip('/')}/api/health", timeout=10)
    except httpx.HTTPError as exc:
        return f"cannot reach {base_url}: {exc}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.base_url and (problem := reachable(args.base_url)):
        print(f"conformance: {problem}", file=sys.stderr)
        return 2
    outcome = run_suite(pytest_args(args))
    report = args.report_dir / "report.md"
    if outcome.exit_code == pytest.ExitCode.OK:
        print(f"conformance: the server conforms. Report: {report}")
        return 0
    if outcome.exit_code == pytest.ExitCode.TESTS_FAILED:
        print(
            f"conformance: {len(outcome.failed)} failing tests, "
            f"{len(outcome.deviations)} deviations. Report: {report}"
        )
        return 1
    print(f"conformance: usage or set-up error (pytest exit {outcome.exit_code})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
