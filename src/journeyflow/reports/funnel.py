"""One journey's funnel: how many enrolments reached each state, where the
active ones stand, how they ended, and what was sent per day.

Read from an engine's store; `journeyflow backtest` builds it over the
in-memory store a draft journey ran on (`simulation.backtest`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from journeyflow.runtime.engine import Engine


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


def format_funnel(result: Funnel, states: Iterable[str]) -> str:
    """The funnel as text: totals, then each of `states` (in that order) that
    was reached or holds customers, then sends per channel."""
    lines = [
        f"{result.journey}: {result.entries} entries ({result.customers} customers), "
        f"{result.goals} goals, {result.exits} exits"
    ]
    for state in states:
        if result.visits[state] or result.standing[state]:
            lines.append(
                f"  {state:<28} reached {result.visits[state]:>6}   "
                f"standing {result.standing[state]:>6}"
            )
    days: dict[str, int] = {}
    for (_day, channel), n in result.sends_per_day.items():
        days[channel] = days.get(channel, 0) + n
    for channel, n in sorted(days.items()):
        active_days = len({d for d, c in result.sends_per_day if c == channel})
        lines.append(f"  sent via {channel}: {n} on {active_days} days")
    if result.suppressed:
        lines.append(f"  held back (holdout): {result.suppressed}")
    return "\n".join(lines)
