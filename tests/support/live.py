"""Real server processes for the reliability and security tests.

`ServerProcess` runs `python -m handlers` on a loopback port against a database URL, logs
to a file, and can be stopped gently, killed with SIGKILL and started again on the same
database. `fresh_database_url` gives each test a database of its own: a SQLite file in the
test's folder, or a new database in the session's private PostgreSQL cluster.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.postgres import find_bin_dir, free_port

START_LIMIT = 60.0  # seconds from spawn to a healthy answer; a liveness bound, not a target


def postgres_available() -> bool:
    """Whether the session can have a PostgreSQL (see the `postgres_url` fixture)."""
    return bool(os.environ.get("USERAPI_TEST_POSTGRES_URL")) or find_bin_dir() is not None


def clean_environment(extra: Mapping[str, str] = {}) -> dict[str, str]:
    """The runner's environment without server settings that could leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GF_", "USERAPI_"))}
    env.update(extra)
    return env


class ServerProcess:
    """One `python -m handlers` process; `start()` may be called again after a kill."""

    def __init__(
        self,
        database_url: str | None,
        log_path: Path,
        env: Mapping[str, str] = {},
        workers: int = 1,
        args: Sequence[str] = (),
    ) -> None:
        self.database_url = database_url
        self.args = list(args)
        self.log_path = log_path
        self.env = clean_environment(env)
        self.workers = workers
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log_offset = 0  # where the log of the latest start begins

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> float:
        """Spawn the server and wait for GET /api/health to answer 200; returns the seconds."""
        started = time.monotonic()
        command = [sys.executable, "-m", "handlers", "--port", str(self.port)]
        if self.database_url is not None:  # (None: the environment's GF_DATABASE_* say)
            command += ["--database-url", self.database_url]
        command += ["--workers", str(self.workers)]
        command += self.args
        with self.log_path.open("ab") as log:
            self.log_offset = log.tell()
            log.write(f"--- start {self.starts + 1}: {' '.join(command[1:])}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.starts += 1
        deadline = started + START_LIMIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"server exited with {self.process.returncode} while starting:\n"
                    + self.log()[-3000:]
                )
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/api/health", timeout=2).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"server did not become healthy in {START_LIMIT} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (uvicorn workers included), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    def rss_kib(self) -> int:
        """Resident memory of the server process, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc status")

    def log(self, since_last_start: bool = False) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset if since_last_start else 0)
            return log.read().decode(errors="replace")


@contextlib.contextmanager
def running_server(
    database_url: str, log_path: Path, env: Mapping[str, str] = {}, workers: int = 1
) -> Iterator[ServerProcess]:
    server = ServerProcess(database_url, log_path, env, workers)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def refused_at_start(args: Sequence[str], env: Mapping[str, str] = {}) -> str:
    """Run `python -m handlers ARGS`, which must stop at start (exit 1) with a message of
    its own, no traceback; returns what it wrote on stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "handlers", *args],
        env=clean_environment(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert done.stderr.startswith("grafana-userapi: ") or "\ngrafana-userapi: " in done.stderr
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done.stderr


def fresh_database_url(backend: str, folder: Path, postgres_url: str | None = None) -> str:
    """A new, empty database: a SQLite file in `folder`, or a new PostgreSQL database."""
    if backend == "sqlite":
        return f"sqlite:///{folder / f'grafana-{uuid.uuid4().hex[:8]}.db'}"
    assert postgres_url is not None
    name = f"rel_{uuid.uuid4().hex[:12]}"
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(postgres_url).set(database=name).render_as_string(hide_password=False)


def database_url_for(request: pytest.FixtureRequest, backend: str, folder: Path) -> str:
    """`fresh_database_url` for a test parametrized by backend (PostgreSQL via conftest)."""
    postgres = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    return fresh_database_url(backend, folder, postgres)
