"""Where customers stand: durable (SQLAlchemy: SQLite, PostgreSQL) or in memory.

Both implement `Store` from `base.py`; the engine cannot tell them apart, and
a property test checks they agree.
"""

from __future__ import annotations

from journeyflow.store.base import Store, UnitOfWork
from journeyflow.store.memory import MemoryStore
from journeyflow.store.records import CustomerRecord, Effect, EnrolmentRecord, HistoryRecord

__all__ = [
    "CustomerRecord",
    "Effect",
    "EnrolmentRecord",
    "HistoryRecord",
    "MemoryStore",
    "Store",
    "UnitOfWork",
    "driver_reason",
    "open_store",
]


def driver_reason(exc: BaseException) -> str:
    """The first line of the database driver's own message, from an error
    SQLAlchemy wrapped (`exc.orig`), for a one-line `Error: ...`."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def open_store(url: str | None = None) -> Store:
    """A store for a database URL: `memory://` or any SQLAlchemy URL
    (default `JOURNEYFLOW_DATABASE_URL`, else `sqlite:///journeyflow.db`)."""
    import os

    url = url or os.environ.get("JOURNEYFLOW_DATABASE_URL") or "sqlite:///journeyflow.db"
    if url.startswith("memory:"):
        return MemoryStore()
    from journeyflow.store.sql import SqlStore

    return SqlStore(url)
