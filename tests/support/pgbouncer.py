"""A throwaway PgBouncer on loopback in front of a test PostgreSQL, in a temp folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.support.postgres import _wait, free_port


def needs_pgbouncer() -> None:
    """Skip the calling test where pgbouncer is not installed, except when
    USERAPI_REQUIRE_PGBOUNCER=1 (as CI sets): there its absence is a failure."""
    if find_pgbouncer() is None:
        if os.environ.get("USERAPI_REQUIRE_PGBOUNCER") == "1":
            pytest.fail("pgbouncer is required (USERAPI_REQUIRE_PGBOUNCER=1) but not installed")
        pytest.skip("pgbouncer is not installed")


def find_pgbouncer() -> str | None:
    """The pgbouncer binary (Debian installs it in /usr/sbin, outside a user's PATH)."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")


@contextlib.contextmanager
def running_pgbouncer(
    postgres_url: str, *, pool_mode: str = "transaction", pool_size: int = 2, ignore: str = ""
) -> Iterator[str]:
    """PgBouncer in `pool_mode` before the database `postgres_url` names, at most
    `pool_size` server connections, refusing the startup parameters it does not know except
    those in `ignore` (its ignore_startup_parameters); yields the URL to connect through."""
    binary = find_pgbouncer()
    if binary is None:
        raise FileNotFoundError("pgbouncer is not installed")
    server = make_url(postgres_url)
    root = Path(tempfile.mkdtemp(prefix="userapi-pgbouncer-"))
    port = free_port()
    (root / "users.txt").write_text(f'"{server.username}" ""\n')
    (root / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{server.database} = host={server.host} port={server.port} dbname={server.database}"
        f" user={server.username}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {root / 'users.txt'}\n"
        f"pool_mode = {pool_mode}\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
        f"ignore_startup_parameters = {ignore}\n"
        f"logfile = {root / 'pgbouncer.log'}\npidfile = {root / 'pgbouncer.pid'}\n"
    )
    command = [binary, "-d", str(root / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        shutil.chown(root, "postgres")
        command[1:1] = ["-u", "postgres"]
    subprocess.run(command, check=True, capture_output=True)
    try:
        _wait(port)
        yield server.set(port=port).render_as_string(hide_password=False)
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int((root / "pgbouncer.pid").read_text()), 15)
        shutil.rmtree(root, ignore_errors=True)
