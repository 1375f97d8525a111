"""Taking one authenticated request's calls: the blocking part of a request,
run in a worker thread, never on the event loop.

In order: the inbox's depth (past the limit, `429` before any work), each
call prepared and checked on its own (`calls.prepare`), the good ones
committed to the inbox in one transaction (duplicates by messageId passed
over), then the rejected ones kept in the dead-letter table with their
reason. The sender hears `200` only after the commit. A database that does
not answer is a `503` with `Retry-After`: the client sends again, and what
was committed already comes back a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from journeyflow.events import Event, Invalid
from journeyflow.service import metrics
from journeyflow.service.http.calls import Envelope, Limits, kept_form, prepare
from journeyflow.service.http.responses import Refusal
from journeyflow.store.deadletter import raw_bytes, rejected_event
from journeyflow.store.sql.inbox import Inbox

SOURCE = "http"  # the dead-letter rows' source, the metrics' label

# the connection, not the data, is at fault: waiting and sending again helps
UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, ConnectionError)


@dataclass
class Outcome:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, Invalid]] = field(default_factory=list)


@dataclass(frozen=True)
class Taker:
    """Takes requests' calls into one inbox."""

    inbox: Inbox
    limits: Limits
    max_inbox: int
    retry_after: int
    keep_rejected: int
    now: Callable[[], datetime]

    def take(self, calls: list[Any], envelope: Envelope) -> Outcome:
        """Check, keep and count these calls; `Refusal` (429, 503) when the
        request must be sent again later."""
        try:
            return self._take(calls, envelope)
        except UNAVAILABLE as exc:
            raise Refusal(
                503,
                "unavailable",
                f"the database is not answering ({type(exc).__name__}); send again later",
                retry_after=self.retry_after,
            ) from None

    def _take(self, calls: list[Any], envelope: Envelope) -> Outcome:
        if self.inbox.deeper_than(self.max_inbox):
            raise Refusal(
                429,
                "inbox-full",
                f"more than {self.max_inbox:,} accepted events are waiting to be applied; "
                "send again later",
                retry_after=self.retry_after,
            )
        outcome = Outcome()
        good: list[tuple[Event, dict[str, Any]]] = []
        for index, call in enumerate(calls):
            prepared = prepare(call, envelope, self.limits)
            if isinstance(prepared, Invalid):
                outcome.rejected.append((index, prepared))
            else:
                good.append(prepared)
        if good:
            outcome.accepted, outcome.duplicates = self.inbox.add(good, envelope.received_at)
            _count_taken(outcome)
        if outcome.rejected:
            self.inbox.store.keep_rejected(
                [
                    rejected_event(
                        source=SOURCE,
                        line=None,
                        kind=invalid.kind,
                        reason=invalid.reason,
                        received_at=envelope.received_at,
                        raw=raw_bytes(kept_form(calls[index], envelope)),
                    )
                    for index, invalid in outcome.rejected
                ],
                self.keep_rejected,
            )
            for _, invalid in outcome.rejected:
                metrics.EVENTS_REJECTED.labels(source=SOURCE, kind=str(invalid.kind)).inc()
        return outcome


def _count_taken(outcome: Outcome) -> None:
    """Counted once committed: a 503 after this (the dead letters failing)
    makes the retry's events duplicates, not accepted twice."""
    if outcome.accepted:
        metrics.EVENTS_ACCEPTED.labels(source=SOURCE).inc(outcome.accepted)
    if outcome.duplicates:
        metrics.EVENTS_DUPLICATE.labels(source=SOURCE).inc(outcome.duplicates)
