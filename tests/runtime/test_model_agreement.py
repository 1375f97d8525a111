"""The engine agrees with a small model of the contract, and the stores agree.

(a) engine + MemoryStore == the reference model (tests/runtime/model/reference.py);
(b) engine + SQLite file (small batches) == engine + MemoryStore;
(c) re-ingesting the same events into the SQLite store changes nothing.

Random valid journeys (YAML text through the real loader) and random timelines
come from tests/runtime/model/strategies.py. Run longer with
`JOURNEYFLOW_MODEL_EXAMPLES=2000 pytest tests/runtime/test_model_agreement.py`.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, assume, given, note, settings

from journeyflow.clock import VirtualClock
from journeyflow.definition.loader import load_text
from journeyflow.runtime.engine import Engine
from journeyflow.store import MemoryStore
from journeyflow.store.sql import SqlStore
from tests.journeys import KEYED_SHARED_EVENT
from tests.runtime.model.reference import (
    AdvanceTo,
    Identify,
    Model,
    Runaway,
    Segments,
    Step,
    Track,
)
from tests.runtime.model.strategies import START, Scenario, scenarios


def _examples(default: int) -> int:
    scale = os.environ.get("JOURNEYFLOW_MODEL_EXAMPLES")
    return int(scale) if scale else default


# No `derandomize`: every run explores new examples; failures are replayed from the
# local example database (.hypothesis/) and printed with @reproduce_failure.
def model_settings(examples: int) -> Any:
    return settings(
        max_examples=_examples(examples),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        print_blob=True,
    )


@pytest.fixture(autouse=True, scope="module")
def _quiet_engine_log() -> Any:
    """Random journeys make many CEL run-time errors on purpose: do not format them."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(50))
    yield
    structlog.configure(**saved)


# --- running the engine --------------------------------------------------------------------


def run_engine(
    scenario: Scenario, store: Any, batch_size: int = 1000, twice: bool = False
) -> Engine:
    """Feed the timeline: consecutive events go in one `ingest` call (so batches
    split), `AdvanceTo` moves the virtual clock. `twice`: every ingest is repeated."""
    # built here, not with the journeyflow_engine fixture: the @given tests run many
    # examples in one test call, and Hypothesis refuses function-scoped fixtures
    engine = Engine(
        journeys=scenario.journeys, store=store, clock=VirtualClock(START), batch_size=batch_size
    )
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if pending:
            report = engine.ingest(list(pending))
            assert not report.rejected, report.rejected
            if twice:
                again = engine.ingest(list(pending))
                assert again.accepted == 0 and again.duplicates == len(pending)
            pending.clear()

    for step in scenario.timeline:
        if isinstance(step, AdvanceTo):
            flush()
            engine.advance_to(step.at)
        elif isinstance(step, Segments):
            flush()
            engine.set_segments(step.customer, step.segments, step.at)
        else:
            pending.append(step.to_raw())
    flush()
    return engine


def _reason(reason: str | None) -> str | None:
    if reason is not None and reason.startswith("final:"):
        return "final"
    return reason


def _cause(cause: str) -> str:
    if cause.startswith("timer:"):
        return "timer"
    if cause.startswith("final:"):
        return "final"
    return cause


def _ref_key(ref: tuple[str, str | None, int]) -> tuple[str, str, int]:
    return (ref[0], ref[1] or "", ref[2])


