"""simulation.replay and simulation.backtest called directly (the CLI tests
reach them through `demo`, `simulate` and `backtest`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from journeyflow.definition.loader import load_text
from journeyflow.reports.funnel import funnel
from journeyflow.runtime.segments import SegmentSchedule
from journeyflow.simulation.backtest import backtest
from journeyflow.simulation.replay import DEFAULT_START, _chunks, clock_start, event_times, play
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, track
from tests.journeys import TRIAL


def test_the_clock_starts_at_the_earliest_readable_event() -> None:
    events: list[Any] = [
        track("a", "x", "2026-03-02T10:00:00Z"),
        track("b", "x", "2026-03-01T10:00:00+02:00"),
        {"type": "track", "timestamp": "not a time"},
        {"type": "<line 4 is not JSON>"},
        "not an event",
    ]
    assert event_times(events) == [at("2026-03-02T10:00:00Z"), at("2026-03-01T08:00:00Z")]
    assert clock_start(events) == at("2026-03-01T08:00:00Z")


def test_without_a_readable_event_the_clock_starts_at_the_fallback() -> None:
    assert clock_start([]) == DEFAULT_START == at("2026-01-01T00:00:00Z")
    assert clock_start([{"timestamp": "soon"}], at("2026-05-01T00:00:00Z")) == at(
        "2026-05-01T00:00:00Z"
    )


def test_batches_are_cut_at_their_size_and_at_the_schedule() -> None:
    events = [track(f"c{n}", "x", f"2026-01-0{n + 1}T00:00:00Z") for n in range(5)]
    plain = [(len(c), until) for c, until in _chunks(events, None, 2)]
    assert plain == [
        (2, at("2026-01-02T00:00:00Z")),
        (2, at("2026-01-04T00:00:00Z")),
        (1, at("2026-01-05T00:00:00Z")),
    ]

    class Due:  # a schedule whose next run falls between the 3rd and 4th event
        next_at = at("2026-01-03T12:00:00Z")

    chunk, until = next(_chunks(events, cast(SegmentSchedule, Due()), 10))
    assert (len(chunk), until) == (3, at("2026-01-03T12:00:00Z"))  # the clock stops at the run


def test_play_fires_timers_between_batches_and_runs_to_the_end(
    journeyflow_engine: EngineFactory,
) -> None:
    engine = journeyflow_engine(TRIAL)
    events = [
        track("a", "signed_up", "2026-01-01T09:00:00Z"),
        track("b", "signed_up", "2026-01-05T09:00:00Z"),
        track("a", "paid", "2026-01-09T09:00:00Z"),  # a was reminded on day 8
    ]
    sizes: list[int] = []
    play(engine, events, at("2026-02-01T00:00:00Z"), on_batch=sizes.append, batch_size=1)
    assert sizes == [1, 1, 1]
    assert engine.clock.now() == at("2026-02-01T00:00:00Z")
    states = {e.customer_id: e.state for e in engine.enrolments()}
    assert states == {"a": "customer", "b": "lapsed"}
    assert [f.template for f in engine.effects("a")] == ["hello", "nudge", "thanks"]


def test_backtest_runs_the_draft_alone_up_to_until() -> None:
    events = [
        track("a", "signed_up", "2026-01-01T09:00:00Z"),
        track("b", "signed_up", "2026-01-02T09:00:00Z"),
        track("a", "paid", "2026-01-03T09:00:00Z"),
    ]
    draft = load_text(TRIAL, "trial.yaml")
    last = backtest(draft, events)
    assert last.clock.now() == at("2026-01-03T09:00:00Z")  # default: the last event
    assert funnel(last, "trial").standing == {"welcome": 1}
    later = backtest(draft, events, at("2026-01-03T09:00:00Z") + timedelta(days=30))
    assert funnel(later, "trial").visits == {
        "welcome": 2,
        "customer": 1,
        "reminded": 1,
        "lapsed": 1,
    }
    assert backtest(draft, []).clock.now() == DEFAULT_START
