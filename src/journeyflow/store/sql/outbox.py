"""The SQL store's outbox writes: deliverers claim effects, renew, record.

A claim stamps each row it takes with the claim's token and a lease (the
row's `next_attempt_at`). Renewing and recording both match on the token, so
a deliverer whose lease ran out and whose effects another deliverer took
renews nothing and records nothing over the other's work: one row, one
holder. Every statement is one short write transaction; on SQLite it takes
the write lock first (`BEGIN IMMEDIATE`), so claims run one after the other;
on PostgreSQL the claim skips rows another claim is taking (`SKIP LOCKED`)
and a renewal or a record waits for a claim on its row, then finds the token
changed.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Engine, func, or_, select, update

from journeyflow.store import tables as t
from journeyflow.store.records import Effect
from journeyflow.store.sql.outbox_admin import OutboxAdmin
from journeyflow.store.sql.postgresql import skip_locked
from journeyflow.store.sql.rows import effect_record, naive
from journeyflow.store.sql.sqlite import WRITE, chunked


class OutboxQueries(OutboxAdmin):
    """The outbox half of `SqlStore` (which supplies `engine` and `dialect`);
    listing, retrying and purging are `OutboxAdmin`'s (`outbox_admin.py`)."""

    engine: Engine
    dialect: str

    def claim_effects(
        self,
        due_by: datetime,
        limit: int,
        until: datetime,
        token: str,
        *,
        skip_channels: Collection[str] = (),
    ) -> list[Effect]:
        outbox = t.outbox.c
        due = or_(outbox.next_attempt_at.is_(None), outbox.next_attempt_at <= naive(due_by))
        query = select(t.outbox).where(outbox.status == "pending", due)
        if skip_channels:  # their circuits are open: leave their rows alone
            query = query.where(outbox.channel.not_in(sorted(skip_channels)))
        query = query.order_by(*t.OUTBOX_ORDER).limit(limit)
        if self.dialect == "postgresql":
            query = skip_locked(query)
        with self.engine.connect() as plain:
            # SQLite: BEGIN IMMEDIATE, so two deliverers claim one after the other
            conn = plain.execution_options(**{WRITE: True})
            with conn.begin():
                claimed = [effect_record(r._mapping) for r in conn.execute(query)]
                for chunk in chunked([e.key for e in claimed]):
                    conn.execute(
                        update(t.outbox)
                        .where(outbox.effect_key.in_(chunk))
                        .values(next_attempt_at=naive(until), claim_token=token)
                    )
        return claimed

    def renew_claim(
        self, token: str, until: datetime, keys: Collection[str] | None = None
    ) -> set[str]:
        outbox = t.outbox.c
        with self.engine.connect() as plain:
            conn = plain.execution_options(**{WRITE: True})
            with conn.begin():
                held = (outbox.claim_token == token) & (outbox.status == "pending")
                if keys is not None:
                    # by primary key (claim_token has no index), the status test
                    # kept off the status index: SQLite would pick that one and
                    # walk every pending row, a failing channel's backlog included
                    held = (
                        outbox.effect_key.in_(sorted(keys))
                        & (outbox.claim_token == token)
                        & (func.coalesce(outbox.status, "") == "pending")
                    )
                conn.execute(update(t.outbox).where(held).values(next_attempt_at=naive(until)))
                return {r[0] for r in conn.execute(select(outbox.effect_key).where(held))}

    def record_attempt(
        self,
        key: str,
        token: str,
        status: str,
        attempts: int,
        last_error: str | None,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        outbox = t.outbox.c
        with self.engine.connect() as plain:
            conn = plain.execution_options(**{WRITE: True})
            with conn.begin():
                done = conn.execute(
                    update(t.outbox)
                    .where(outbox.effect_key == key, outbox.claim_token == token)
                    .values(
                        status=status,
                        attempts=attempts,
                        last_error=last_error,
                        next_attempt_at=naive(next_attempt_at),
                        claim_token=None,  # recorded: nobody holds it now
                    )
                )
        return done.rowcount == 1

    def update_effect(
        self,
        key: str,
        status: str,
        attempts: int,
        last_error: str | None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(t.outbox)
                .where(t.outbox.c.effect_key == key)
                .values(
                    status=status,
                    attempts=attempts,
                    last_error=last_error,
                    next_attempt_at=naive(next_attempt_at),
                )
            )

    def waiting_effects(self, now: datetime) -> int:
        outbox = t.outbox.c
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(t.outbox)
                    .where(outbox.status == "pending", outbox.next_attempt_at > naive(now))
                ).scalar_one()
            )
