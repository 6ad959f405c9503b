"""The run's settings: command-line option, then environment variable, then pytest ini value."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

import contract
from conformance import logins, tolerances

DEFAULT_SEED = 20_240_601
PROFILES = ("ci", "thorough", "smoke")


@dataclass(frozen=True)
class Budget:
    """How much generated data a profile buys."""

    contract_examples: int  # schemathesis fuzzing cases per operation (coverage phase is extra)
    property_examples: int  # hypothesis examples per property test
    population: int  # seeded users for the search properties
    shrink: bool  # minimise failing examples (costs many requests per failure)


BUDGETS = {
    "ci": Budget(contract_examples=6, property_examples=8, population=8, shrink=False),
    "thorough": Budget(contract_examples=100, property_examples=150, population=24, shrink=True),
    # Every test, the fewest generated cases: for runs repeated per release (the version
    # matrix), where the release-specific behaviour is what is being checked.
    "smoke": Budget(contract_examples=2, property_examples=3, population=8, shrink=False),
}


@dataclass(frozen=True)
class RunOptions:
    base_url: str | None
    app: str | None
    admin_auth: tuple[str, str]
    tolerances: frozenset[str]
    grafana_version: str  # the release the target is expected to answer as
    profile: str
    seed: int
    fail_on_unobserved: bool
    report_dir: Path | None
    spec_path: Path
    operations: frozenset[str]
    max_requests: int
    request_timeout: float
    max_failed_logins: int = logins.DEFAULT_LIMIT

    @property
    def contract(self) -> contract.Contract:
        """The contract as the expected Grafana release answers it."""
        return contract.load(self.spec_path, self.grafana_version)

    @property
    def budget(self) -> Budget:
        return BUDGETS[self.profile]

    @property
    def target_label(self) -> str:
        return self.base_url or f"in-process app {self.app}"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "Grafana User API conformance suite")
    add = group.addoption
    add("--base-url", help="test the server at this URL [CONFORMANCE_BASE_URL]")
    add("--app", help="'module:factory' returning an ASGI app, tested in-process [CONFORMANCE_APP]")
    add("--admin-auth", help="LOGIN:PASSWORD of a Grafana Admin [CONFORMANCE_ADMIN_AUTH]")
    add(
        "--tolerate",
        action="append",
        default=[],
        metavar="NAME",
        help="apply a named tolerance (repeatable) [CONFORMANCE_TOLERATE, comma-separated]",
    )
    add(
        "--grafana-version",
        help="expect this Grafana release (10.4, 11, 11.4, 12, ...; default: the newest the "
        "contract describes) [CONFORMANCE_GRAFANA_VERSION]",
    )
    add(
        "--profile",
        choices=PROFILES,
        help="ci (default, fast), thorough or smoke (fewest cases) [CONFORMANCE_PROFILE]",
    )
    add("--seed", type=int, help=f"generation seed (default {DEFAULT_SEED}) [CONFORMANCE_SEED]")
    add(
        "--fail-on-unobserved",
        action="store_true",
        default=None,
        help="fail the run when a documented status was never produced",
    )
    add("--report-dir", help="write report.md (and observed.json) here [CONFORMANCE_REPORT_DIR]")
    add("--spec", help="the contract to test against (default: the repository's openapi.yaml)")
    add(
        "--operation",
        action="append",
        default=[],
        metavar="OPERATION_ID",
        help="limit per-operation tests to these operationIds (repeatable)",
    )
    add("--max-requests", type=int, help="abort the run after this many requests (default 60000)")
    add("--request-timeout", type=float, help="seconds per request (default 10)")
    add(
        "--ca-cert",
        help="trust this certificate authority (PEM) for an https target: sets SSL_CERT_FILE "
        "and REQUESTS_CA_BUNDLE [CONFORMANCE_CA_CERT]",
    )
    add(
        "--max-failed-logins",
        type=int,
        help=f"most wrong passwords a run sends (default {logins.DEFAULT_LIMIT}, at most "
        f"{logins.PER_LOGIN} per login; Grafana locks a login, or an address, at "
        f"{logins.GRAFANA_LIMIT} in 5 minutes) [CONFORMANCE_MAX_FAILED_LOGINS]",
    )
    parser.addini("conformance_app", "'module:factory' for in-process runs without --base-url")


def trust(ca_cert: str | None) -> str | None:
    """Make both HTTP libraries of the run (httpx: SSL_CERT_FILE; requests, under
    schemathesis: REQUESTS_CA_BUNDLE) trust `ca_cert`, or the one of the two variables
    set, so they never disagree about a certificate. Returns why not, if it cannot."""
    if ca_cert is not None:
        if not Path(ca_cert).is_file():
            return f"--ca-cert: no such file: {ca_cert}"
        os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(
            Path(ca_cert).resolve()
        )
        return None
    given = os.environ.get("SSL_CERT_FILE") or os.environ.get("REQUESTS_CA_BUNDLE")
    if given:
        os.environ.setdefault("SSL_CERT_FILE", given)
        os.environ.setdefault("REQUESTS_CA_BUNDLE", given)
    return None


def _pick(config: pytest.Config, name: str, env: str, default: str | None = None) -> str | None:
    value = config.getoption(name)
    if value is None or value == []:
        value = os.environ.get(env) or None
    return default if value is None else str(value)


def from_config(config: pytest.Config) -> RunOptions:
    """Read and validate the options; a bad value is a usage error (exit code 2 in the CLI)."""
    base_url = _pick(config, "base_url", "CONFORMANCE_BASE_URL")
    app = _pick(config, "app", "CONFORMANCE_APP") or (str(config.getini("conformance_app")) or None)
    if base_url is None and app is None:
        raise pytest.UsageError("give --base-url URL, or --app module:factory (or conformance_app)")
    # Never a default password against a real server: only the in-process app has one.
    admin = _pick(
        config, "admin_auth", "CONFORMANCE_ADMIN_AUTH", None if base_url else "admin:admin"
    )
    if admin is None:
        raise pytest.UsageError(
            "--base-url needs --admin-auth LOGIN:PASSWORD (a Grafana Admin's; never defaulted "
            "for a real server)"
        )
    login, sep, password = admin.partition(":")
    if not (sep and login and password):
        raise pytest.UsageError("--admin-auth must be LOGIN:PASSWORD")
    spec_path = Path(_pick(config, "spec", "CONFORMANCE_SPEC") or contract.SPEC_PATH)
    if not spec_path.is_file():
        raise pytest.UsageError(f"contract not found: {spec_path}")
    spec = contract.load(spec_path)
    names = [n for opt in config.getoption("tolerate") for n in opt.split(",") if n]
    names += [n for n in os.environ.get("CONFORMANCE_TOLERATE", "").split(",") if n]
    asked = _pick(config, "grafana_version", "CONFORMANCE_GRAFANA_VERSION")
    if asked == "auto":
        raise pytest.UsageError(
            "--grafana-version auto needs `python -m conformance`, which runs the version "
            "fingerprints first; with pytest, name the release (e.g. 11.6)"
        )
    try:
        version = spec.versions.resolve(asked) if asked else spec.versions.newest
        applied = tolerances.resolve(names, version, spec)
    except (ValueError, tolerances.UnknownTolerance) as exc:
        raise pytest.UsageError(str(exc)) from None
    operations = frozenset(config.getoption("operation"))
    unknown = operations - {op.operation_id for op in spec.operations}
    if unknown:
        raise pytest.UsageError(f"unknown operationId(s): {', '.join(sorted(unknown))}")
    profile = _pick(config, "profile", "CONFORMANCE_PROFILE", "ci") or "ci"
    if profile not in PROFILES:
        raise pytest.UsageError(f"unknown profile {profile!r} (choose from {', '.join(PROFILES)})")
    report_dir = _pick(config, "report_dir", "CONFORMANCE_REPORT_DIR")
    failed_logins = _pick(
        config, "max_failed_logins", "CONFORMANCE_MAX_FAILED_LOGINS", str(logins.DEFAULT_LIMIT)
    )
    try:
        max_failed_logins = int(failed_logins or 0)
    except ValueError:
        raise pytest.UsageError(
            f"--max-failed-logins wants a number, got {failed_logins!r}"
        ) from None
    if max_failed_logins < 0:
        raise pytest.UsageError("--max-failed-logins cannot be negative")
    if problem := trust(_pick(config, "ca_cert", "CONFORMANCE_CA_CERT")):
        raise pytest.UsageError(problem)
    fail_flag = config.getoption("fail_on_unobserved")
    return RunOptions(
        base_url=base_url.rstrip("/") if base_url else None,
        app=None if base_url else app,
        admin_auth=(login, password),
        tolerances=applied,
        grafana_version=version,
        profile=profile,
        seed=int(_pick(config, "seed", "CONFORMANCE_SEED", str(DEFAULT_SEED)) or DEFAULT_SEED),
        fail_on_unobserved=bool(fail_flag or os.environ.get("CONFORMANCE_FAIL_ON_UNOBSERVED")),
        report_dir=Path(report_dir) if report_dir else None,
        spec_path=spec_path,
        operations=operations,
        max_requests=int(_pick(config, "max_requests", "CONFORMANCE_MAX_REQUESTS", "60000") or 0),
        request_timeout=float(_pick(config, "request_timeout", "CONFORMANCE_TIMEOUT", "10") or 10),
        max_failed_logins=max_failed_logins,
    )
