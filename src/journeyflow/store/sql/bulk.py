"""SQLite's fast write path: many rows through one statement, straight to the driver.

SQLAlchemy's `conn.execute(stmt, rows)` rebuilds and type-converts the
parameters of every row in Python (`construct_params` and a bind processor
per value): measured on the benchmark, about a quarter of the SQL engine's
time per event. On SQLite, a `BulkStatement` compiles the statement once,
converts only the columns whose type needs it (timestamps, JSON), and hands the
driver plain tuples (`exec_driver_sql`). The rows are the same, value for value:
`tests/store/test_store_bulk.py` compares them with SQLAlchemy's own.

Other databases keep `conn.execute`: psycopg batches an executemany itself, and
SQLAlchemy's own bulk insert for PostgreSQL ("insertmanyvalues") is fast there.

`BulkStatements` keeps each statement the unit of work writes with, compiled
once per store.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from journeyflow.store.sql.rows import json_text

Processor = Callable[[Any], Any]


@lru_cache(maxsize=1 << 14)
def _sqlite_datetime(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DATETIME format, "%Y-%m-%d %H:%M:%S.%f" (always with
    # microseconds), which isoformat writes in C. Cached: one instant (an
    # event's time) is written to four or five columns of one event's rows.
    if value is None:
        return None
    if value.tzinfo is not None:  # stored as naive UTC, as everywhere in the store
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


class BulkStatement:
    """One statement, compiled for a dialect, run with many rows of dicts (all
    with the same keys, as for SQLAlchemy's executemany)."""

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        self.statement = statement
        self.dialect = dialect
        self.direct = dialect.name == "sqlite"
        # per set of row keys: SQL, value getter, conversions
        self._compiled: dict[tuple[str, ...], _Compiled] = {}

    def execute(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        if not self.direct:
            conn.execute(self.statement, list(rows))
            return
        keys = tuple(rows[0])
        compiled = self._compiled.get(keys)
        if compiled is None:
            compiled = self._compiled[keys] = _Compiled(self.statement, self.dialect, keys)
        values, convert = compiled.values, compiled.convert
        params: list[tuple[Any, ...]] = []
        for row in rows:
            got = values(row)
            if convert:
                got = list(got)
                for i, process in convert:
                    got[i] = process(got[i])
            params.append(tuple(got))
        conn.exec_driver_sql(compiled.sql, params)


class _Compiled:
    def __init__(self, statement: Executable, dialect: Dialect, keys: Sequence[str]) -> None:
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        assert (
            isinstance(compiled, SQLCompiler)
            and compiled.positional
            and compiled.positiontup is not None
        )
        names: list[str] = list(compiled.positiontup)
        self.sql = str(compiled)
        self.values: Callable[[dict[str, Any]], Any] = (
            itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
        )
        self.convert: list[tuple[int, Processor]] = []
        for i, name in enumerate(names):
            kind = compiled.binds[name].type
            if isinstance(kind, DateTime):
                self.convert.append((i, _sqlite_datetime))
            elif isinstance(kind, JSON):
                self.convert.append((i, json_text))
            elif isinstance(kind, Boolean):
                pass  # the driver stores True/False as 1/0, as SQLAlchemy does
            elif kind.dialect_impl(dialect).bind_processor(dialect) is not None:
                raise TypeError(f"{name}: no direct conversion for {kind!r}")


class BulkStatements:
    """The statements of a store, each built and compiled on first use."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._found: dict[Hashable, BulkStatement] = {}

    def __call__(self, key: Hashable, build: Callable[[], Executable]) -> BulkStatement:
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = BulkStatement(build(), self.dialect)
        return found
