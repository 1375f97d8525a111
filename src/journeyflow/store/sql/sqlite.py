"""What SQLite needs that PostgreSQL does not.

* Durability settings, on every new connection: WAL, `synchronous` (NORMAL
  unless the URL or JOURNEYFLOW_SQLITE_SYNCHRONOUS says otherwise), a busy
  timeout so a second writer waits instead of failing.
* Our own BEGIN: `BEGIN IMMEDIATE` (the write lock, from the start) for a
  connection given the `WRITE` execution option, so what a unit of work reads
  is what it overwrites; a plain `BEGIN` for readers.
* The writer connection: units of work reuse one connection, the one the
  customer cache (`cache.py`) is right for, and drop the cache whenever
  `PRAGMA data_version` says another connection committed.
* IN lists in chunks: SQLite caps the bound parameters of a statement.

(The driver's bulk insert path is `bulk.py`.)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL

from journeyflow.store.sql.cache import RecordCache

WRITE = "journeyflow_write"  # execution option: this connection's BEGIN takes the write lock

_IN_CHUNK = 500  # bound parameters per IN list: SQLite caps them per statement


def chunked(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def pop_synchronous(url: URL) -> tuple[URL, str]:
    """The URL without our `?synchronous=` (the driver would refuse it), and the
    setting it asked for."""
    query = dict(url.query)
    asked = query.pop("synchronous", None) or os.environ.get(
        "JOURNEYFLOW_SQLITE_SYNCHRONOUS", "NORMAL"
    )
    return url.set(query=query), str(asked)


def set_up_connections(engine: Engine, synchronous: str) -> None:
    """Set every connection of `engine` up as above."""

    def pragmas(dbapi_conn: Any, _record: Any) -> None:
        # The driver's own transaction handling starts a transaction only before
        # a write, so a unit of work's reads would run outside it; we say BEGIN
        # ourselves (SQLAlchemy's documented recipe for pysqlite).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    event.listen(engine, "connect", pragmas)
    event.listen(engine, "begin", _begin)


def _begin(conn: Connection) -> None:
    writing = conn.get_execution_options().get(WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def follow_other_writers(conn: Connection, cache: RecordCache) -> None:
    """Drop the cache if another connection committed since it was last right.
    Run inside the unit of work's transaction, under the write lock, so nothing
    can commit between this question and the reads that trust its answer."""
    version = conn.exec_driver_sql("PRAGMA data_version").scalar()
    if version != cache.data_version:
        cache.clear()
        cache.data_version = version


class WriterConnection:
    """The connection units of work share with the cache, while it is free.

    A unit of work takes it (`take`) and gives it back when it ends (`give_back`).
    A second unit of work at the same time (another thread) gets a connection
    of its own and no cache. With the cache off (capacity 0, as on
    PostgreSQL) every unit of work gets a connection of its own.
    """

    def __init__(self, engine: Engine, cache: RecordCache) -> None:
        self.engine = engine
        self.cache = cache
        self._conn: Connection | None = None
        self._busy = False
        self._lock = threading.Lock()

    def take(self) -> tuple[Connection, RecordCache | None]:
        with self._lock:
            if self.cache.capacity > 0 and not self._busy:
                self._busy = True
                if self._conn is None or self._conn.closed:
                    self._conn = self.engine.connect()
                return self._conn, self.cache
        return self.engine.connect(), None

    def give_back(self, conn: Connection) -> None:
        with self._lock:
            if conn is self._conn:
                self._busy = False
            else:
                conn.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self.cache.clear()
