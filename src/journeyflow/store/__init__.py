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
    "open_store",
]


def open_store(url: str | None = None) -> Store:
    """A store for a database URL: `memory://` or any SQLAlchemy URL
    (default `JOURNEYFLOW_DATABASE_URL`, else `sqlite:///journeyflow.db`)."""
    import os

    url = url or os.environ.get("JOURNEYFLOW_DATABASE_URL") or "sqlite:///journeyflow.db"
    if url.startswith("memory:"):
        return MemoryStore()
    from journeyflow.store.sql import SqlStore

    return SqlStore(url)
