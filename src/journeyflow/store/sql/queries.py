"""The SQL store: its units of work, and the queries asked outside them.

Reads and listings (customers, enrolments, history, effects, events) each run
on a connection of their own and see what is committed. Writes outside a unit
of work are few and small: a journey version saved once, a delivery attempt
recorded, pending effects claimed by a deliverer for a lease.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import IntegrityError

from journeyflow.store import tables as t
from journeyflow.store.records import CustomerRecord, Effect, EnrolmentRecord, HistoryRecord
from journeyflow.store.sql.bulk import BulkStatements
from journeyflow.store.sql.cache import DEFAULT_CAPACITY, RecordCache
from journeyflow.store.sql.database import open_engine, upgrade
from journeyflow.store.sql.outbox import OutboxQueries
from journeyflow.store.sql.rejected import SqlDeadLetters
from journeyflow.store.sql.rows import (
    customer_record,
    effect_record,
    enrolment_record,
    history_record,
    naive,
)
from journeyflow.store.sql.sqlite import WriterConnection
from journeyflow.store.sql.tasks import effects_page

# The unit of work's class by name, at run time too: `unit_of_work` is
# annotated with it, and the benchmarks read that annotation.
from journeyflow.store.sql.unit_of_work import SqlUnitOfWork


class SqlStore(OutboxQueries, SqlDeadLetters):
    """The outbox's claims, renewals and records are `OutboxQueries` (`outbox.py`);
    the rejected events, `SqlDeadLetters` (`rejected.py`).

    :param cache_customers: customers kept between units of work (SQLite only;
    0 turns the cache off)
    :param migrate: upgrade the schema on opening (the default)"""

    def __init__(
        self, url: str | URL, *, migrate: bool = True, cache_customers: int = DEFAULT_CAPACITY
    ) -> None:
        self.engine = open_engine(url, migrate=migrate)
        self.dialect = self.engine.dialect.name
        # PostgreSQL has no cheap "did anyone else commit?" question: no cache there
        self.cache = RecordCache(cache_customers if self.dialect == "sqlite" else 0)
        self._writer = WriterConnection(self.engine, self.cache)
        self._statements = BulkStatements(self.engine.dialect)

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest Alembic revision."""
        upgrade(self.engine)

    def unit_of_work(self) -> SqlUnitOfWork:
        conn, cache = self._writer.take()
        return SqlUnitOfWork(
            conn,
            cache,
            self._statements,
            self._writer.give_back,
            claim_customers=self.dialect == "postgresql",
        )

    def close(self) -> None:
        self._writer.close()
        self.engine.dispose()

    # --- journey versions ----------------------------------------------------

    def journey_version(self, journey: str, version: int) -> tuple[str, str] | None:
        versions = t.journey_versions.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(versions.content_hash, versions.source).where(
                    versions.journey == journey, versions.version == version
                )
            ).first()
        return (row[0], row[1]) if row else None

    def save_journey_version(
        self, journey: str, version: int, content_hash: str, source: str
    ) -> None:
        if self.journey_version(journey, version) is not None:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(t.journey_versions).values(
                        journey=journey,
                        version=version,
                        content_hash=content_hash,
                        source=source,
                        loaded_at=naive(datetime.now(timezone.utc)),
                    )
                )
        except IntegrityError:
            # another process, starting at the same moment, saved it first
            stored = self.journey_version(journey, version)
            if stored is None or stored[0] != content_hash:
                raise

    def journey_versions(self, journey: str) -> list[int]:
        versions = t.journey_versions.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(versions.version)
                .where(versions.journey == journey)
                .order_by(versions.version)
            )
            return [r[0] for r in rows]

    # --- reads -----------------------------------------------------------------

    def get_customer(self, customer_id: str) -> CustomerRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.customers).where(t.customers.c.id == customer_id)).first()
        return customer_record(row._mapping) if row else None

    def get_enrolments(
        self, customer_id: str | None = None, journey: str | None = None
    ) -> list[EnrolmentRecord]:
        query = select(t.enrolments)
        if customer_id is not None:
            query = query.where(t.enrolments.c.customer_id == customer_id)
        if journey is not None:
            query = query.where(t.enrolments.c.journey == journey)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.enrolments.c.customer_id, t.enrolments.c.position))
            return [enrolment_record(r._mapping) for r in rows]

    def get_history(
        self, customer_id: str | None = None, journey: str | None = None
    ) -> list[HistoryRecord]:
        query = select(t.history)
        if customer_id is not None:
            query = query.where(t.history.c.customer_id == customer_id)
        if journey is not None:
            query = query.where(t.history.c.journey == journey)
        with self.engine.connect() as conn:
            return [
                history_record(r._mapping) for r in conn.execute(query.order_by(t.history.c.id))
            ]

    def get_effects(
        self, customer_id: str | None = None, status: str | None = None
    ) -> list[Effect]:
        outbox = t.outbox.c
        query = select(t.outbox)
        if customer_id is not None:
            query = query.where(outbox.customer_id == customer_id)
        if status is not None:
            query = query.where(outbox.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(*t.OUTBOX_ORDER))
            return [effect_record(r._mapping) for r in rows]

    def effects_page(
        self,
        channel: str,
        statuses: Sequence[str] | None,
        *,
        owner: str | None = None,
        key_prefix: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Effect]:
        return effects_page(
            self.engine,
            channel,
            statuses,
            owner=owner,
            key_prefix=key_prefix,
            limit=limit,
            offset=offset,
        )

    def count_events(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.events)).scalar_one())

    def next_due_at(self) -> datetime | None:
        """When the earliest timer of any active enrolment is due (UTC), or None:
        how long the service may sleep. One step down the next_due_at index."""
        with self.engine.connect() as conn:
            found = conn.execute(select(func.min(t.enrolments.c.next_due_at))).scalar()
        return found.replace(tzinfo=timezone.utc) if found is not None else None

    def pending_effects_count(self) -> int:
        """Effects waiting to be delivered (the outbox's depth)."""
        outbox = t.outbox.c
        with self.engine.connect() as conn:
            query = select(func.count()).select_from(t.outbox).where(outbox.status == "pending")
            return int(conn.execute(query).scalar_one())

    def customer_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(t.customers.c.id).order_by(t.customers.c.id))]

    # --- listings, streamed a page at a time -------------------------------------

    def iter_events(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        events = t.events.c
        last = 0
        while True:  # pages by arrival order: memory stays flat on large stores
            query = select(events.seq, events.payload).where(events.seq > last)
            if since is not None:
                query = query.where(events.timestamp >= naive(since))
            with self.engine.connect() as conn:
                rows = conn.execute(query.order_by(events.seq).limit(5000)).all()
            if not rows:
                return
            for seq, payload in rows:
                last = seq
                yield payload

    def iter_customer_events(
        self,
        until: datetime | None = None,
    ) -> Iterator[tuple[CustomerRecord, list[dict[str, Any]]]]:
        events = t.events.c
        last = ""
        while True:  # pages of customers, so memory stays flat however many there are
            with self.engine.connect() as conn:
                customers = [
                    customer_record(r._mapping)
                    for r in conn.execute(
                        select(t.customers)
                        .where(t.customers.c.id > last)
                        .order_by(t.customers.c.id)
                        .limit(1000)
                    )
                ]
                if not customers:
                    return
                query = (
                    select(events.customer_id, events.payload)
                    .where(events.customer_id.in_([c.id for c in customers]))
                    .order_by(events.customer_id, events.timestamp, events.seq)
                )
                if until is not None:
                    query = query.where(events.timestamp <= naive(until))
                grouped: dict[str, list[dict[str, Any]]] = {}
                for cid, payload in conn.execute(query):
                    grouped.setdefault(cid, []).append(payload)
            for customer in customers:
                yield customer, grouped.get(customer.id, [])
            last = customers[-1].id
