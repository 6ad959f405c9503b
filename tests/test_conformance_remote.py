"""The conformance suite over HTTP: `--base-url` mode against the reference server on a port,
and the command line's reports and exit codes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.__main__ import main
from conformance.runner import run_suite
from handlers.app import create_test_app
from tests.support.conformance_env import clear_conformance_environment
from tests.support.postgres import free_port
from tests.support.servers import serve_in_thread

ADMIN = ["--admin-auth", "admin:admin"]  # the throwaway reference server's admin


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_conformance_environment(monkeypatch)


@pytest.fixture
def server() -> Iterator[str]:
    with serve_in_thread(create_test_app()) as url:
        yield url


@pytest.mark.slow
def test_the_whole_suite_passes_against_the_reference_server_on_a_port(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    outcome = run_suite([*ADMIN, "--base-url", server, "--report-dir", str(tmp_path), "-q"])
    elapsed = time.monotonic() - started
    assert outcome.exit_code == pytest.ExitCode.OK, outcome.failure_text()[:5000]
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "None: the target conforms to the contract." in report
    assert "Everything the run created was removed (" in report
    leftovers = httpx.get(
        f"{server}/api/users/search", params={"query": "cnf-"}, auth=("admin", "admin")
    ).json()
    assert leftovers["totalCount"] == 0, [u["login"] for u in leftovers["users"]]
    with capsys.disabled():
        print(f"\nconformance over HTTP: {outcome.passed} tests passed in {elapsed:.1f} s")


def test_the_command_line_writes_junit_and_the_report_and_exits_0(
    server: str, tmp_path: Path
) -> None:
    code = main([*ADMIN, "--base-url", server, "--report-dir", str(tmp_path), "-k", "getHealth"])
    assert code == 0
    assert "getHealth" in (tmp_path / "junit.xml").read_text(encoding="utf-8")
    observed = json.loads((tmp_path / "observed.json").read_text(encoding="utf-8"))
    assert observed["observed"]["getHealth"]["200"] >= 1
    assert (tmp_path / "report.md").read_text(encoding="utf-8").startswith("# Conformance report")


def test_the_command_line_exits_2_when_the_server_cannot_be_reached(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main([*ADMIN, "--base-url", url, "--report-dir", str(tmp_path)]) == 2


def test_the_command_line_exits_2_on_an_unknown_tolerance(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--base-url", server, "--report-dir", str(tmp_path)]
    assert main([*ADMIN, *args, "--tolerate", "no-such-thing"]) == 2
    assert "unknown difference 'no-such-thing'" in capsys.readouterr().out


def test_a_real_server_is_never_sent_a_default_admin_password(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--base-url", server, "--report-dir", str(tmp_path)]) == 2
    assert "--base-url needs --admin-auth" in capsys.readouterr().err
    outcome = run_suite(["--base-url", server, "--report-dir", str(tmp_path), "-k", "getHealth"])
    assert outcome.exit_code == pytest.ExitCode.INTERRUPTED  # refused while collecting
    assert "--base-url needs --admin-auth" in capsys.readouterr().out
    assert not (tmp_path / "report.md").exists()


def test_the_command_line_exits_2_on_a_release_the_contract_does_not_describe(
    server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*ADMIN, "--base-url", server, "--report-dir", str(tmp_path)]
    assert main([*args, "--grafana-version", "9.5"]) == 2
    assert "Grafana 9.5 is not described by the contract" in capsys.readouterr().out


def test_the_command_line_exits_2_when_the_admin_credentials_are_wrong(
    server: str, tmp_path: Path
) -> None:
    # A throwaway server: its admin may receive this one wrong password.
    code = main(
        [
            "--base-url",
            server,
            "--admin-auth",
            "admin:wrong",
            "--report-dir",
            str(tmp_path),
            "-k",
            "getHealth",
        ]
    )
    assert code == 2


def test_fail_on_unobserved_fails_a_run_that_leaves_documented_statuses_unproduced(
    server: str, tmp_path: Path
) -> None:
    args = [*ADMIN, "--base-url", server, "--report-dir", str(tmp_path), "-k", "getHealth"]
    assert main([*args, "--fail-on-unobserved"]) == 1
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| getUserByID | 200" in report  # listed among the statuses never observed


def test_auto_finds_the_release_the_target_answers_as_and_tests_it_as_that(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("USERAPI_GRAFANA_VERSION", "11.4")  # the in-process reference server
    code = main(["--grafana-version", "auto", "--report-dir", str(tmp_path), "-k", "getHealth"])
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    assert "auto: /api/health says 11.4.0; the target behaves as 11.4; testing as 11.4" in out
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "* Grafana release expected: 11.4" in report
    fingerprints = (tmp_path / "fingerprints" / "report.md").read_text(encoding="utf-8")
    assert "* The target behaves as: 11.4" in fingerprints


def test_auto_says_when_the_target_behaves_as_no_listed_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # 13.0's routes with 11.6's answer to a wrong old password: no release does both.
    from contract import Answer
    from handlers import versions

    monkeypatch.setenv("USERAPI_GRAFANA_VERSION", "13.0")
    holds, answer = versions.holds, versions.answer
    planted = Answer(401, "Invalid old password")
    monkeypatch.setattr(versions, "holds", lambda n: n == "old-password-401" or holds(n))
    monkeypatch.setattr(
        versions, "answer", lambda n: planted if n == "old-password-401" else answer(n)
    )
    code = main(["--grafana-version", "auto", "--report-dir", str(tmp_path), "-k", "getHealth"])
    out = capsys.readouterr().out
    assert "the target behaves as none of the listed releases; testing as 13.0" in out
    assert code == 0  # the second phase (getHealth only) conforms


def test_pytest_refuses_auto_with_a_pointer_to_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_suite(["--grafana-version", "auto", "--report-dir", str(tmp_path), "-q"])
    assert outcome.exit_code == pytest.ExitCode.INTERRUPTED
    assert "--grafana-version auto needs `python -m conformance`" in capsys.readouterr().out
