"""Replaying stored events through a draft journey, away from live data.

The draft runs on a fresh in-memory store and a virtual clock: live
enrolments and the outbox are never touched. The result is the funnel the
draft would have produced.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from journeyflow.clock import VirtualClock, as_utc
from journeyflow.definition.loader import LoadedJourney
from journeyflow.runtime.engine import Engine
from journeyflow.store import MemoryStore


@dataclass
class Funnel:
    journey: str
    entries: int = 0
    customers: int = 0
    visits: Counter[str] = field(default_factory=Counter)  # enrolments that reached a state
    standing: Counter[str] = field(default_factory=Counter)  # active enrolments per state
    statuses: Counter[str] = field(default_factory=Counter)
    exits: int = 0
    goals: int = 0
    sends_per_day: Counter[tuple[str, str]] = field(default_factory=Counter)  # (day, channel)
    suppressed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "journey": self.journey,
            "entries": self.entries,
            "customers": self.customers,
            "visits": dict(self.visits),
            "standing": dict(self.standing),
            "statuses": dict(self.statuses),
            "exits": self.exits,
            "goals": self.goals,
            "sends_per_day": [
                {"day": d, "channel": c, "count": n}
                for (d, c), n in sorted(self.sends_per_day.items())
            ],
            "suppressed": self.suppressed,
        }


def funnel(engine: Engine, journey: str) -> Funnel:
    """The funnel of one journey from what the engine's store holds."""
    result = Funnel(journey)
    enrolments = engine.enrolments(journey=journey)
    result.entries = len(enrolments)
    result.customers = len({e.customer_id for e in enrolments})
    for enrolment in enrolments:
        result.statuses[enrolment.status] += 1
        result.exits += enrolment.status == "exited"
        result.goals += enrolment.status == "converted"
        if enrolment.active:
            result.standing[enrolment.state] += 1
    seen: set[tuple[str, str]] = set()
    for record in engine.history(journey=journey):
        target = record.to_state
        moved = record.kind in ("enter", "transition", "migrate")
        if moved and target is not None and (record.enrolment_id, target) not in seen:
            seen.add((record.enrolment_id, target))
            result.visits[target] += 1
    for effect in engine.effects():
        if effect.journey != journey:
            continue
        if effect.status == "suppressed":
            result.suppressed += 1
        else:
            result.sends_per_day[(effect.created_at.date().isoformat(), effect.channel)] += 1
    return result


def backtest(
    draft: LoadedJourney,
    events: Iterable[dict[str, Any]],
    until: datetime | None = None,
    batch_size: int = 1000,
) -> Funnel:
    """Run `events` (stored Segment-style dicts, in arrival order) through the
    draft alone and return its funnel; timers run up to `until` (default: the
    last event's time)."""
    stream = list(events)
    stamps = [
        as_utc(datetime.fromisoformat(str(e["timestamp"]).replace("Z", "+00:00")))
        for e in stream
        if e.get("timestamp")
    ]
    start = min(stamps) if stamps else as_utc(until or datetime(2026, 1, 1))
    engine = Engine([draft], MemoryStore(), VirtualClock(start), batch_size=batch_size)
    engine.ingest(stream)
    end = until or (max(stamps) if stamps else start)
    engine.advance_to(as_utc(end))
    return funnel(engine, draft.journey.journey)
