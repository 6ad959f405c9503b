"""Typed server settings, read from Grafana's environment variable names or the CLI."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

import contract
from handlers.store.db import (
    CONN_MAX_LIFETIME,
    MAX_IDLE_CONNECTIONS,
    MAX_OPEN_CONNECTIONS,
    Pooling,
)

DEFAULT_DATABASE_URL = "sqlite:///grafana-userapi.db"
# Grafana's [database] keys for PostgreSQL's TLS, and the libpq parameters they become.
POSTGRES_TLS = {
    "GF_DATABASE_SSL_MODE": "sslmode",
    "GF_DATABASE_CA_CERT_PATH": "sslrootcert",
    "GF_DATABASE_CLIENT_CERT_PATH": "sslcert",
    "GF_DATABASE_CLIENT_KEY_PATH": "sslkey",
    "GF_DATABASE_SSL_SNI": "sslsni",
}


def database_url(environ: Mapping[str, str]) -> str:
    """The SQLAlchemy URL Grafana's [database] settings describe, as Grafana reads them
    (pkg/services/sqlstore/database_config.go):
    `GF_DATABASE_URL` when set (Grafana's `postgres://user:secret@host:port/name` or any
    SQLAlchemy URL), else `GF_DATABASE_TYPE` (`postgres` or `sqlite3`) with `_HOST`
    (`host`, `host:port` or a socket folder), `_PORT`, `_NAME`, `_USER`, `_PASSWORD`, or
    `_PATH` (relative to `GF_PATHS_DATA`, as in Grafana). PostgreSQL's TLS settings
    (POSTGRES_TLS) apply to either form, the URL's own parameters first. Neither set: the
    server's own SQLite file. Raises ValueError for MySQL or an unknown type."""
    given = environ.get("GF_DATABASE_URL", "")
    if given:
        try:
            kind = make_url(given).drivername.partition("+")[0]
        except ArgumentError:
            raise ValueError("GF_DATABASE_URL is no database URL (scheme://...)") from None
    else:
        kind = environ.get("GF_DATABASE_TYPE", "")
    if not kind:
        return DEFAULT_DATABASE_URL
    if kind == "sqlite" and given:
        return given  # SQLAlchemy's own form
    if kind in {"sqlite3", "sqlite"}:  # Grafana's: a file under its data folder
        path = Path(environ.get("GF_DATABASE_PATH", "") or "grafana.db")
        if not path.is_absolute():
            path = Path(environ.get("GF_PATHS_DATA", "") or "data") / path
        return f"sqlite:///{path}"
    if kind == "mysql":
        raise ValueError("MySQL is not supported: serve on PostgreSQL or SQLite")
    if kind not in {"postgres", "postgresql"}:
        raise ValueError(f"unknown database type: {kind} (postgres or sqlite3)")
    url = make_url(given) if given else _postgres_fields(environ)
    if kind == "postgres":  # Grafana's scheme; SQLAlchemy's dialect is postgresql
        url = url.set(drivername="postgresql")
    tls = {key: environ[name] for name, key in POSTGRES_TLS.items() if environ.get(name)}
    url = url.update_query_dict({k: v for k, v in tls.items() if k not in url.query})
    return url.render_as_string(hide_password=False)


def _postgres_fields(environ: Mapping[str, str]) -> URL:
    """GF_DATABASE_HOST and the rest as a URL; a host beginning with / is a socket folder."""
    host = environ.get("GF_DATABASE_HOST", "") or "127.0.0.1"
    port = environ.get("GF_DATABASE_PORT", "")  # (newer Grafana: appended to the host)
    query: dict[str, str] = {}
    if host.startswith("/"):
        # The port names the socket file: a parameter beside the folder (asyncpg does not
        # take a port without a host in the URL's address).
        host, query = "", {"host": host, **({"port": port} if port else {})}
        port = ""
    else:
        found = re.fullmatch(r"\[(.*)\](?::(\d*))?|([^:]*)(?::(\d*))?", host)
        if found is None:
            raise ValueError(f"invalid database host: {host!r} (host, host:port or [ipv6]:port)")
        host = found.group(1) or found.group(3) or "127.0.0.1"
        port = found.group(2) or found.group(4) or port
    return URL.create(
        "postgresql",
        username=environ.get("GF_DATABASE_USER") or None,
        password=environ.get("GF_DATABASE_PASSWORD") or None,
        host=host or None,
        port=int(port) if port else None,
        database=environ.get("GF_DATABASE_NAME") or None,
        query=query,
    )


