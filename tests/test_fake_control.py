"""`grafana-userapi --fake [--seed FILE]`: the fake for clients in any language, controlled
over HTTP under /__fake as testing/control.yaml describes; a normal server has none of it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from openapi_spec_validator import validate
from starlette.routing import Route
from starlette.testclient import TestClient

from testing.control import DOCUMENT, control_app
from testing.fake import Fake
from tests.support.postgres import free_port
from tests.test_serve_command import clean_environment

SEED = """
users:
  - {login: ann, password: pw-ann, orgs: {Main Org.: Editor}}
"""


def test_the_control_document_is_valid_and_describes_exactly_the_routes_served() -> None:
    document = yaml.safe_load(DOCUMENT.read_text())
    validate(document)
    described = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    served = {
        (route.path, method)
        for route in control_app(Fake()).routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert served == described


def test_control_endpoints_answer_errors_as_json_messages() -> None:
    client = TestClient(Fake())
    unknown = client.post("/__fake/faults", json={"path": "/x", "kind": "explode"})
    assert unknown.status_code == 400 and "fault kind must be one of" in unknown.json()["message"]
    bad_seed = client.post("/__fake/seed", json={"users": [{"login": "admin"}]})
    assert bad_seed.status_code == 400
    assert bad_seed.json()["problems"] == ["users[0] (login 'admin'): login 'admin' already exists"]
    assert client.post("/__fake/reset", json={"snapshot": "none"}).status_code == 404


def test_the_fake_command_is_controlled_over_http(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "handlers", "--fake", "--seed", str(seed), "--port", str(port)]
    log = (tmp_path / "fake.log").open("wb")
    process = subprocess.Popen(command, cwd=tmp_path, env=clean_environment(), stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "fake.log").read_text()
            try:
                if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the fake did not start"
            time.sleep(0.05)
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get("/api/user", auth=("ann", "pw-ann")).status_code == 200
            made = client.post(
                "/__fake/seed", json={"users": [{"login": "bo", "password": "pw-bo"}]}
            )
            assert made.status_code == 201 and set(made.json()["users"]) == {"bo"}
            armed = client.post(
                "/__fake/faults", json={"path": "/api/user", "kind": "status", "status": 502}
            )
            assert armed.status_code == 201
            assert client.get("/api/user", auth=("bo", "pw-bo")).status_code == 502
            journal = client.get("/__fake/requests", params={"path": "/api/user"}).json()
            assert [(r["status"], r["fault"]) for r in journal] == [(200, None), (502, "status")]
            frozen = client.post("/__fake/clock/freeze", json={"at": "2030-01-01T00:00:00Z"}).json()
            moved = client.post("/__fake/clock/advance", json={"seconds": 90}).json()
            assert (frozen["now"], moved["now"]) == ("2030-01-01T00:00:00Z", "2030-01-01T00:01:30Z")
            assert client.post("/__fake/reset").status_code == 200
            assert client.get("/api/user", auth=("bo", "pw-bo")).status_code == 401
            assert client.get("/api/user", auth=("ann", "pw-ann")).status_code == 200
            assert client.get("/__fake/clock").json()["frozen"] is False
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_a_bad_seed_file_stops_the_fake_command_with_the_problem(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("users:\n  - {login: ann, colour: red}\n")
    done = subprocess.run(
        [sys.executable, "-m", "handlers", "--fake", "--seed", str(seed), "--port", "1"],
        cwd=tmp_path, env=clean_environment(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "users[0] (login 'ann'): unknown field 'colour'" in done.stderr
    assert "Traceback" not in done.stderr
