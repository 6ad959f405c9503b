"""`python -m handlers` / `grafana-userapi`: serve the API with uvicorn."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from handlers.settings import Settings


def main(argv: Sequence[str] | None = None) -> None:
    # Start-up creates some 140,000 objects that live as long as the server (modules, the
    # contract, connexion's operations); the cyclic collector's passes while they are made
    # find next to nothing (~0.1 s of CPU). It is off until the app is built, then those
    # objects are frozen out of later collections and it runs as usual (serving()).
    gc.disable()
    try:
        _main(argv)
    finally:
        gc.enable()


def serving() -> None:
    """Just before uvicorn serves: what start-up made is kept out of every later
    collection (gc.freeze, as for a process about to fork), and the collector is on."""
    gc.freeze()
    gc.enable()


def _main(argv: Sequence[str] | None) -> None:
    # Imported here, with the collector off (see main()).
    import uvicorn

    from handlers.protocol import HTTP_PROTOCOL
    from handlers.settings import Settings

    try:
        settings = Settings.from_env().with_args(argv)
    except ValueError as exc:  # a setting that says nothing the server can use
        raise SystemExit(f"grafana-userapi: {exc}") from None
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal; exiting 0 from
    # here tells a supervisor the shutdown was clean.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if settings.fake:
        serve_fake(settings)
        return
    if settings.workers > 1:
        # Each worker process builds its own app from the same environment.
        os.environ.update(
            GF_SERVER_HTTP_ADDR=settings.http_addr,
            GF_DATABASE_URL=settings.database_url,
            GF_SECURITY_ADMIN_USER=settings.admin_user,
            GF_SECURITY_ADMIN_PASSWORD=settings.admin_password,
            USERAPI_VALIDATE_RESPONSES=str(settings.validate_responses),
            USERAPI_GRAFANA_VERSION=settings.grafana_version or "",
            USERAPI_DATABASE_TRANSACTION_POOLING=str(settings.transaction_pooling),
        )
        # The database is opened (and migrated) once here first: a database the workers
        # could not use stops the server with its reason, not each worker in a loop.
        from handlers.app import open_database

        with _database_errors(settings):
            open_database(settings).close()
        serving()
        certificate, key = settings.tls()
        uvicorn.run(
            f"{__package__}.app:create_app_from_env",
            factory=True,
            host=settings.http_addr,
            port=settings.http_port,
            workers=settings.workers,
            access_log=settings.access_log,
            http=HTTP_PROTOCOL,
            ws="none",  # see _run
            ssl_certfile=certificate,
            ssl_keyfile=key,
        )
        return
    from handlers.app import create_app, open_database

    with _database_errors(settings):
        store = open_database(settings)
    app = create_app(settings, store)
    print(
        f"grafana-userapi listening on {settings.scheme}://{settings.http_addr}:"
        f"{settings.http_port}"
        f" as Grafana {app_version(settings)} (database {shown(settings.database_url)})",
        file=sys.stderr,
    )
    _run(app, settings, HTTP_PROTOCOL, grace=10)


def serve_fake(settings: Settings) -> None:
    """`--fake`: the fake Grafana of testing/, with its control endpoints, in memory."""
    from testing.fake import Fake, FakeHttpProtocol
    from testing.seeding import SeedError

    fake = Fake(
        grafana_version=settings.grafana_version,
        admin_user=settings.admin_user,
        admin_password=settings.admin_password,
        validate_responses=settings.validate_responses,
    )
    if settings.seed_file:
        try:
            fake.seed(settings.seed_file)
        except SeedError as exc:
            raise SystemExit(f"grafana-userapi: {exc}") from None
        fake.keep_as_start()
    print(
        f"grafana-userapi: a fake Grafana {fake.version} on {settings.scheme}://{settings.http_addr}:"
        f"{settings.http_port} (in memory; control endpoints under /__fake)",
        file=sys.stderr,
    )
    _run(fake, settings, FakeHttpProtocol, grace=2)


def _run(app: Any, settings: Settings, protocol: Any, *, grace: int) -> None:
    """Serve `app` with uvicorn on the configured address (one home for both servers)."""
    import uvicorn

    serving()
    certificate, key = settings.tls()
    uvicorn.run(
        app,
        host=settings.http_addr,
        port=settings.http_port,
        access_log=settings.access_log,
        timeout_graceful_shutdown=grace,
        http=protocol,
        # Both protocols ignore an Upgrade header, as Go does (handlers/protocol.py), so
        # uvicorn need not import a WebSocket implementation at start (~15 ms).
        ws="none",
        ssl_certfile=certificate,
        ssl_keyfile=key,
    )


@contextlib.contextmanager
def _database_errors(settings: Settings) -> Iterator[None]:
    """A database the server cannot open stops it at start with the reason, not a
    traceback."""
    from sqlalchemy.exc import DBAPIError

    from handlers.store.errors import StartupRefused

    try:
        yield
    except StartupRefused as exc:
        raise SystemExit(f"grafana-userapi: {exc}") from None
    except (DBAPIError, OSError) as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        reason = str(cause).strip() or type(cause).__name__
        raise SystemExit(
            f"grafana-userapi: cannot open the database {shown(settings.database_url)}: {reason}"
        ) from None


def shown(url: str) -> str:
    """A database URL for the log: its password masked."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def app_version(settings: Settings) -> str:
    """The Grafana release the server answers as, for the start-up line."""
    import contract

    return contract.load(version=settings.grafana_version).version


if __name__ == "__main__":
    main()
