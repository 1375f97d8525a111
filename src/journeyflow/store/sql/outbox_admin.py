"""The outbox as an operator sees it: list, retry and purge, in SQL.

`journeyflow outbox` works on an outbox of millions of rows, so every filter
(statuses, channel, customer, key prefixes, age) is a WHERE clause, a listing
is one LIMIT/OFFSET page in the outbox's own order, and retry and purge are
one UPDATE or DELETE each (the status index, `ix_outbox_status (status,
created_at)`, serves the status and age filters). Writes take SQLite's write
lock first (`BEGIN IMMEDIATE`), as the deliverers' claims do.

A retried row is as if new: `pending`, no attempts, no retry time, no claim;
its `last_error` stays, to say what happened before.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, delete, false, func, or_, select, true, update

from journeyflow.store import tables as t
from journeyflow.store.records import Effect
from journeyflow.store.sql.rows import effect_record, naive
from journeyflow.store.sql.sqlite import WRITE


def _where(
    *,
    statuses: Sequence[str] | None = None,
    channel: str | None = None,
    customer_id: str | None = None,
    key_prefixes: Sequence[str] | None = None,
    before: datetime | None = None,
    except_channel: str | None = None,
) -> ColumnElement[bool]:
    outbox = t.outbox.c
    found: list[ColumnElement[bool]] = []
    if statuses is not None:
        found.append(outbox.status.in_(list(statuses)))
    if channel is not None:
        found.append(outbox.channel == channel)
    if except_channel is not None:
        found.append(outbox.channel != except_channel)
    if customer_id is not None:
        found.append(outbox.customer_id == customer_id)
    if key_prefixes is not None:
        found.append(
            or_(false(), *(outbox.effect_key.startswith(p, autoescape=True) for p in key_prefixes))
        )
    if before is not None:
        found.append(outbox.created_at < naive(before))
    return and_(*found) if found else true()


class OutboxAdmin:
    """The operator's half of the outbox (`SqlStore` supplies `engine`)."""

    engine: Engine

    def outbox_page(
        self,
        *,
        statuses: Sequence[str] | None = None,
        channel: str | None = None,
        customer_id: str | None = None,
        key_prefixes: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Effect]:
        where = _where(
            statuses=statuses, channel=channel, customer_id=customer_id, key_prefixes=key_prefixes
        )
        query = select(t.outbox).where(where).order_by(*t.OUTBOX_ORDER)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        with self.engine.connect() as conn:
            return [effect_record(r._mapping) for r in conn.execute(query)]

    def outbox_counts(
        self, *, channel: str | None = None, customer_id: str | None = None
    ) -> dict[str, int]:
        outbox = t.outbox.c
        query = (
            select(outbox.status, func.count())
            .where(_where(channel=channel, customer_id=customer_id))
            .group_by(outbox.status)
        )
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def retry_effects(
        self,
        *,
        statuses: Sequence[str] = ("failed",),
        channel: str | None = None,
        customer_id: str | None = None,
        key_prefixes: Sequence[str] | None = None,
    ) -> int:
        where = _where(
            statuses=statuses, channel=channel, customer_id=customer_id, key_prefixes=key_prefixes
        )
        fresh: dict[str, Any] = {
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": None,
            "claim_token": None,
        }
        return self._write(update(t.outbox).where(where).values(**fresh))

    def purge_effects(
        self,
        before: datetime,
        statuses: Sequence[str],
        *,
        channel: str | None = None,
        except_channel: str | None = None,
        dry_run: bool = False,
    ) -> int:
        where = _where(
            statuses=statuses, channel=channel, except_channel=except_channel, before=before
        )
        if dry_run:
            with self.engine.connect() as conn:
                counted = select(func.count()).select_from(t.outbox).where(where)
                return int(conn.execute(counted).scalar_one())
        return self._write(delete(t.outbox).where(where))

    def _write(self, statement: Any) -> int:
        with self.engine.connect() as plain:
            conn = plain.execution_options(**{WRITE: True})  # SQLite: BEGIN IMMEDIATE
            with conn.begin():
                return int(conn.execute(statement).rowcount)