def _trigger(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored trigger as the model holds it: its timestamp a datetime."""
    if stored is None:
        return None
    return {**stored, "timestamp": datetime.fromisoformat(stored["timestamp"])}


def customers_of(timeline: list[Step]) -> list[str]:
    return sorted({s.customer for s in timeline if not isinstance(s, AdvanceTo)})


def engine_view(engine: Engine, customers: list[str]) -> dict[str, dict[str, Any]]:
    """What the model reports, read from the engine through its public API."""
    view: dict[str, dict[str, Any]] = {}
    for cid in customers:
        enrolments = engine.enrolments(cid)
        ref = {e.id: (e.journey, e.key, e.ordinal) for e in enrolments}
        record = engine.customer(cid)
        history, errors = [], []
        for h in engine.history(cid):
            if h.kind == "error":
                errors.append((*ref[h.enrolment_id], h.from_state, h.at))
                continue
            kind = "internal" if h.kind == "transition" and h.detail == "internal" else h.kind
            history.append(
                (*ref[h.enrolment_id], kind, h.from_state, h.to_state, _cause(h.cause), h.at)
            )
        view[cid] = {
            "attributes": record.attributes if record else {},
            "segments": sorted(record.segments) if record else [],
            "enrolments": sorted(
                (
                    (
                        e.journey,
                        e.key or "",
                        e.ordinal,
                        e.state,
                        e.status,
                        e.in_holdout,
                        e.entered_at,
                        e.started_at,
                        e.ended_at,
                        _reason(e.end_reason),
                        sorted(e.timers),
                        _trigger(e.trigger),
                        e.vars,
                        e.visits,
                    )
                    for e in enrolments
                ),
                key=lambda t: t[:3],
            ),
            "history": history,
            # the outbox orders by time, then enrolment, then (transition, action): the
            # order of sends is kept within an enrolment, not across enrolments
            "effects": [
                (*ref[f.enrolment_id], f.channel, f.template, f.data, f.status, f.created_at)
                for f in sorted(
                    engine.effects(cid),
                    key=lambda f: (f.created_at, *_ref_key(ref[f.enrolment_id]), f.seq, f.action),
                )
            ],
            "errors": errors,
        }
    return view


def model_view(model: Model, customers: list[str]) -> dict[str, dict[str, Any]]:
    view: dict[str, dict[str, Any]] = {}
    for cid in customers:
        out = model.outcomes[cid]
        view[cid] = {
            "attributes": out.attributes,
            "segments": out.segments,
            "enrolments": sorted(
                (
                    (
                        e.journey,
                        e.key or "",
                        e.ordinal,
                        e.state,
                        e.status,
                        e.in_holdout,
                        e.entered_at,
                        e.started_at,
                        e.ended_at,
                        e.end_reason,
                        sorted(e.timers),
                        e.trigger,
                        e.vars,
                        e.visits,
                    )
                    for e in out.enrolments
                ),
                key=lambda t: t[:3],
            ),
            "history": out.history,
            "effects": sorted(out.effects, key=lambda f: (f[-1], *_ref_key(f[:3]))),
            "errors": out.errors,
        }
    return view


# a customer with more history rows than this is in a loop the engine bounds with
# limits the model does not describe (reference.Runaway): such scenarios are left out
MAX_ROWS = 2000


def run_model(scenario: Scenario) -> Model:
    model = Model([j.journey for j in scenario.journeys], max_rows=MAX_ROWS)
    try:
        model.run(scenario.timeline)
    except Runaway:
        assume(False)
    return model


def assert_same(got: dict[str, Any], want: dict[str, Any], what: str) -> None:
    for cid in want:
        for part in ("enrolments", "history", "effects", "attributes", "segments", "errors"):
            assert got[cid][part] == want[cid][part], f"{what}: {cid} {part} differ"


def assert_engine_agrees_with_model(scenario: Scenario) -> None:
    note(scenario.describe())
    model = run_model(scenario)
    engine = run_engine(scenario, MemoryStore())
    customers = customers_of(scenario.timeline)
    assert_same(engine_view(engine, customers), model_view(model, customers), "engine vs model")


# --- (a) engine == model -----------------------------------------------------------------


@model_settings(150)
@given(scenarios())
def test_engine_agrees_with_model(scenario: Scenario) -> None:
    assert_engine_agrees_with_model(scenario)


@model_settings(150)
@given(scenarios(timers=True))
def test_engine_agrees_with_model_on_timers_and_time_zones(scenario: Scenario) -> None:
    """Mostly timers, mostly `at:` (computed on entry in the customer's zone: a
    `timezone` trait, else the journey's, across DST changes), one already past."""
    assert_engine_agrees_with_model(scenario)


# --- (b) SQLite file == memory ---------------------------------------------------------------


def sql_view(engine: Engine, customers: list[str]) -> dict[str, Any]:
    """Everything the stores hold, in an order both stores must agree on."""
    return {
        "enrolments": sorted(
            (
                e.id,
                e.journey,
                e.version,
                e.key,
                e.ordinal,
                e.state,
                e.entered_at,
                e.started_at,
                e.status,
                e.ended_at,
                e.end_reason,
                e.in_holdout,
                e.seq,
                sorted(e.timers),
                repr(e.trigger),
                repr(sorted(e.vars.items())),
                repr(sorted(e.visits.items())),
            )
            for e in engine.enrolments()
        ),
        "history": {
            cid: [
                (h.enrolment_id, h.seq, h.kind, h.from_state, h.to_state, h.cause, h.at, h.detail)
                for h in engine.history(cid)
            ]
            for cid in customers
        },
        "effects": sorted(
            (
                f.key,
                f.channel,
                f.customer_id,
                f.journey,
                f.version,
                f.enrolment_id,
                f.created_at,
                f.template,
                repr(sorted(f.data.items())),
                f.status,
                f.attempts,
            )
            for f in engine.effects()
        ),
        "customers": {
            cid: (c.attributes, c.segments) if (c := engine.customer(cid)) else None
            for cid in customers
        },
        "events": engine.store.count_events(),
    }


@model_settings(40)
@given(scenarios(max_steps=15))
def test_sqlite_agrees_with_memory(scenario: Scenario) -> None:
    note(scenario.describe())
    customers = customers_of(scenario.timeline)
    memory = sql_view(run_engine(scenario, MemoryStore()), customers)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{tmp}/x.db")
        try:
            sql = run_engine(scenario, store, batch_size=2)
            assert sql_view(sql, customers) == memory
        finally:
            store.close()


# --- (c) idempotent ingest -------------------------------------------------------------------


@model_settings(25)
@given(scenarios(max_steps=15))
def test_reingest_into_sqlite_changes_nothing(scenario: Scenario) -> None:
    note(scenario.describe())
    customers = customers_of(scenario.timeline)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{tmp}/x.db")
        try:
            # every batch ingested twice in a row: the second time is all duplicates
            engine = run_engine(scenario, store, batch_size=3, twice=True)
            before = sql_view(engine, customers)
            # and the whole stream once more at the end
            raws = [s.to_raw() for s in scenario.timeline if isinstance(s, Track | Identify)]
            report = engine.ingest(raws)
            assert report.accepted == 0 and report.duplicates == len(raws)
            assert sql_view(engine, customers) == before
        finally:
            store.close()
        assert before == sql_view(run_engine(scenario, MemoryStore()), customers)


# --- disagreements the properties found, shrunk by hand -----------------------------------
#
# Each was an engine bug when found (fixed in 240250a and 323b932); each test states the
# contract's behaviour (the model's) on a minimal example and stays as a regression test.

T0 = START


def track(
    name: str, at: datetime = T0, mid: str = "m1", customer: str = "c1", **properties: Any
) -> Track:
    return Track(customer, name, at, properties, mid)


def agree(
    texts: list[str], timeline: list[Step], store: Any = None, batch_size: int = 1000
) -> None:
    scenario = Scenario([], [load_text(t) for t in texts], timeline)
    model = run_model(scenario)
    engine = run_engine(scenario, store if store is not None else MemoryStore(), batch_size)
    customers = customers_of(timeline)
    assert_same(engine_view(engine, customers), model_view(model, customers), "engine vs model")


def test_split_actions_run() -> None:
    agree(
        [
            """
journey: j
version: 1
entry: {on: [buy]}
initial: pick
states:
  pick:
    transitions:
      - split: [{to: done, weight: 100}]
        actions: [{send: email, template: hello}]
  done: {final: true}
"""
        ],
        [track("buy")],
    )


def test_event_after_a_long_gap_fires_every_earlier_timer() -> None:
    agree(
        [
            """
journey: j
version: 1
entry: {on: [buy]}
initial: tick
states:
  tick:
    transitions:
      - after: 1h
        to: tick
      - on: stop
        to: done
  done: {final: true}
"""
        ],
        [track("buy"), track("stop", T0 + timedelta(days=60), "m2")],
    )


def test_same_instant_timers_go_in_journey_id_order() -> None:
    text = """
journey: a
version: 1
entry: {on: [buy]}
initial: w
states:
  w:
    transitions:
      - after: 1d
        to: done
        actions: [{set: {last: a}}]
  done: {final: true}
"""
    agree(
        [text, text.replace("journey: a", "journey: a-b").replace("last: a", "last: a-b")],
        [track("buy"), AdvanceTo(T0 + timedelta(days=2))],
    )


def test_same_instant_timers_of_keyed_enrolments_go_oldest_first() -> None:
    agree(
        [
            """
journey: k
version: 1
entry: {on: [buy], key: 'event.properties.n'}
initial: w
states:
  w:
    transitions:
      - after: 1d
        to: done
  done: {final: true}
"""
        ],
        [
            track("buy", mid="m1", n=2),
            track("buy", mid="m2", n=1),
            AdvanceTo(T0 + timedelta(days=2)),
        ],
    )


# two orders enrolled at the same instant (2 first), order 2 moves on, then an event
# without a key reaches both: the older enrolment (order 2) moves first, so `last` is w
KEYED_TIMELINE: list[Step] = [
    track("buy", mid="m1", n=2),
    track("buy", mid="m2", n=1),
    track("go", mid="m3", n=2),
    track("visit", mid="m4"),
]


def test_keyed_enrolments_move_oldest_first_in_memory() -> None:
    agree([KEYED_SHARED_EVENT], KEYED_TIMELINE)


def test_keyed_enrolments_move_oldest_first_in_sqlite() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlStore(f"sqlite:///{tmp}/x.db")
        try:
            agree([KEYED_SHARED_EVENT], KEYED_TIMELINE, store, batch_size=1)
        finally:
            store.close()


# --- the strategies reach what they are meant to -----------------------------------------


def test_strategies_reach_the_contract() -> None:
    """Most scenarios enrol someone, many fire a timer, many retry an event (a repeated
    messageId must be ignored): otherwise the properties above pass on scenarios where
    nothing happens. Floors well under the shares `python -m tests.runtime.model.reach`
    prints (for 500 scenarios each; docs/mutation-testing.md), on a fixed sample."""
    from tests.runtime.model.reach import draw, shares

    for make in (lambda: scenarios(), lambda: scenarios(timers=True)):
        got = shares(draw(make, 60, 0))
        assert got.get("enrols someone", 0) >= 0.6, got
        assert got.get("fires a timer", 0) >= 0.25, got
        assert got.get("repeats a messageId", 0) >= 0.15, got
        # journey language v1.1: the enrolment context and conditional actions
        assert got.get("sets enrolment.vars", 0) >= 0.1, got
        assert got.get("an action's when: is true", 0) >= 0.1, got
        assert got.get("an action's when: is false", 0) >= 0.1, got
        assert got.get("reads trigger.properties in a timer (no event)", 0) >= 0.05, got
        assert got.get("enters a state again (state.visits > 1)", 0) >= 0.15, got
