"""The real server command, as an operator runs it: start, answer, stop on SIGTERM, restart.

`python -m handlers` is started from an empty temporary working directory with a SQLite
file there, first configured by command-line flags (``--port``, ``--database-url``) and
then, on the restart, by Grafana's environment variable names (``GF_SERVER_HTTP_PORT``,
``GF_DATABASE_URL``). The time from process start to the first 200 answer is measured
and printed (run pytest with ``-s`` to see it).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.postgres import free_port

ADMIN = ("admin", "admin")
# Liveness bounds, not speed targets (those are measured in bench/): a hung start or a
# shutdown that never completes fails; a slow, busy machine does not.
START_LIMIT = 60.0
STOP_LIMIT = 20.0


def clean_environment(extra: Mapping[str, str] = {}) -> dict[str, str]:
    """The test runner's environment without any server setting that could leak in."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("GF_", "USERAPI_"))
    }
    env.update(extra)
    return env


@contextmanager
def server_process(
    workdir: Path,
    args: list[str],
    env: dict[str, str],
    log_name: str,
    module: str = "handlers",
) -> Iterator[subprocess.Popen[bytes]]:
    """Start the command; make sure it is gone afterwards, whatever the test did."""
    with (workdir / f"{log_name}.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def wait_for_first_200(process: subprocess.Popen[bytes], url: str, started: float) -> float:
    """Seconds from `started` to the first 200 from GET /api/user as admin."""
    deadline = started + START_LIMIT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server exited early with {process.returncode}"
        try:
            answer = httpx.get(url + "/api/user", auth=ADMIN, timeout=2)
        except httpx.TransportError:
            time.sleep(0.02)
            continue
        if answer.status_code == 200:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"the server did not answer 200 within {START_LIMIT} s")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stop(process: subprocess.Popen[bytes]) -> float:
    """SIGTERM, then the seconds it took the process to exit."""
    asked = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=STOP_LIMIT + 5)
    return time.monotonic() - asked


def test_the_server_command_starts_answers_stops_on_sigterm_and_keeps_its_data(
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "run"
    workdir.mkdir()
    database = workdir / "g.db"
    database_url = f"sqlite:///{database}"

    # First start: configured by command-line flags.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["--port", str(port), "--database-url", database_url]
    cpu_before = children_cpu_seconds()
    started = time.monotonic()
    with server_process(workdir, args, clean_environment(), "first") as first:
        startup = wait_for_first_200(first, url, started)
        print(f"\nserver command: process start -> first 200 in {startup:.2f} s")

        me = httpx.get(url + "/api/user", auth=ADMIN, timeout=5)
        assert me.status_code == 200
        profile = me.json()
        assert profile["id"] == 1
        assert profile["login"] == "admin"
        assert profile["email"] == "admin@localhost"
        assert profile["isGrafanaAdmin"] is True
        assert profile["orgId"] == 1

        created = httpx.post(
            url + "/api/admin/users",
            auth=ADMIN,
            json={"login": "persisted", "email": "persisted@example.com", "password": "pw-1234"},
            timeout=5,
        )
        assert created.status_code == 200
        user_id = created.json()["id"]

        shutdown = stop(first)
        print(f"server command: SIGTERM -> exit in {shutdown:.2f} s")
        # Wall-clock start-up depends on the machine's load; the CPU figure does not.
        cpu = children_cpu_seconds() - cpu_before
        print(f"server command: CPU time of the whole first run {cpu:.2f} s")
        assert first.returncode == 0
        assert shutdown < STOP_LIMIT

    first_log = (workdir / "first.log").read_text(errors="replace")
    assert "Traceback" not in first_log
    assert database.is_file()
    assert not (workdir / "grafana-userapi.db").exists()  # the flag, not the default

    # Second start on the same file: configured by Grafana's environment variables.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = clean_environment({"GF_SERVER_HTTP_PORT": str(port), "GF_DATABASE_URL": database_url})
    started = time.monotonic()
    with server_process(workdir, [], env, "second") as second:
        restart = wait_for_first_200(second, url, started)
        print(f"server command: restart -> first 200 in {restart:.2f} s")

        found = httpx.get(
            url + "/api/users/lookup", params={"loginOrEmail": "persisted"}, auth=ADMIN, timeout=5
        )
        assert found.status_code == 200
        assert found.json()["id"] == user_id
        assert found.json()["email"] == "persisted@example.com"
        # The password hash survived too: the user can sign in with it.
        own = httpx.get(url + "/api/user", auth=("persisted", "pw-1234"), timeout=5)
        assert own.status_code == 200
        assert own.json()["id"] == user_id

        shutdown = stop(second)
        print(f"server command: SIGTERM -> exit in {shutdown:.2f} s (restart)")
        assert second.returncode == 0
        assert shutdown < STOP_LIMIT
    assert "Traceback" not in (workdir / "second.log").read_text(errors="replace")


def pip(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--quiet", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# Imports the server, the suite and the fake; fails if any of the repository's top-level
# names was imported on the way (an import the wheel build did not move under the package).
IMPORTS_ONLY_THE_PACKAGE = """
import sys
import grafana_userapi.handlers.app, grafana_userapi.conformance.plugin
import grafana_userapi.testing.fake
from grafana_userapi import contract
tops = {"handlers", "contract", "conformance", "library_patches", "testing"}
stray = sorted(name for name in sys.modules if name.split(".")[0] in tops)
assert not stray, stray
print(contract.SPEC_PATH)
"""


def test_the_wheel_carries_the_contract_and_serves_from_an_install(tmp_path: Path) -> None:
    """What `pip install .` deploys: one import package, grafana_userapi, holding openapi.yaml
    (contract/, the reader that server and suite share, finds it beside itself), its digest
    and the migrations, and the server installed from it starts and answers."""
    root = Path(__file__).resolve().parent.parent
    pip("wheel", "--no-deps", "-w", str(tmp_path), str(root))
    (wheel,) = tmp_path.glob("grafana_userapi-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        shipped = archive.read("grafana_userapi/contract/openapi.yaml")
    assert shipped == (root / "openapi.yaml").read_bytes()
    package = {"grafana_userapi/handlers/openapi.sha256", "grafana_userapi/testing/control.yaml"}
    assert package | {"grafana_userapi/handlers/store/migrations/env.py"} <= names
    assert any("handlers/store/migrations/versions/0002" in name for name in names)
    # Nothing but the one package and its metadata: no generic top-level names.
    tops = {name.split("/")[0] for name in names}
    assert tops == {"grafana_userapi", "grafana_userapi-0.1.0.dist-info"}

    target = tmp_path / "site"
    pip("install", "--no-deps", "--target", str(target), str(wheel))
    workdir = tmp_path / "run"
    workdir.mkdir()
    env = clean_environment({"PYTHONPATH": str(target)})
    where = subprocess.run(
        [sys.executable, "-c", IMPORTS_ONLY_THE_PACKAGE],
        cwd=workdir, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.split() == [str(target / "grafana_userapi" / "contract" / "openapi.yaml")]
    port = free_port()
    args = ["--port", str(port), "--database-url", f"sqlite:///{workdir / 'w.db'}"]
    with server_process(workdir, args, env, "wheel", "grafana_userapi.handlers") as process:
        wait_for_first_200(process, f"http://127.0.0.1:{port}", time.monotonic())
        me = httpx.get(f"http://127.0.0.1:{port}/api/user", auth=ADMIN, timeout=5)
        assert (me.status_code, me.json()["login"]) == (200, "admin")
        assert stop(process) < STOP_LIMIT
