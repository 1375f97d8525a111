"""One page of a channel's effects, filtered and ordered by the database.

`journeyflow tasks` lists the to-dos journeys give people: outbox rows on
channel `task`. An outbox holds every effect ever queued (millions of e-mails
beside a few tasks), so the channel, the statuses, the owner (`data.owner`)
and a key prefix are all asked of the database, and only the page asked for
comes back (LIMIT/OFFSET, in the outbox's own order).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine, select

from journeyflow.store import tables as t
from journeyflow.store.records import Effect
from journeyflow.store.sql.rows import effect_record


def effects_page(
    engine: Engine,
    channel: str,
    statuses: Sequence[str] | None,
    *,
    owner: str | None = None,
    key_prefix: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Effect]:
    """See `Store.effects_page`."""
    outbox = t.outbox.c
    query = select(t.outbox).where(outbox.channel == channel)
    if statuses is not None:
        query = query.where(outbox.status.in_(list(statuses)))
    if owner is not None:
        # JSON_EXTRACT on SQLite, ->> on PostgreSQL
        query = query.where(outbox.data["owner"].as_string() == owner)
    if key_prefix is not None:
        query = query.where(outbox.effect_key.startswith(key_prefix, autoescape=True))
    query = query.order_by(*t.OUTBOX_ORDER)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    with engine.connect() as conn:
        return [effect_record(r._mapping) for r in conn.execute(query)]