# Grafana's [server] protocols this server speaks (Grafana also has h2, socket, socket_h2).
SERVED_PROTOCOLS = ("http", "https")

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(duration: str) -> float:
    """A Go-style duration ("30s", "1m", "500ms"; a bare number is seconds) in seconds."""
    text = duration.strip()
    for unit in sorted(_DURATION_UNITS, key=len, reverse=True):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return float(text[: -len(unit)]) * _DURATION_UNITS[unit]
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"not a duration: {duration!r} (e.g. 30s, 1m, 500ms)") from None


@dataclass(frozen=True)
class Settings:
    """Everything the app needs from outside; passed into create_app, never global."""

    http_addr: str = "127.0.0.1"
    http_port: int = 3000
    # Grafana's [server] root_url and serve_from_sub_path: with both, paths under the root
    # URL's path (its sub path) are served too (handlers/middleware.py, SubPathMiddleware).
    root_url: str = ""
    serve_from_sub_path: bool = False
    # Grafana's [server] protocol: "http", or "https" with cert_file and cert_key (PEM).
    protocol: str = "http"
    cert_file: str = ""
    cert_key: str = ""
    database_url: str = DEFAULT_DATABASE_URL
    admin_user: str = "admin"
    admin_password: str = "admin"
    admin_email: str = "admin@localhost"
    secret_key: str = "SW2YcwTIb9zpOOhoPsMm"  # Grafana's documented default; override it
    cookie_name: str = "grafana_session"
    login_max_lifetime_days: int = 30
    login_max_inactive_days: int = 7
    brute_force_max_attempts: int = 5
    disable_brute_force_protection: bool = False
    # Grafana's two kinds of login protection under [security]: per login name (on by
    # default) and per client address (off by default); both off with the switch above.
    disable_username_login_protection: bool = False
    disable_ip_address_login_protection: bool = True
    credential_cache: bool = True
    validate_responses: bool = False
    access_log: bool = False  # Grafana's [server] router_logging is off by default too
    # The Grafana release to answer as (a version openapi.yaml describes: "10.4", "11",
    # "11.4", ...); None: the newest. `version` overrides what /api/health reports, which
    # is otherwise that release's version.
    grafana_version: str | None = None
    version: str | None = None
    workers: int = 1
    # Seconds a request's body may take to arrive (Grafana's [server] read_timeout, which
    # defaults to none there; here a bound, so a stalled upload cannot hold a connection).
    read_timeout: float = 30.0
    # SQLite's synchronous mode (store/db.py says what each guarantees on power loss).
    sqlite_synchronous: str = "FULL"
    # PostgreSQL connections per server process (Grafana's [database] max_open_conn and
    # max_idle_conn): with N workers, up to N times max_open_conn at once (store/db.py).
    max_open_conn: int = MAX_OPEN_CONNECTIONS
    max_idle_conn: int = MAX_IDLE_CONNECTIONS
    # Seconds a PostgreSQL connection is used for at most (Grafana's conn_max_lifetime).
    conn_max_lifetime: int = CONN_MAX_LIFETIME
    # The PostgreSQL URL names a pooler that hands each transaction to any of its server
    # connections (PgBouncer's pool_mode = transaction): no session state is relied on, so
    # no prepared statements and no startup `options` (store/db.py). PostgreSQL only.
    transaction_pooling: bool = False
    # `--fake`: an in-memory fake Grafana with control endpoints under /__fake (testing/),
    # seeded from `seed_file` when given.
    fake: bool = False
    seed_file: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read Grafana's `GF_*` variable names; unset ones keep Grafana's defaults."""

        def get(name: str, default: str) -> str:
            return environ.get(name, default)

        def flag(name: str, default: bool) -> bool:
            return get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}

        def whole(name: str, default: int) -> int:
            value = get(name, str(default))
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"{name} must be a whole number, not {value!r}") from None

        return cls(
            http_addr=get("GF_SERVER_HTTP_ADDR", cls.http_addr) or "0.0.0.0",
            http_port=whole("GF_SERVER_HTTP_PORT", cls.http_port),
            root_url=get("GF_SERVER_ROOT_URL", ""),
            serve_from_sub_path=flag("GF_SERVER_SERVE_FROM_SUB_PATH", False),
            protocol=get("GF_SERVER_PROTOCOL", cls.protocol).strip().lower() or cls.protocol,
            cert_file=get("GF_SERVER_CERT_FILE", ""),
            cert_key=get("GF_SERVER_CERT_KEY", ""),
            database_url=database_url(environ),
            admin_user=get("GF_SECURITY_ADMIN_USER", cls.admin_user),
            admin_password=get("GF_SECURITY_ADMIN_PASSWORD", cls.admin_password),
            admin_email=get("GF_SECURITY_ADMIN_EMAIL", cls.admin_email),
            secret_key=get("GF_SECURITY_SECRET_KEY", cls.secret_key),
            cookie_name=get("GF_AUTH_LOGIN_COOKIE_NAME", cls.cookie_name),
            # As Grafana: at least one attempt is always allowed.
            brute_force_max_attempts=max(
                1, whole("GF_SECURITY_BRUTE_FORCE_LOGIN_PROTECTION_MAX_ATTEMPTS", 5)
            ),
            disable_brute_force_protection=flag(
                "GF_SECURITY_DISABLE_BRUTE_FORCE_LOGIN_PROTECTION", False
            ),
            disable_username_login_protection=flag(
                "GF_SECURITY_DISABLE_USERNAME_LOGIN_PROTECTION", False
            ),
            disable_ip_address_login_protection=flag(
                "GF_SECURITY_DISABLE_IP_ADDRESS_LOGIN_PROTECTION", True
            ),
            read_timeout=seconds(get("GF_SERVER_READ_TIMEOUT", "30s")),
            sqlite_synchronous=get("USERAPI_SQLITE_SYNCHRONOUS", "FULL").upper(),
            max_open_conn=whole("GF_DATABASE_MAX_OPEN_CONN", cls.max_open_conn),
            max_idle_conn=whole("GF_DATABASE_MAX_IDLE_CONN", cls.max_idle_conn),
            conn_max_lifetime=whole("GF_DATABASE_CONN_MAX_LIFETIME", cls.conn_max_lifetime),
            transaction_pooling=flag("USERAPI_DATABASE_TRANSACTION_POOLING", False),
            grafana_version=get("USERAPI_GRAFANA_VERSION", "") or None,
            credential_cache=flag("USERAPI_CREDENTIAL_CACHE", True),
            validate_responses=flag("USERAPI_VALIDATE_RESPONSES", False),
            # Grafana's name for a line per request; USERAPI_ACCESS_LOG, when set, wins.
            access_log=flag("USERAPI_ACCESS_LOG", flag("GF_SERVER_ROUTER_LOGGING", cls.access_log)),
        )

    def with_args(self, argv: Sequence[str] | None = None) -> Settings:
        """Apply command-line flags on top of these settings."""
        parser = argparse.ArgumentParser(
            prog="grafana-userapi", description="Serve Grafana's User HTTP API."
        )
        parser.add_argument("--host", default=self.http_addr, help="address to bind")
        parser.add_argument("--port", type=int, default=self.http_port, help="port to bind")
        parser.add_argument(
            "--protocol",
            choices=SERVED_PROTOCOLS,
            default=self.protocol if self.protocol in SERVED_PROTOCOLS else None,
            help="http, or https with --cert-file and --cert-key (GF_SERVER_PROTOCOL)",
        )
        parser.add_argument("--cert-file", default=self.cert_file, help="TLS certificate (PEM)")
        parser.add_argument("--cert-key", default=self.cert_key, help="its private key (PEM)")
        parser.add_argument("--database-url", default=self.database_url, help="SQLAlchemy URL")
        parser.add_argument("--admin-user", default=self.admin_user)
        parser.add_argument("--admin-password", default=self.admin_password)
        parser.add_argument(
            "--validate-responses",
            action="store_true",
            default=self.validate_responses,
            help="validate every response against openapi.yaml (slower)",
        )
        parser.add_argument(
            "--access-log",
            action=argparse.BooleanOptionalAction,
            default=self.access_log,
            help="a line per request on stderr (GF_SERVER_ROUTER_LOGGING; off by default)",
        )
        parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
        parser.add_argument(
            "--transaction-pooling",
            action=argparse.BooleanOptionalAction,
            default=self.transaction_pooling,
            help="the PostgreSQL URL is a pooler in transaction mode, e.g. PgBouncer "
            "(USERAPI_DATABASE_TRANSACTION_POOLING; off by default)",
        )
        parser.add_argument(
            "--grafana-version",
            default=self.grafana_version,
            metavar="VERSION",
            help="answer as this Grafana release does, e.g. 10.4, 11, 11.4, 12 "
            "(USERAPI_GRAFANA_VERSION; default: the newest openapi.yaml describes)",
        )
        parser.add_argument(
            "--fake",
            action="store_true",
            help="serve a fake Grafana for tests: in-memory database, control endpoints under "
            "/__fake (reset, seed, journal, clock, faults)",
        )
        parser.add_argument(
            "--seed", metavar="FILE", help="with --fake: YAML or JSON seed data to start with"
        )
        args = parser.parse_args(argv)
        if args.seed and not args.fake:
            parser.error("--seed needs --fake")
        if args.fake and args.workers > 1:
            parser.error("--fake serves one process: its state lives in memory")
        if args.grafana_version:
            try:
                contract.load().versions.resolve(args.grafana_version)
            except ValueError as exc:
                parser.error(str(exc))
        served = replace(
            self,
            http_addr=args.host,
            http_port=args.port,
            protocol=args.protocol or self.protocol,
            cert_file=args.cert_file,
            cert_key=args.cert_key,
            database_url=args.database_url,
            admin_user=args.admin_user,
            admin_password=args.admin_password,
            validate_responses=args.validate_responses,
            access_log=args.access_log,
            workers=args.workers,
            transaction_pooling=args.transaction_pooling,
            grafana_version=args.grafana_version or None,
            fake=args.fake,
            seed_file=args.seed,
        )
        served.check_serving()
        return served

    def check_serving(self) -> None:
        """Raise ValueError, saying what to set, unless the server can listen as asked."""
        if self.protocol not in SERVED_PROTOCOLS:
            raise ValueError(
                f"server protocol {self.protocol!r} is not served: http or https"
                " (GF_SERVER_PROTOCOL, --protocol)"
            )
        if self.protocol != "https":
            return
        if not (self.cert_file and self.cert_key):
            raise ValueError(
                "https needs a certificate and its key: GF_SERVER_CERT_FILE and"
                " GF_SERVER_CERT_KEY (--cert-file, --cert-key)"
            )
        for name, path in (
            ("GF_SERVER_CERT_FILE", self.cert_file),
            ("GF_SERVER_CERT_KEY", self.cert_key),
        ):
            if not os.path.isfile(path):
                raise ValueError(f"no such file: {path} ({name})")

    @property
    def sub_path(self) -> str:
        """The path the server is also served under ("" for none): root_url's path without
        its last slash, when serve_from_sub_path (Grafana's parseAppUrlAndSubUrl; the
        `%(name)s` of Grafana's default root_url stand for no path)."""
        if not self.serve_from_sub_path:
            return ""
        path = urlsplit(re.sub(r"%\(\w+\)s", "x", self.root_url)).path
        return path.rstrip("/")

    def pooling(self) -> Pooling:
        """How each server process holds its PostgreSQL connections."""
        return Pooling(
            max_open=self.max_open_conn,
            max_idle=self.max_idle_conn,
            max_lifetime=self.conn_max_lifetime,
            transaction_pooling=self.transaction_pooling,
        )

    @property
    def scheme(self) -> str:
        return "https" if self.protocol == "https" else "http"

    def tls(self) -> tuple[str | None, str | None]:
        """The certificate and key files to serve with (None for http)."""
        if self.protocol != "https":
            return None, None
        return self.cert_file, self.cert_key
