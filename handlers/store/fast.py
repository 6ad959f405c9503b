"""Compiled-once statements for the few reads every request makes (basic auth, the profile).

Through SQLAlchemy's Connection a small SELECT costs about 0.2-0.5 ms of CPU: building the
statement, its cache key, an execution context, result wrapping and the transaction events.
A `Prepared` statement is a Core SELECT compiled once per dialect and run on the driver's
own cursor; rows are converted with the selected columns' own result processors (SQLite's
DATETIME strings, booleans...), so callers get the same values as from a Core query, at
about a tenth of the cost. Only for SELECTs with plain (non-expanding) bound parameters
whose values need no bind processing (strings and integers).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from handlers.store.db import Database
from handlers.store.replay import Replay, dollar_dialect

Row = tuple[Any, ...]


class Prepared:
    """One SELECT, compiled for one dialect."""

    def __init__(self, dialect: Dialect, statement: Select[Any]) -> None:
        compiled = statement.compile(dialect=dialect)
        self.statement = statement
        self.dialect = dialect
        self.compiled = compiled
        self.sql = str(compiled)
        self.names: list[str] | None = (
            list(compiled.positiontup) if compiled.positional and compiled.positiontup else None
        )
        self.keys = [str(column.key) for column in statement.selected_columns]
        processors: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        ]
        self.processors = processors
        self.plain = not any(processors)
        # (position, processor) of the columns whose values need converting.
        self.converting = [(i, f) for i, f in enumerate(processors) if f is not None]
        # The statement's own literals (e.g. LIMIT's value), bound once; callers' values
        # are laid over them.
        self.defaults: dict[str, Any] = dict(compiled.construct_params(_check=False))
        self.required = {name for name, value in self.defaults.items() if value is None}

    def _merged(self, values: Mapping[str, Any]) -> dict[str, Any]:
        missing = self.required.difference(values)
        if missing:
            raise KeyError(f"values required for {sorted(missing)}")
        return {**self.defaults, **values}

    def _params(self, values: Mapping[str, Any]) -> Any:
        params = self._merged(values)
        if self.names is None:
            return params
        return tuple(params[name] for name in self.names)

    @functools.cached_property
    def _numbered(self) -> tuple[str, list[str]]:
        compiled = self.statement.compile(dialect=dollar_dialect(self.dialect))
        return str(compiled), list(compiled.positiontup or ())

    def numbered(self, values: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
        """The same statement with `$n` placeholders (asyncpg's), and its arguments in
        order: for reads answered ahead on PostgreSQL (store/replay.py)."""
        sql, names = self._numbered
        params = self._merged(values)
        return sql, tuple(params[name] for name in names)

    def mapping(self, row: Row) -> dict[str, Any]:
        return dict(zip(self.keys, row, strict=True))

    def _convert(self, row: Row) -> Row:
        if self.plain:
            return tuple(row)
        values = list(row)
        for position, processor in self.converting:
            value = values[position]
            if value is not None:
                values[position] = processor(value)
        return tuple(values)

    def all(self, cursor: Any, **values: Any) -> list[Row]:
        return [self._convert(row) for row in self.unconverted(cursor, **values)]

    def unconverted(self, cursor: Any, **values: Any) -> list[Row]:
        """The rows as the driver gives them, for a caller converting only the columns it
        uses (a page of a thousand users: store/users.py)."""
        if isinstance(cursor, Replay):
            return cursor.rows(self, values)
        cursor.execute(self.sql, self._params(values))
        return list(cursor.fetchall())

    def first(self, cursor: Any, **values: Any) -> Row | None:
        if isinstance(cursor, Replay):
            rows = cursor.rows(self, values)
            return self._convert(rows[0]) if rows else None
        cursor.execute(self.sql, self._params(values))
        row = cursor.fetchone()
        return None if row is None else self._convert(row)


def _idle(driver: Any) -> bool:
    """Whether a PostgreSQL connection is outside any transaction (psycopg's status 0)."""
    info = getattr(driver, "info", None)
    return info is not None and int(info.transaction_status) == 0


@contextlib.contextmanager
def _driver_errors(db: Database) -> Iterator[None]:
    """The driver's own errors as SQLAlchemy would have wrapped them (DataError...): callers
    see one vocabulary whichever path read."""
    try:
        yield
    except db.engine.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(None, None, exc, db.engine.dialect.loaded_dbapi.Error) from exc


@contextlib.contextmanager
def raw_read(db: Database, *, snapshot: bool = True) -> Iterator[Any]:
    """A driver cursor for a read. On SQLite, one read transaction (one snapshot) around
    all its statements (`snapshot=False` for a read whose statements need not see one
    state, e.g. a single statement, which SQLite always runs on one snapshot). On
    PostgreSQL, autocommit: each statement is its own snapshot, without the BEGIN and
    ROLLBACK round trips (measured: a fifth of a user search's time) — as Grafana reads
    too (its search's count and page are separate queries). On the event loop
    (Database.on_loop), the loop's own connection, already in autocommit; in a call run
    ahead of its reads there, a Replay (store/replay.py) that only Prepared reads use."""
    replay = db.replaying()
    if replay is not None:
        yield replay
        return
    held = db.held()
    if held is not None:
        cursor = held.connection.cursor()
        try:
            with _driver_errors(db):
                yield cursor
        finally:
            cursor.close()
        return
    conn = db.engine.raw_connection()
    try:
        driver = conn.driver_connection
        sqlite = db.dialect == "sqlite"
        # SQLite runs in autocommit mode here (db.py issues BEGIN itself).
        began = sqlite and snapshot and not getattr(driver, "in_transaction", False)
        # (A connection someone left inside a transaction is read as it is.)
        autocommit = not sqlite and _idle(driver) and not getattr(driver, "autocommit", True)
        if autocommit:
            driver.autocommit = True  # type: ignore[union-attr]
        cursor = conn.cursor()
        if began:
            cursor.execute("BEGIN")
        try:
            with _driver_errors(db):
                yield cursor
        finally:
            cursor.close()
            if began or not (sqlite or autocommit):
                conn.rollback()  # read only: ending the transaction is all that is left
            if autocommit and not driver.closed:  # type: ignore[union-attr]
                driver.autocommit = False  # type: ignore[union-attr]
    finally:
        conn.close()  # back to the pool
