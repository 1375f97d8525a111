"""Tests that kill mutants of `runtime/engine.py` the rest of the suite let live
(docs/mutation-testing.md, the second run of issue #14).

They follow the paths the fast tests leave aside: segments set with
listeners attached or without a time, a timer due at the very moment of a
segment change, and a customer left on an older journey version whose
definition the engine must rebuild from the store with the plugins' CEL
functions.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from journeyflow.runtime.engine import Engine
from journeyflow.runtime.semantics import MAX_STEPS_PER_TIMERS, Notification
from journeyflow.store import MemoryStore
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, track

ON_GOLD = """
journey: g
version: 1
entry: {segment: gold}
initial: w
states:
  w: {transitions: [{after: 1d, to: done}]}
  done: {final: true}
"""


def test_listeners_hear_what_a_segment_change_causes(journeyflow_engine: EngineFactory) -> None:
    """Kills `_replace_segments`' notes set to None, not handed to the run, or not
    passed to `_notify`; and `_as_of_now`'s copy losing the timers."""
    heard: list[Notification] = []
    engine = journeyflow_engine(ON_GOLD, listeners=[heard.append])
    engine.set_segments("c1", ["gold"], at("2026-01-01T00:00:00Z"))
    [note] = heard
    assert note.kind == "transition"
    assert note.history is not None and note.history.kind == "enter"
    assert note.enrolment is not None
    assert (note.enrolment.journey, note.enrolment.state) == ("g", "w")
    assert note.enrolment.timers == []  # as of the `enter` line: before w's timer is set


def test_segments_set_without_a_time_are_set_at_the_clocks_now(
    journeyflow_engine: EngineFactory,
) -> None:
    """Kills `replace_segments` using `as_utc(at)` even when `at` is None."""
    engine = journeyflow_engine(ON_GOLD, start="2026-03-01T12:00:00Z")
    engine.set_segments("c1", ["gold"])
    [enrolment] = engine.enrolments("c1")
    assert enrolment.started_at == at("2026-03-01T12:00:00Z")


RACE = """
journey: r
version: 1
entry: {on: [buy]}
initial: w
states:
  w:
    transitions:
      - {after: 1d, to: late}
      - {on: segment_entered, to: seen}
  seen: {transitions: [{after: 0s, to: done}]}
  late: {final: true}
  done: {final: true}
"""


def test_a_segment_entered_at_a_timers_due_time_comes_first_and_the_timer_then(
    journeyflow_engine: EngineFactory,
) -> None:
    """docs/semantics.md §1: timers due at the instant of an event fire after it. At
    the moment `w`'s one-day timer falls due, a segment is entered: the customer
    goes to `seen`, whose `after: 0s` then fires within the same call. Kills
    `fire_due(at, inclusive=True)` before `set_segments` (the timer first: `late`)
    and `inclusive=False` or None after it (`seen`'s timer left for later)."""
    engine = journeyflow_engine(RACE)
    engine.ingest([track("c1", "buy", "2026-01-01T00:00:00Z")])
    engine.set_segments("c1", ["vip"], at("2026-01-02T00:00:00Z"))
    [enrolment] = engine.enrolments("c1")
    assert (enrolment.state, enrolment.status) == ("done", "completed")
    assert enrolment.ended_at == at("2026-01-02T00:00:00Z")
    steps = [(h.from_state, h.to_state) for h in engine.history("c1")]
    assert steps[:3] == [(None, "w"), ("w", "seen"), ("seen", "done")]


SHOUT_V1 = """
journey: s
version: 1
entry: {on: [buy]}
initial: w
states:
  w:
    transitions:
      - on: named
        when: 'shout(event.properties.who) == "BOB"'
        to: done
  done: {final: true}
"""

SHOUT_V2 = SHOUT_V1.replace("version: 1", "version: 2").replace(
    "  done: {final: true}", "      - {after: 30d, to: done}\n  done: {final: true}"
)


def shout(text: Any) -> str:
    return str(text).upper()


def test_an_older_version_rebuilt_from_the_store_keeps_the_plugins_functions(
    journeyflow_engine: EngineFactory,
) -> None:
    """A customer enrolled on v1; the engine is then started with v2 only, so v1 is
    compiled again from its stored source. Its guard calls a plugin function.
    Kills `Engine.machine` compiling it with `functions` None or left out."""
    store = MemoryStore()
    v1 = journeyflow_engine(SHOUT_V1, store=store, functions={"shout": shout})
    v1.ingest([track("c1", "buy", "2026-01-01T00:00:00Z")])
    v2 = journeyflow_engine(SHOUT_V2, store=store, functions={"shout": shout})
    v2.ingest([track("c1", "named", "2026-01-02T00:00:00Z", who="bob")])
    [enrolment] = v2.enrolments("c1")
    assert (enrolment.version, enrolment.state, enrolment.status) == (1, "done", "completed")
    assert [h.kind for h in v2.history("c1") if h.kind == "error"] == []


TICK = """
journey: tick
version: 1
entry: {on: [buy]}
initial: w
states:
  w: {transitions: [{after: 100s, to: w}]}
"""


@pytest.mark.parametrize(
    ("firings", "units"),
    [
        # a: 5,000 firings, 10,000 steps: the unit is full, b waits for the next one
        ([MAX_STEPS_PER_TIMERS // 2, 1], [MAX_STEPS_PER_TIMERS // 2, 1]),
        # a and b: 6,000 steps each, 12,000 in all: c waits for the next unit
        ([3000, 3000, 1], [6000, 1]),
    ],
)
def test_due_timers_are_fired_in_units_of_about_ten_thousand_steps(
    journeyflow_engine: EngineFactory,
    monkeypatch: pytest.MonkeyPatch,
    firings: list[int],
    units: list[int],
) -> None:
    """Each firing of `tick` is two steps (the timer, the transition). A unit of work
    goes on to the next customer while fewer than 10,000 steps are taken, and
    `advance_to` comes back for the customers left. Kills `_fire_due_batch`'s
    `steps >= MAX` into `>`, `break` into `return` (the customers left are never
    fired), and `steps += run.steps` into `=` or `-=` (the unit grows unbounded)."""
    engine = journeyflow_engine(TICK)
    until = at("2026-01-10T00:00:00Z")
    cids = [f"c{i}" for i in range(len(firings))]
    engine.ingest(
        [
            track(cid, "buy", (until - n * timedelta(seconds=100)).isoformat())
            for cid, n in zip(cids, firings, strict=True)
        ]
    )
    seen: list[int] = []
    fire_batch = Engine._fire_due_batch

    def counted(self: Engine, moment: datetime) -> int | None:
        fired = fire_batch(self, moment)
        if fired is not None:
            seen.append(fired)
        return fired

    monkeypatch.setattr(Engine, "_fire_due_batch", counted)
    assert engine.advance_to(until) == sum(firings)
    assert seen == units
    for cid in cids:
        [enrolment] = engine.enrolments(cid)
        assert enrolment.entered_at == until
