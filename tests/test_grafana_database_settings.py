"""The server finds its database from Grafana's own [database] settings, as a Grafana
deployment's environment gives them: `GF_DATABASE_URL` in Grafana's `postgres://` form, or
`GF_DATABASE_TYPE` with host, name, user and password (a socket folder as host included),
or `sqlite3` with a path under `GF_PATHS_DATA`."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from tests.support.live import ServerProcess, fresh_database_url, refused_at_start
from tests.support.postgres import free_port

AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}
PASSWORD = "not-in-the-log"  # the test PostgreSQL trusts loopback: any password is taken


def _socket_folder(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            folders = conn.execute(text("SHOW unix_socket_directories")).scalar_one()
    finally:
        engine.dispose()
    return str(folders).split(",")[0].strip()


@pytest.mark.postgres
@pytest.mark.parametrize("form", ["url", "host:port", "socket folder"])
def test_grafanas_postgres_settings_reach_the_database(
    form: str, postgres_url: str, tmp_path: Path
) -> None:
    url = make_url(fresh_database_url("postgres", tmp_path, postgres_url))
    fields = {
        "GF_DATABASE_TYPE": "postgres",
        "GF_DATABASE_NAME": str(url.database),
        "GF_DATABASE_USER": str(url.username),
        "GF_DATABASE_PASSWORD": PASSWORD,
    }
    env = {
        "url": {
            "GF_DATABASE_URL": f"postgres://{url.username}:{PASSWORD}@{url.host}:{url.port}"
            f"/{url.database}"
        },
        "host:port": {**fields, "GF_DATABASE_HOST": f"{url.host}:{url.port}"},
        "socket folder": {
            **fields,
            "GF_DATABASE_HOST": _socket_folder(postgres_url),
            "GF_DATABASE_PORT": str(url.port),
        },
    }[form]
    server = ServerProcess(None, tmp_path / "server.log", env)
    server.start()
    try:
        for _ in range(20):  # the reads answered through asyncpg take the same settings
            assert httpx.get(server.url + "/api/user", headers=AUTH).json()["login"] == "admin"
        created = httpx.post(
            server.url + "/api/admin/users",
            headers=AUTH,
            json={"login": f"via-{form}".replace(" ", "-"), "password": "long-enough"},
        )
        assert created.status_code == 200, created.text
    finally:
        server.stop()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            logins = conn.execute(text("SELECT login FROM users ORDER BY id")).scalars().all()
    finally:
        engine.dispose()
    assert logins == ["admin", f"via-{form}".replace(" ", "-")]
    log = server.log()
    assert f"(database postgresql://{url.username}:***@" in log, log[-2000:]
    assert PASSWORD not in log and "unavailable" not in log, log[-2000:]


def test_grafanas_sqlite3_file_is_made_in_its_data_folder(tmp_path: Path) -> None:
    """Grafana's sqlite3 type: `path` (grafana.db) under the data folder, made if missing."""
    data = tmp_path / "var" / "lib" / "grafana"
    env = {"GF_DATABASE_TYPE": "sqlite3", "GF_PATHS_DATA": str(data)}
    server = ServerProcess(None, tmp_path / "server.log", env)
    server.start()
    try:
        assert httpx.get(server.url + "/api/user", headers=AUTH).status_code == 200
    finally:
        server.stop()
    assert (data / "grafana.db").is_file()


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"GF_DATABASE_TYPE": "mysql"}, "MySQL is not supported"),
        ({"GF_DATABASE_TYPE": "oracle"}, "unknown database type: oracle"),
    ],
)
def test_a_database_the_server_cannot_use_stops_it_at_start(env: dict[str, str], said: str) -> None:
    assert f"grafana-userapi: {said}" in refused_at_start([], env)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_database_the_server_cannot_open_stops_it_with_the_reason(
    workers: str, tmp_path: Path
) -> None:
    """Nothing listening at the PostgreSQL address, or a SQLite folder that cannot be
    made: the server (with workers, before starting any) says which database and why,
    its password masked, and exits 1."""
    closed = f"postgresql://nobody:{PASSWORD}@127.0.0.1:{free_port()}/none"
    said = refused_at_start(["--database-url", closed, "--workers", workers])
    assert "cannot open the database postgresql://nobody:***@127.0.0.1:" in said, said
    assert "Connection refused" in said and PASSWORD not in said
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    said = refused_at_start(["--database-url", f"sqlite:///{blocked}/g.db", "--workers", workers])
    assert f"cannot open the database sqlite:///{blocked}/g.db:" in said, said
