"""Where each customer of a recorded clickstream stands in a welcome journey,
worked out from the events alone, without the engine.

The model covers journeys shaped like the bundled `crm-welcome`: entry on one
event, once per customer; a chain of states each left by one `after:` timer,
ending in a final state; exit rules on events, checked in every state (the
first that matches wins; `goal: true` converts). The chain, its durations and
the templates each state sends are read from the journey's own definition, so
the model follows the file; what it computes from them (who enters when,
which timers fire before which event, what was sent) is its own arithmetic
over the raw JSON lines, read with the standard library.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from journeyflow.definition import dsl
from journeyflow.definition.durations import parse_duration


@dataclass
class Standing:
    status: str  # active | completed | converted | exited
    state: str
    sent: list[str] = field(default_factory=list)  # templates, in order
    entered_at: datetime | None = None


@dataclass(frozen=True)
class Chain:
    entry: str
    states: list[tuple[str, timedelta | None, list[str]]]  # name, time to the next, templates
    exits: list[tuple[str, str]]  # (event, status it ends with)


def chain_of(journey: dsl.Journey) -> Chain:
    states = []
    name: str | None = journey.initial
    while name is not None:
        state = journey.states[name]
        sends = [a.template or "" for a in state.on_enter if isinstance(a, dsl.SendAction)]
        timers = [t for t in state.transitions if t.after is not None]
        assert len(state.transitions) == len(timers) <= 1, f"{name}: not a timer chain"
        after = parse_duration(timers[0].after) if timers and timers[0].after else None
        states.append((name, after, sends))
        name = timers[0].to if timers else None
        assert name is not None or state.final, "the chain ends in a final state"
    exits = [
        (on, "converted" if rule.goal else "exited") for rule in journey.exit for on in rule.on
    ]
    assert journey.entry.on is not None
    return Chain(journey.entry.on[0], states, exits)


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))


def standings(chain: Chain, events: Iterator[dict[str, Any]], end: datetime) -> dict[str, Standing]:
    """Each enrolled customer's standing once the clock has reached `end`."""
    out: dict[str, Standing] = {}

    def move_until(s: Standing, moment: datetime, inclusive: bool) -> None:
        """Fire the timers due before `moment` (and at it, when inclusive)."""
        assert s.entered_at is not None
        while s.status == "active":
            index = [n for n, _, _ in chain.states].index(s.state)
            after = chain.states[index][1]
            if after is None:
                return
            due = s.entered_at + after
            if due > moment or (due == moment and not inclusive):
                return
            name, _, sends = chain.states[index + 1]
            s.state, s.entered_at = name, due
            s.sent += sends
            if chain.states[index + 1][1] is None:
                s.status = "completed"

    for event in events:
        customer, name, at = event["userId"], event.get("event"), _at(event)
        s = out.get(customer)
        if s is None:
            if event.get("type") == "track" and name == chain.entry:
                first, _, sends = chain.states[0]
                out[customer] = Standing("active", first, list(sends), at)
            continue
        move_until(s, at, inclusive=False)  # events go before timers due at their instant
        if s.status == "active":
            ending = next((status for on, status in chain.exits if on == name), None)
            if ending is not None and event.get("type") == "track":
                s.status = ending
    for s in out.values():
        move_until(s, end, inclusive=True)
    return out
