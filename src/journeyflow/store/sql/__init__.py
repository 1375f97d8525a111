"""The durable store: SQLAlchemy Core on SQLite (default) or PostgreSQL.

A unit of work is one database transaction: it loads a batch of customers,
the engine changes their records in memory, and commit writes what changed
with batched statements. Nothing of a unit of work is visible, or durable,
before its commit; everything is after.

SQLite runs in WAL mode with `synchronous=NORMAL` by default: a committed
transaction survives the process being killed (kill -9); a power loss or OS
crash can lose the last transactions committed since the last WAL checkpoint
sync, never corrupt the file. Set `?synchronous=FULL` on the URL (or
JOURNEYFLOW_SQLITE_SYNCHRONOUS=FULL) to survive power loss too, at a cost per
commit.

Every unit of work holds the customers it reads until it ends, so what it
reads is what it overwrites and two processes writing one database lose none
of each other's updates. SQLite holds the whole file (`BEGIN IMMEDIATE`);
PostgreSQL, which has no database-wide write lock and should not, holds each
loaded customer (an advisory lock), so batches of different customers
proceed in parallel.

One module per job:

* `queries.py`: `SqlStore`, its reads and listings;
* `outbox.py`: the outbox's claims, lease renewals and records, under a claim token;
* `unit_of_work.py`: `SqlUnitOfWork`, load and write one batch;
* `rows.py`: records to rows and back, and the snapshots commit compares;
* `database.py`: from a URL to an engine, a bad one refused in one line;
* `schema.py`: the schema to the newest revision, one process at a time,
  refusing another application's database or a newer journeyflow's;
* `tasks.py`: a page of one channel's effects (`journeyflow tasks`);
* `sqlite.py`: SQLite's settings, write lock, writer connection;
* `bulk.py`: SQLite's fast path, rows straight to the driver;
* `cache.py`: customers kept between units of work (SQLite);
* `postgresql.py`: advisory locks per customer, `SKIP LOCKED` claims;
* `rejected.py`: the dead-letter table of refused events.
"""

from __future__ import annotations

from journeyflow.store.sql.queries import SqlStore
from journeyflow.store.sql.unit_of_work import SqlUnitOfWork

__all__ = ["SqlStore", "SqlUnitOfWork"]
