"""The inbox: events the HTTP ingest accepted, kept until they are applied.

An HTTP sender hears 200 only once its events are committed here, so a crash
after the answer loses nothing; the applier takes rows oldest first (by
`seq`), hands them to `Engine.ingest` and deletes them once applied
(`done`). A sender's retry never applies an event twice: a messageId
already waiting here, or already applied (in `events`), is counted a
duplicate and not added, and `Engine.ingest` checks the events table again
when it applies (an event applied between `add`'s check and its insert is
still applied once).

Each row carries a shard, a hash of its customer (`shard_of`): on PostgreSQL
several workers each take one shard at a time, so a customer's events are
applied by one worker at a time and in `seq` order. The hash is the one the
advisory locks use (`postgresql.lock_key`), the same in every process and
on every host.

Writes go through the store's writer connection when it is free, so on
SQLite the customer cache that connection keeps is not dropped for a commit
of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Insert, delete, func, insert, select

from journeyflow.events.model import Event
from journeyflow.store import tables as t
from journeyflow.store.sql.postgresql import lock_key
from journeyflow.store.sql.queries import SqlStore
from journeyflow.store.sql.rows import aware, naive
from journeyflow.store.sql.sqlite import WRITE

DEFAULT_SHARDS = 16  # four to eight a worker for two to four workers: docs/scaling.md
_ROWS_PER_STATEMENT = 500  # rows per multi-row INSERT / ids per IN list (SQLite caps parameters)


@dataclass(frozen=True)
class InboxItem:
    """One accepted event waiting to be applied."""

    seq: int  # arrival order
    shard: int
    customer_id: str
    message_id: str
    received_at: datetime  # UTC
    raw: dict[str, Any]  # the event as accepted, for `Engine.ingest`


class Inbox:
    """The `inbox` table of a SQL store (SQLite or PostgreSQL).

    :param shards: how many shards customers are hashed into; every process
        sharing a database must use the same number
    """

    def __init__(self, store: SqlStore, shards: int = DEFAULT_SHARDS) -> None:
        if not 1 <= shards <= 32767:  # a SmallInteger column
            raise ValueError(f"shards must be between 1 and 32767, not {shards}")
        self.store = store
        self.shards = shards

    def shard_of(self, customer_id: str) -> int:
        """The customer's shard: the same in every process and on every host."""
        return lock_key(customer_id) % self.shards

    # --- writing ----------------------------------------------------------------

    def add(
        self, items: Sequence[tuple[Event, dict[str, Any]]], received_at: datetime
    ) -> tuple[int, int]:
        """Keep these accepted events, each with its raw dict, in one committed
        transaction; (added, duplicates). A duplicate is a messageId already in
        the inbox, already applied, or given twice in `items` (the first kept)."""
        if not items:
            return 0, 0
        when = naive(received_at)
        rows: dict[str, dict[str, Any]] = {}
        for event, raw in items:
            if event.message_id not in rows:
                rows[event.message_id] = {
                    "message_id": event.message_id,
                    "customer_id": event.customer_id,
                    "shard": self.shard_of(event.customer_id),
                    "received_at": when,
                    "raw": orjson.dumps(raw),
                }
        added = 0
        conn, _ = self.store._writer.take()
        try:
            # SQLite: BEGIN IMMEDIATE; everywhere: an INSERT's rowcount read before
            # the cursor closes (psycopg's is gone after)
            writer = conn.execution_options(**{WRITE: True, "preserve_rowcount": True})
            with writer.begin():
                for message_id in _applied(writer, list(rows)):
                    del rows[message_id]
                if rows:  # executemany: one compiled statement, the driver's batching
                    added = int(
                        writer.execute(self._insert_new(), self._ordered(writer, rows)).rowcount
                    )
        finally:
            self.store._writer.give_back(conn)
        return added, len(items) - added

    def _ordered(self, conn: Connection, rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows to insert, their `seq` in the order given (the order events
        are applied in). On PostgreSQL the seqs are drawn first, in that order,
        and the rows then inserted in messageId order: two requests adding
        some of the same events at once (a client's retry while its first
        attempt is in flight) each wait on the other's uncommitted rows, and in
        one shared order the second simply waits for the first and passes over
        its rows, where each batch's own order could deadlock. (A lock per
        messageId did the same but exhausted the server's lock table at
        10,000 events in one request.)"""
        listed = list(rows.values())
        if self.store.dialect != "postgresql":
            return listed  # one writer at a time: seq follows the insert order
        seqs = conn.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('inbox', 'seq')) FROM generate_series(1, %(n)s)",
            {"n": len(listed)},
        ).scalars()
        for row, seq in zip(listed, sorted(seqs), strict=True):
            row["seq"] = seq
        return sorted(listed, key=lambda row: str(row["message_id"]))

    def _insert_new(self) -> Insert:
        """An INSERT that passes over a messageId already waiting."""
        if self.store.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(t.inbox).on_conflict_do_nothing(index_elements=["message_id"])
        if self.store.dialect == "sqlite":
            return insert(t.inbox).prefix_with("OR IGNORE")
        raise NotImplementedError(f"the inbox needs SQLite or PostgreSQL, not {self.store.dialect}")

    def done(self, seqs: Sequence[int]) -> None:
        """Delete these rows (applied), in one transaction."""
        wanted = sorted(set(seqs))
        if not wanted:
            return
        conn, _ = self.store._writer.take()
        try:
            writer = conn.execution_options(**{WRITE: True})
            with writer.begin():
                for start in range(0, len(wanted), _ROWS_PER_STATEMENT):
                    chunk = wanted[start : start + _ROWS_PER_STATEMENT]
                    writer.execute(delete(t.inbox).where(t.inbox.c.seq.in_(chunk)))
        finally:
            self.store._writer.give_back(conn)

    # --- reading ----------------------------------------------------------------

    def take(self, limit: int, shard: int | None = None) -> list[InboxItem]:
        """Up to `limit` rows oldest first, of one shard or of all; left in
        place until `done`."""
        query = select(t.inbox).order_by(t.inbox.c.seq).limit(limit)
        if shard is not None:
            query = query.where(t.inbox.c.shard == shard)
        with self.store.engine.connect() as conn:
            return [_item(r._mapping) for r in conn.execute(query)]

    def depth(self) -> int:
        """Rows waiting."""
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.inbox)).scalar_one())

    def deeper_than(self, limit: int) -> bool:
        """Whether more than `limit` rows wait, asked on every request: the
        span of seqs (two index lookups) bounds the depth from above, and
        only when it passes the limit are rows counted, at most limit + 1."""
        seq = t.inbox.c.seq
        with self.store.engine.connect() as conn:
            low, high = conn.execute(select(func.min(seq), func.max(seq))).one()
            if low is None or high - low + 1 <= limit:
                return False
            some = select(seq).limit(limit + 1).subquery()
            found = int(conn.execute(select(func.count()).select_from(some)).scalar_one())
        return found > limit

    def waiting_shards(self) -> list[int]:
        """The shards with rows waiting, in shard order."""
        with self.store.engine.connect() as conn:
            if self.store.dialect == "postgresql":
                # one index probe per shard, not a scan of every waiting row
                found = conn.exec_driver_sql(
                    "SELECT s FROM generate_series(0, %(last)s) AS s"
                    " WHERE EXISTS (SELECT 1 FROM inbox WHERE shard = s)",
                    {"last": self.shards - 1},
                ).scalars()
                return sorted(int(s) for s in found)
            query = select(t.inbox.c.shard).distinct().order_by(t.inbox.c.shard)
            return [int(s) for s in conn.execute(query).scalars()]


def _applied(conn: Connection, message_ids: list[str]) -> list[str]:
    """Those of `message_ids` already applied (in the events table)."""
    found: list[str] = []
    for start in range(0, len(message_ids), _ROWS_PER_STATEMENT):
        chunk = message_ids[start : start + _ROWS_PER_STATEMENT]
        found += conn.execute(
            select(t.events.c.message_id).where(t.events.c.message_id.in_(chunk))
        ).scalars()
    return found


def _item(m: Any) -> InboxItem:
    return InboxItem(
        seq=int(m["seq"]),
        shard=int(m["shard"]),
        customer_id=m["customer_id"],
        message_id=m["message_id"],
        received_at=aware(m["received_at"]),
        raw=orjson.loads(m["raw"]),
    )
