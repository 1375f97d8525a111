"""Where customers stand: durable (SQLAlchemy: SQLite, PostgreSQL) or in memory.

Both implement `Store` from `base.py`; the engine cannot tell them apart, and
a property test checks they agree. The package's modules:

* `base.py`: the `Store` and `UnitOfWork` protocols, the engine's only view;
* `records.py`: the records a unit of work hands out;
* `unit.py`: what both units of work do alike (hand out loaded records,
  collect additions, end as a context manager);
* `memory.py`: the in-memory store (tests, simulations, backtests);
* `sql/`: the SQLAlchemy store, one module per job (see its `__init__`);
* `deadletter.py`: rejected events kept with their reason, in memory and the
  protocol both stores follow;
* `tables.py` and `migrations/`: the schema and its Alembic revisions;
* `errors.py`: a database error in one line.

This module names what callers need; `open_store` imports the SQL store only
when a database URL asks for it, so the memory store never loads SQLAlchemy's
engine.
"""

from __future__ import annotations

from journeyflow.store.base import Store, UnitOfWork
from journeyflow.store.errors import driver_reason
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


def open_store(url: str | None = None) -> Store:
    """A store for a database URL: `memory://` or any SQLAlchemy URL
    (default `JOURNEYFLOW_DATABASE_URL`, else `sqlite:///journeyflow.db`)."""
    import os

    url = url or os.environ.get("JOURNEYFLOW_DATABASE_URL") or "sqlite:///journeyflow.db"
    if url.startswith("memory:"):
        return MemoryStore()
    from journeyflow.store.sql import SqlStore

    return SqlStore(url)
