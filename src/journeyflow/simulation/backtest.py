"""Replaying stored events through a draft journey, away from live data.

The draft runs alone on a fresh in-memory store and a virtual clock: live
enrolments and the outbox are never touched. The engine that comes back holds
what the draft would have done; `reports.funnel` reads its funnel from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from journeyflow.clock import VirtualClock, as_utc
from journeyflow.definition.loader import LoadedJourney
from journeyflow.runtime.engine import Engine
from journeyflow.simulation.replay import DEFAULT_START, event_times
from journeyflow.store import MemoryStore


def backtest(
    draft: LoadedJourney,
    events: Iterable[dict[str, Any]],
    until: datetime | None = None,
    batch_size: int = 1000,
) -> Engine:
    """Run `events` (stored Segment-style dicts, in arrival order) through the
    draft alone; timers run up to `until` (default: the last event's time).
    Returns the engine, on its in-memory store."""
    stream = list(events)
    times = event_times(stream)
    start = min(times) if times else as_utc(until or DEFAULT_START)
    engine = Engine([draft], MemoryStore(), VirtualClock(start), batch_size=batch_size)
    engine.ingest(stream)
    end = until or (max(times) if times else start)
    engine.advance_to(as_utc(end))
    return engine
