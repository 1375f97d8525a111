"""The SQL store's dead-letter table (`rejected_events`): keeping refused
events, listing them a page at a time, forgetting the replayed and purged.

Rows are kept in a short transaction of their own, after the batch they came
from, on the writer connection (SQLite: the one the customer cache follows,
so keeping rejections does not make the cache think another process wrote).
A rejection kept before (same fingerprint) is passed over by the database
itself (`ON CONFLICT DO NOTHING`), so two processes keeping the same one
cannot collide. Past the row limit, the oldest rows are deleted in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Insert, delete, func, insert, select

from journeyflow.store import tables as t
from journeyflow.store.deadletter import RejectedEvent
from journeyflow.store.sql.rows import aware, naive
from journeyflow.store.sql.sqlite import WRITE, WriterConnection

_IDS_PER_STATEMENT = 500  # bound parameters per IN list (SQLite caps them)


class SqlDeadLetters:
    """`DeadLetters` over the `rejected_events` table; mixed into `SqlStore`,
    whose engine, dialect and writer connection it uses."""

    engine: Engine
    dialect: str
    _writer: WriterConnection

    def keep_rejected(self, entries: Sequence[RejectedEvent], limit: int) -> int:
        rows = list({e.fingerprint: _row(e) for e in entries}.values())
        conn, _ = self._writer.take()
        try:
            writer = conn.execution_options(**{WRITE: True})  # SQLite: BEGIN IMMEDIATE
            with writer.begin():
                statement, rows = self._insert_new(writer, rows)
                if rows:
                    writer.execute(statement, rows)
                return _drop_oldest(writer, max(limit, 0))
        finally:
            self._writer.give_back(conn)

    def _insert_new(
        self, conn: Connection, rows: list[dict[str, Any]]
    ) -> tuple[Insert, list[dict[str, Any]]]:
        """The INSERT that passes over rows kept before, and the rows for it."""
        table = t.rejected_events
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing(index_elements=["fingerprint"]), rows
        if self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).on_conflict_do_nothing(index_elements=["fingerprint"]), rows
        # another database: leave out the rows already kept, by asking first
        wanted = [r["fingerprint"] for r in rows]
        kept = set(
            conn.execute(
                select(table.c.fingerprint).where(table.c.fingerprint.in_(wanted))
            ).scalars()
        )
        return insert(table), [r for r in rows if r["fingerprint"] not in kept]

    def rejected_events(
        self,
        *,
        after: int = 0,
        limit: int | None = None,
        offset: int = 0,
        ids: Collection[int] | None = None,
    ) -> list[RejectedEvent]:
        table = t.rejected_events
        if ids is not None:
            found: list[RejectedEvent] = []
            wanted = sorted(set(ids))
            for start in range(0, len(wanted), _IDS_PER_STATEMENT):
                chunk = wanted[start : start + _IDS_PER_STATEMENT]
                found += self._select(
                    select(table).where(table.c.id > after, table.c.id.in_(chunk))
                )
            found.sort(key=lambda e: e.id or 0)
            return found[offset : None if limit is None else offset + limit]
        query = select(table).where(table.c.id > after).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        return self._select(query)

    def _select(self, query: Any) -> list[RejectedEvent]:
        with self.engine.connect() as conn:
            return [
                _record(r._mapping) for r in conn.execute(query.order_by(t.rejected_events.c.id))
            ]

    def count_rejected(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(t.rejected_events)).scalar_one()
            )

    def forget_rejected(self, ids: Collection[int]) -> int:
        table = t.rejected_events
        wanted = sorted(set(ids))
        gone = 0
        with self.engine.connect() as plain:
            conn = plain.execution_options(**{WRITE: True})
            with conn.begin():
                for start in range(0, len(wanted), _IDS_PER_STATEMENT):
                    chunk = wanted[start : start + _IDS_PER_STATEMENT]
                    gone += conn.execute(delete(table).where(table.c.id.in_(chunk))).rowcount
        return gone

    def purge_rejected(self, before: datetime | None = None) -> int:
        table = t.rejected_events
        query = delete(table)
        if before is not None:
            query = query.where(table.c.received_at < naive(before))
        with self.engine.connect() as plain:
            conn = plain.execution_options(**{WRITE: True})
            with conn.begin():
                return int(conn.execute(query).rowcount)


def _drop_oldest(conn: Connection, limit: int) -> int:
    """Delete the oldest rows past `limit`; how many."""
    table = t.rejected_events
    count = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    excess = count - limit
    if excess <= 0:
        return 0
    newest_dropped = conn.execute(
        select(table.c.id).order_by(table.c.id).offset(excess - 1).limit(1)
    ).scalar_one()
    return int(conn.execute(delete(table).where(table.c.id <= newest_dropped)).rowcount)


def _row(entry: RejectedEvent) -> dict[str, Any]:
    return {
        "fingerprint": entry.fingerprint,
        "source": entry.source,
        "line": entry.line,
        "kind": entry.kind,
        "reason": entry.reason,
        "received_at": naive(entry.received_at),
        "raw": entry.raw,
        "raw_truncated": entry.raw_truncated,
    }


def _record(m: Any) -> RejectedEvent:
    return RejectedEvent(
        source=m["source"],
        line=m["line"],
        kind=m["kind"],
        reason=m["reason"],
        received_at=aware(m["received_at"]),
        raw=bytes(m["raw"]),
        raw_truncated=bool(m["raw_truncated"]),
        fingerprint=m["fingerprint"],
        id=m["id"],
    )
