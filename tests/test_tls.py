"""HTTPS as Grafana serves it: `GF_SERVER_PROTOCOL=https` with `GF_SERVER_CERT_FILE` and
`GF_SERVER_CERT_KEY` (PEM), for the server, its workers and the fake Grafana; a protocol it
does not speak, or https without its files, stops it at start, saying what to set."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live import clean_environment, refused_at_start
from tests.support.postgres import free_port

AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by openssl."""
    openssl = shutil.which("openssl")
    assert openssl is not None, "openssl is needed to make a test certificate"
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextlib.contextmanager
def serving(args: list[str], env: dict[str, str], cert: Path, log: Path) -> Iterator[str]:
    """`python -m handlers ARGS` until it answers GET /api/health over https."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "handlers", "--port", str(port), *args],
            env=clean_environment(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base + "/api/health", verify=str(cert), timeout=2).is_success:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.parametrize(
    "args", [["--database-url", "sqlite://"], ["--fake"]], ids=["server", "fake"]
)
def test_grafanas_https_settings_serve_over_tls(
    args: list[str], certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate
    env = {"GF_SERVER_PROTOCOL": "https", "GF_SERVER_CERT_FILE": str(cert)}
    env["GF_SERVER_CERT_KEY"] = str(key)
    with serving(args, env, cert, tmp_path / "server.log") as base:
        answered = httpx.get(base + "/api/user", headers=AUTH, verify=str(cert))
        assert answered.status_code == 200 and answered.json()["login"] == "admin"
        with pytest.raises(httpx.TransportError):  # plain HTTP gets no answer there
            httpx.get(base.replace("https", "http", 1) + "/api/health", timeout=5)
    assert f"on {base}" in (tmp_path / "server.log").read_text()


def test_the_command_line_serves_https_from_two_workers(
    certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate
    args = ["--database-url", f"sqlite:///{tmp_path / 'g.db'}", "--workers", "2"]
    args += ["--protocol", "https", "--cert-file", str(cert), "--cert-key", str(key)]
    with serving(args, {}, cert, tmp_path / "server.log") as base:
        for _ in range(4):
            assert httpx.get(base + "/api/user", headers=AUTH, verify=str(cert)).is_success


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"GF_SERVER_PROTOCOL": "h2"}, "server protocol 'h2' is not served: http or https"),
        ({"GF_SERVER_PROTOCOL": "https"}, "https needs a certificate and its key"),
        (
            {
                "GF_SERVER_PROTOCOL": "https",
                "GF_SERVER_CERT_FILE": "/nowhere/cert.pem",
                "GF_SERVER_CERT_KEY": "/nowhere/key.pem",
            },
            "no such file: /nowhere/cert.pem (GF_SERVER_CERT_FILE)",
        ),
    ],
)
def test_a_protocol_the_server_cannot_serve_stops_it_at_start(
    env: dict[str, str], said: str
) -> None:
    assert f"grafana-userapi: {said}" in refused_at_start(["--database-url", "sqlite://"], env)


def test_the_conformance_suite_tests_an_https_server_trusting_its_certificate(
    certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    """`--ca-cert` makes both of the suite's HTTP libraries trust a self-signed target;
    without it, the run stops before testing, saying why."""
    cert, key = certificate
    env = {"GF_SERVER_PROTOCOL": "https", "GF_SERVER_CERT_FILE": str(cert)}
    env["GF_SERVER_CERT_KEY"] = str(key)
    with serving(["--database-url", "sqlite://"], env, cert, tmp_path / "server.log") as base:
        suite = [sys.executable, "-m", "conformance", "--base-url", base, "--admin-auth"]
        suite += ["admin:admin", "--profile", "smoke", "--operation", "getSignedInUser"]
        suite += ["--report-dir", str(tmp_path / "report")]
        untrusted = subprocess.run(
            suite, env=clean_environment(), capture_output=True, text=True, timeout=300
        )
        assert untrusted.returncode == 2, untrusted.stdout + untrusted.stderr
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
        trusted = subprocess.run(
            [*suite, "--ca-cert", str(cert)],
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert trusted.returncode == 0, trusted.stdout[-3000:] + trusted.stderr[-3000:]
    assert "the server conforms" in trusted.stdout


def test_the_suites_two_http_libraries_trust_the_same_authority(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from conformance.options import trust

    ca = tmp_path / "ca.pem"
    ca.write_text("pem")
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ca.pem")
    assert trust(None) is None  # one variable set alone: copied to the other
    assert os.environ["SSL_CERT_FILE"] == "/etc/ca.pem"
    assert trust(str(ca)) is None  # --ca-cert: both, whatever was set
    assert os.environ["SSL_CERT_FILE"] == os.environ["REQUESTS_CA_BUNDLE"] == str(ca)
    assert trust(str(tmp_path / "none.pem")) == f"--ca-cert: no such file: {tmp_path}/none.pem"
