"""The inbox, applied: accepted events move customers, a batch at a time.

The HTTP ingest commits each accepted event to the inbox before it answers;
`apply_inbox` takes the oldest rows (of one shard, on a PostgreSQL fleet),
hands them to `Engine.ingest` — which checks them again, drops messageIds the
events table holds already, applies the rest in order and stores them in one
unit of work — and then deletes the rows from the inbox.

Applying and deleting are two transactions, not one, on purpose: the engine's
unit of work stays the one `journeyflow ingest` uses. A crash between them
leaves rows applied but not deleted; the next take hands them to the engine
again, which finds their messageIds stored and counts them as duplicates.
So each accepted event is applied exactly once, whatever is killed when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from journeyflow.runtime.engine import Engine, IngestReport
from journeyflow.service import metrics
from journeyflow.store.sql.inbox import Inbox

__all__ = ["AppliedBatch", "apply_inbox"]

SOURCE = "http"  # the dead-letter table's `source` for what the engine still refuses


@dataclass
class AppliedBatch:
    """What one take of the inbox did."""

    taken: int = 0  # inbox rows handed to the engine
    applied: int = 0
    duplicates: int = 0  # applied before (a client's retry, or a crash before `done`)
    rejected: int = 0  # refused by the engine after acceptance (a value the store refused)

    @property
    def empty(self) -> bool:
        return self.taken == 0


def apply_inbox(
    engine: Engine, inbox: Inbox, *, limit: int = 1000, shard: int | None = None
) -> AppliedBatch:
    """Apply up to `limit` of the oldest inbox rows (of `shard`, if given), in
    the order they were accepted, then delete them from the inbox."""
    items = inbox.take(limit, shard=shard)
    if not items:
        return AppliedBatch()
    report: IngestReport = engine.ingest([item.raw for item in items], source=SOURCE)
    inbox.done([item.seq for item in items])
    now = datetime.now(timezone.utc)
    for item in items:
        received = item.received_at
        if received.tzinfo is None:
            received = received.replace(tzinfo=timezone.utc)
        metrics.APPLY_SECONDS.observe(max(0.0, (now - received).total_seconds()))
    metrics.EVENTS_APPLIED.inc(report.accepted)
    for rejected in report.rejected:
        metrics.EVENTS_REJECTED.labels(source=SOURCE, kind=rejected.kind or "other").inc()
    return AppliedBatch(
        taken=len(items),
        applied=report.accepted,
        duplicates=report.duplicates,
        rejected=len(report.rejected),
    )
