"""Settings: Grafana's `GF_*` names and defaults, the server's own `USERAPI_*` switches,
command-line flags on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.settings import Settings
from handlers.store.db import Pooling


@pytest.mark.parametrize(
    ("environ", "argv", "expected"),
    [
        ({}, [], False),  # Grafana's router_logging is off by default
        ({"GF_SERVER_ROUTER_LOGGING": "true"}, [], True),
        ({"GF_SERVER_ROUTER_LOGGING": "true", "USERAPI_ACCESS_LOG": "0"}, [], False),
        ({"USERAPI_ACCESS_LOG": "yes"}, [], True),
        ({}, ["--access-log"], True),
        ({"GF_SERVER_ROUTER_LOGGING": "true"}, ["--no-access-log"], False),
    ],
)
def test_the_access_log_follows_grafanas_router_logging(
    environ: dict[str, str], argv: list[str], expected: bool
) -> None:
    assert Settings.from_env(environ).with_args(argv).access_log is expected


def test_flags_apply_on_top_of_the_environment() -> None:
    settings = Settings.from_env(
        {"GF_SERVER_HTTP_PORT": "3100", "GF_DATABASE_URL": "sqlite://", "GF_SERVER_HTTP_ADDR": ""}
    ).with_args(["--port", "3200", "--validate-responses"])
    assert (settings.http_port, settings.database_url, settings.http_addr) == (
        3200,
        "sqlite://",
        "0.0.0.0",
    )
    assert settings.validate_responses is True and settings.access_log is False


@pytest.mark.parametrize(
    ("value", "expected"), [("30s", 30.0), ("1m", 60.0), ("500ms", 0.5), ("12", 12.0), ("0", 0.0)]
)
def test_the_read_timeout_takes_grafanas_duration_format(value: str, expected: float) -> None:
    assert Settings.from_env({"GF_SERVER_READ_TIMEOUT": value}).read_timeout == expected


def test_a_read_timeout_that_is_no_duration_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="not a duration: 'soon'"):
        Settings.from_env({"GF_SERVER_READ_TIMEOUT": "soon"})


def test_sqlite_syncs_every_commit_unless_the_environment_says_otherwise() -> None:
    """FULL by default (a power loss keeps acknowledged writes); NORMAL only when asked."""
    assert Settings().sqlite_synchronous == "FULL"
    assert Settings.from_env({}).sqlite_synchronous == "FULL"
    normal = Settings.from_env({"USERAPI_SQLITE_SYNCHRONOUS": "normal"})
    assert normal.sqlite_synchronous == "NORMAL"


# Grafana's [database] settings (pkg/services/sqlstore/database_config.go reads them: the url
# when set, else type, host, name, user, password; ssl_mode and the certificate paths for
# PostgreSQL either way; a sqlite3 path relative to the data folder).
@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "sqlite:///grafana-userapi.db"),
        ({"GF_DATABASE_URL": "sqlite:///mine.db"}, "sqlite:///mine.db"),
        # Grafana's own URL scheme, `postgres`; the URL wins over the fields
        (
            {"GF_DATABASE_URL": "postgres://u:p%40ss@db:5433/graf", "GF_DATABASE_TYPE": "sqlite3"},
            "postgresql://u:p%40ss@db:5433/graf",
        ),
        ({"GF_DATABASE_URL": "postgresql+psycopg://a@b/c"}, "postgresql+psycopg://a@b/c"),
        (
            {
                "GF_DATABASE_TYPE": "postgres",
                "GF_DATABASE_HOST": "db:5432",
                "GF_DATABASE_NAME": "grafana",
                "GF_DATABASE_USER": "grafana",
                "GF_DATABASE_PASSWORD": "p@ss:w/rd#;",
            },
            "postgresql://grafana:p%40ss%3Aw%2Frd%23%3B@db:5432/grafana",
        ),
        ({"GF_DATABASE_TYPE": "postgres"}, "postgresql://127.0.0.1"),
        (
            {"GF_DATABASE_TYPE": "postgres", "GF_DATABASE_HOST": "[::1]:6000"},
            "postgresql://[::1]:6000",
        ),
        (
            {"GF_DATABASE_TYPE": "postgres", "GF_DATABASE_HOST": "db", "GF_DATABASE_PORT": "7000"},
            "postgresql://db:7000",
        ),
        (
            {
                "GF_DATABASE_TYPE": "postgres",
                "GF_DATABASE_HOST": "/run/pg",
                "GF_DATABASE_NAME": "g",
            },
            "postgresql:///g?host=%2Frun%2Fpg",
        ),
        (
            {
                "GF_DATABASE_TYPE": "postgres",
                "GF_DATABASE_HOST": "/run/pg",
                "GF_DATABASE_PORT": "5",
            },
            "postgresql://?host=%2Frun%2Fpg&port=5",
        ),
        # TLS: the URL's own parameter first, Grafana's keys after
        (
            {
                "GF_DATABASE_URL": "postgres://u@db/g?sslmode=disable",
                "GF_DATABASE_SSL_MODE": "verify-full",
                "GF_DATABASE_CA_CERT_PATH": "/ca.pem",
            },
            "postgresql://u@db/g?sslmode=disable&sslrootcert=%2Fca.pem",
        ),
        (
            {
                "GF_DATABASE_TYPE": "postgres",
                "GF_DATABASE_HOST": "db",
                "GF_DATABASE_SSL_MODE": "require",
                "GF_DATABASE_CLIENT_CERT_PATH": "/c.pem",
                "GF_DATABASE_CLIENT_KEY_PATH": "/k.pem",
            },
            "postgresql://db?sslcert=%2Fc.pem&sslkey=%2Fk.pem&sslmode=require",
        ),
        ({"GF_DATABASE_TYPE": "sqlite3"}, "sqlite:///data/grafana.db"),
        (
            {"GF_DATABASE_TYPE": "sqlite3", "GF_PATHS_DATA": "/var/lib/grafana"},
            "sqlite:////var/lib/grafana/grafana.db",
        ),
        ({"GF_DATABASE_TYPE": "sqlite3", "GF_DATABASE_PATH": "/srv/g.db"}, "sqlite:////srv/g.db"),
    ],
)
def test_the_database_comes_from_grafanas_database_settings(
    environ: dict[str, str], expected: str
) -> None:
    assert Settings.from_env(environ).database_url == expected


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"GF_DATABASE_TYPE": "mysql"}, "MySQL is not supported"),
        ({"GF_DATABASE_URL": "mysql://u:p@db/grafana"}, "MySQL is not supported"),
        ({"GF_DATABASE_TYPE": "mssql"}, "unknown database type: mssql"),
        ({"GF_DATABASE_URL": "db-host:5432"}, "GF_DATABASE_URL is no database URL"),
        ({"GF_DATABASE_TYPE": "postgres", "GF_DATABASE_HOST": "a:b:c"}, "invalid database host"),
    ],
)
def test_a_database_the_server_cannot_use_is_refused_by_name(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(environ)


def test_the_command_line_url_wins_over_grafanas_settings() -> None:
    environ = {"GF_DATABASE_TYPE": "postgres", "GF_DATABASE_HOST": "db"}
    settings = Settings.from_env(environ).with_args(["--database-url", "sqlite://"])
    assert settings.database_url == "sqlite://"


def test_https_comes_from_grafanas_server_settings_and_the_command_line(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("pem")
    key.write_text("pem")
    environ = {"GF_SERVER_PROTOCOL": "HTTPS", "GF_SERVER_CERT_FILE": str(cert)}
    served = Settings.from_env({**environ, "GF_SERVER_CERT_KEY": str(key)}).with_args([])
    assert (served.scheme, served.tls()) == ("https", (str(cert), str(key)))
    plain = Settings.from_env({}).with_args([])
    assert (plain.scheme, plain.tls()) == ("http", (None, None))
    flags = ["--protocol", "https", "--cert-file", str(cert), "--cert-key", str(key)]
    assert Settings.from_env({}).with_args(flags).tls() == (str(cert), str(key))
    back = Settings.from_env({**environ, "GF_SERVER_CERT_KEY": str(key)})
    assert back.with_args(["--protocol", "http"]).tls() == (None, None)
    with pytest.raises(ValueError, match="https needs a certificate and its key"):
        Settings.from_env(environ).with_args([])


def test_the_pooling_follows_grafanas_database_settings() -> None:
    """max_open_conn, max_idle_conn and conn_max_lifetime (Grafana's default 14400 s)."""
    assert Settings.from_env({}).pooling() == Pooling(40, 30, 14400, False)
    environ = {
        "GF_DATABASE_MAX_OPEN_CONN": "8",
        "GF_DATABASE_MAX_IDLE_CONN": "4",
        "GF_DATABASE_CONN_MAX_LIFETIME": "60",
        "USERAPI_DATABASE_TRANSACTION_POOLING": "true",
    }
    assert Settings.from_env(environ).pooling() == Pooling(8, 4, 60, True)


@pytest.mark.parametrize(
    "name",
    [
        "GF_SERVER_HTTP_PORT",
        "GF_SECURITY_BRUTE_FORCE_LOGIN_PROTECTION_MAX_ATTEMPTS",
        "GF_DATABASE_MAX_OPEN_CONN",
        "GF_DATABASE_MAX_IDLE_CONN",
        "GF_DATABASE_CONN_MAX_LIFETIME",
    ],
)
def test_a_number_setting_that_is_no_number_is_refused_by_name(name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} must be a whole number, not '4h'$"):
        Settings.from_env({name: "4h"})
