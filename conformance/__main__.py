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
import contract
from conformance import fingerprints, logins, options
from conformance.runner import run_suite

# The reference server beside the suite: "handlers.app", or "grafana_userapi.handlers.app".
_ROOT = (__package__ or "conformance").rpartition(".")[0]
DEFAULT_APP = f"{_ROOT}{'.' if _ROOT else ''}handlers.app:create_test_app"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m conformance",
        description="Test a Grafana User HTTP API implementation against openapi.yaml. "
        "Without --base-url the reference server is tested in-process.",
    )
    parser.add_argument("--base-url", help="the server to test, e.g. http://localhost:3000")
    parser.add_argument(
        "--admin-auth",
        metavar="LOGIN:PASSWORD",
        help="a Grafana Admin's credentials, used only to create and remove the run's "
        "throwaway fixtures; required with --base-url (admin:admin for the in-process app)",
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
        help="ci: fast (default); thorough: many more generated cases; smoke: the fewest",
    )
    parser.add_argument(
        "--tolerate",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME",
        help="named tolerances to apply (see README)",
    )
    parser.add_argument(
        "--grafana-version",
        metavar="VERSION",
        help="the Grafana release the target should answer as: a release the contract lists "
        "(10.4, 11, 11.4, 12, ...; a major means its last listed minor; default the newest) "
        "or `auto`: run the version fingerprints first and test as the release they and "
        "/api/health agree on",
    )
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
    parser.add_argument(
        "--max-failed-logins",
        type=int,
        metavar="N",
        help=f"most wrong passwords the run may send (default {logins.DEFAULT_LIMIT}; Grafana "
        f"locks a login, and with IP protection the address, at {logins.GRAFANA_LIMIT} in 5 "
        "minutes)",
    )
    parser.add_argument(
        "--ca-cert",
        type=Path,
        metavar="PEM",
        help="trust this certificate authority for an https target (a private CA or a "
        "self-signed Grafana): sets SSL_CERT_FILE and REQUESTS_CA_BUNDLE for the run",
    )
    parser.add_argument("-k", dest="keyword", help="pytest -k expression to select tests")
    parser.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failure")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per test")
    return parser.parse_args(argv)


def pytest_args(args: argparse.Namespace) -> list[str]:
    found = [
        f"--profile={args.profile}",
        f"--report-dir={args.report_dir}",
        f"--junitxml={args.report_dir / 'junit.xml'}",
        "-rfE",
        "-v" if args.verbose else "-q",
        "-W",
        "ignore::DeprecationWarning",
    ]
    found.append(f"--base-url={args.base_url}" if args.base_url else f"--app={args.app}")
    if args.admin_auth:
        found.append(f"--admin-auth={args.admin_auth}")
    found += [f"--tolerate={name}" for name in args.tolerate]
    found += [f"--operation={name}" for name in args.operation]
    if args.seed is not None:
        found.append(f"--seed={args.seed}")
    if args.grafana_version:
        found.append(f"--grafana-version={args.grafana_version}")
    if args.fail_on_unobserved:
        found.append("--fail-on-unobserved")
    if args.max_failed_logins is not None:
        found.append(f"--max-failed-logins={args.max_failed_logins}")
    if args.keyword:
        found += ["-k", args.keyword]
    if args.exitfirst:
        found.append("-x")
    if args.ca_cert:
        found.append(f"--ca-cert={args.ca_cert}")
    return found


def reachable(base_url: str) -> str | None:
    """None when the server answers; otherwise why not."""
    try:
        httpx.get(f"{base_url.rstrip('/')}/api/health", timeout=10)
    except httpx.HTTPError as exc:
        return f"cannot reach {base_url}: {exc}"
    return None


def detect(args: argparse.Namespace) -> str | None:
    """`--grafana-version auto`: run the version fingerprints (as the newest release) and
    choose the release they and /api/health agree on; None when the pass cannot run."""
    spec = contract.load()
    probe = argparse.Namespace(**{**vars(args), "grafana_version": None, "keyword": None})
    probe.report_dir = args.report_dir / "fingerprints"
    outcome = run_suite(pytest_args(probe), modules=["test_versions.py"])
    if not outcome.fingerprints:
        print(f"conformance: auto: the fingerprint pass failed to run (exit {outcome.exit_code})")
        return None
    matching = fingerprints.releases_matching(spec, outcome.fingerprints)
    health = outcome.health_version or "?"
    try:
        named: str | None = spec.versions.resolve(health.partition("-")[0])
    except ValueError:
        named = None
    if named in matching:
        chosen, verdict = str(named), f"behaves as {', '.join(matching)}"
    elif matching:
        chosen, verdict = matching[-1], f"behaves as {', '.join(matching)} (not as it says)"
    else:
        chosen = named or spec.versions.newest
        odd = sorted(n for n, holds in outcome.fingerprints.items() if holds is None)
        verdict = "behaves as none of the listed releases" + (
            f" (answers as no release to: {', '.join(odd)})" if odd else ""
        )
    print(
        f"conformance: auto: /api/health says {health}; the target {verdict}; testing as {chosen}"
    )
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.base_url and not args.admin_auth:
        print(
            "conformance: --base-url needs --admin-auth LOGIN:PASSWORD (a Grafana Admin's; "
            "never defaulted for a real server)",
            file=sys.stderr,
        )
        return 2
    if problem := options.trust(str(args.ca_cert) if args.ca_cert else None):
        print(f"conformance: {problem}", file=sys.stderr)
        return 2
    if args.base_url and (problem := reachable(args.base_url)):
        print(f"conformance: {problem}", file=sys.stderr)
        return 2
    if args.grafana_version == "auto":
        args.grafana_version = detect(args)
        if args.grafana_version is None:
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
