"""Settings: Grafana's `GF_*` names and defaults, the server's own `USERAPI_*` switches,
command-line flags on top."""

from __future__ import annotations

import pytest

from handlers.settings import Settings


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
