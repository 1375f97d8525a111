"""Tests that kill mutants of `runtime/semantics.py` the rest of the suite let live
(docs/mutation-testing.md, the second run of issue #14).

Each test names the mutants it kills: the change to src/ that, applied by hand,
makes it fail. Most pin a bound at its edge (the timer-loop rule at exactly
1,000 firings a day), a row's fields (the `migrate` line, the `error` line of
a loop), or a value that is only ever "something" in the other tests (a null
entry key, `now` in an entry guard).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from journeyflow.runtime.engine import Engine
from journeyflow.runtime.migration import migrate
from journeyflow.runtime.semantics import (
    MAX_STEPS_PER_TIMERS,
    MAX_TIMERS_AT_ONCE,
    TIMER_LOOP_FIRINGS,
    TIMER_LOOP_SPAN,
)
from journeyflow.store import MemoryStore
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, track
from tests.journeys import LAPSE, LAPSE_V2

# --- the timer-loop rule (docs/semantics.md §13): 1,000 firings within a day ---------------

SELF_LOOP = """
journey: {name}
version: 1
entry: {{on: [buy]}}
initial: tick
states:
  tick:
    transitions: [{{after: '{period}', to: tick}}]
"""


def iso(period: timedelta) -> str:
    return f"PT{period.total_seconds()}S"


def errors(engine: Engine, customer: str) -> list[tuple[str, datetime, str | None]]:
    history = engine.history(customer)
    return [(h.journey, h.at, h.detail) for h in history if h.kind == "error"]


def test_a_timer_exactly_as_fast_as_the_loop_rule_allows_is_not_cut(
    journeyflow_engine: EngineFactory,
) -> None:
    """1,000 firings spaced so the 1,001st is exactly a day after the first is not a
    loop. Kills `due - times[0] <= SPAN` and `due - times[1] < SPAN` in `_looping`."""
    period = TIMER_LOOP_SPAN / TIMER_LOOP_FIRINGS  # 86.4 s
    engine = journeyflow_engine(SELF_LOOP.format(name="t", period=iso(period)))
    engine.ingest([track("c1", "buy", "2026-01-01T00:00:00Z")])
    fired = engine.advance_to(at("2026-01-03T00:00:00Z"))
    assert fired == 2 * TIMER_LOOP_FIRINGS
    assert errors(engine, "c1") == []


def test_a_timer_a_little_faster_is_cut_at_its_1001st_firing(
    journeyflow_engine: EngineFactory,
) -> None:
    """Kills `_looping`'s `due + times[0]` (a TypeError), `timers = None`, the note
    dropped or its reason None or changed: the cut is one `error` line, at the due
    time of the firing that would have been the 1,001st, and no timer fires after it."""
    period = timedelta(seconds=86)
    engine = journeyflow_engine(SELF_LOOP.format(name="t", period=iso(period)))
    engine.ingest([track("c1", "buy", "2026-01-01T00:00:00Z")])
    fired = engine.advance_to(at("2026-01-03T00:00:00Z"))
    assert fired == TIMER_LOOP_FIRINGS
    [(journey, when, detail)] = errors(engine, "c1")
    start = at("2026-01-01T00:00:00Z")
    assert journey == "t"
    assert when == start + (TIMER_LOOP_FIRINGS + 1) * period
    assert detail == (
        f"timer loop: its timers fired {TIMER_LOOP_FIRINGS} times since "
        f"{(start + period).isoformat()}; they were dropped, and the customer stays in "
        "'tick' until an event moves them (an `after:` that leads back round to itself "
        "needs a way out)"
    )
    [enrolment] = engine.enrolments("c1")
    assert (enrolment.state, enrolment.status, enrolment.timers) == ("tick", "active", [])


def test_two_enrolments_firing_are_counted_each_on_its_own(
    journeyflow_engine: EngineFactory,
) -> None:
    """Two journeys, each 864 firings a day: neither loops, though together they fire
    1,728 times a day. Kills `recent.setdefault(None, ...)` (one count for all)."""
    period = timedelta(seconds=100)
    engine = journeyflow_engine(
        SELF_LOOP.format(name="a", period=iso(period)),
        SELF_LOOP.format(name="b", period=iso(period)),
    )
    engine.ingest([track("c1", "buy", "2026-01-01T00:00:00Z")])
    assert engine.advance_to(at("2026-01-02T12:00:00Z")) == 2 * 1296
    assert errors(engine, "c1") == []


SLOW_THEN_FAST = """
journey: sf
version: 1
entry: {on: [buy]}
initial: slow
states:
  slow:
    transitions:
      - {after: 97s, to: slow}
      - {at: 'timestamp("2026-01-03T00:00:00Z")', to: fast}
  fast:
    transitions: [{after: 1m, to: fast}]
"""


def test_a_loop_after_a_long_slow_run_is_still_seen_in_the_same_turn(
    journeyflow_engine: EngineFactory,
) -> None:
    """Two days of a 97 s timer (never a loop: 1,000 firings take 27 hours), then one
    of a minute: the loop is seen within its first 1,000 firings, not after the
    turn's 10,000 steps. Kills `deque(maxlen=None)` (the window stops sliding)."""
    engine = journeyflow_engine(SLOW_THEN_FAST)
    engine.ingest([track("c1", "buy", "2026-01-01T00:00:00Z")])
    engine.advance_to(at("2026-01-10T00:00:00Z"))
    [(_, when, _)] = errors(engine, "c1")
    fast_from = at("2026-01-03T00:00:00Z")
    assert fast_from < when <= fast_from + TIMER_LOOP_FIRINGS * timedelta(minutes=1)


PING_PONG_AT_ONCE = """
journey: a
version: 1
entry: {on: [buy]}
initial: ping
states:
  ping: {transitions: [{after: 0s, to: pong}]}
  pong: {transitions: [{after: 0s, to: ping}]}
"""

WAITING = """
journey: b
version: 1
entry: {on: [buy]}
initial: w
states:
  w: {transitions: [{after: 1d, to: done}]}
  done: {final: true}
"""


def test_timers_at_one_instant_are_cut_only_where_they_loop(
    journeyflow_engine: EngineFactory,
) -> None:
    """More than 1,000 timers at one instant: the looping enrolment gets one `error`
    line at that instant and loses its timers; another enrolment of the customer,
    whose timer is later, gets no line and keeps it. Kills `_break_loop`'s `and`
    into `or`, its Step's time into None, and its reason's text."""
    engine = journeyflow_engine(PING_PONG_AT_ONCE, WAITING)
    engine.ingest([track("c1", "buy", "2026-01-01T00:00:00Z")])
    [(journey, when, detail)] = errors(engine, "c1")
    assert (journey, when) == ("a", at("2026-01-01T00:00:00Z"))
    assert detail == (
        f"more than {MAX_TIMERS_AT_ONCE} timers fired at one instant: "
        "a timer loop; its timers were dropped"
    )
    looping, waiting = engine.enrolments("c1")
    assert (looping.journey, looping.timers) == ("a", [])
    assert waiting.timers == [(0, at("2026-01-02T00:00:00Z"))]
    engine.advance_to(at("2026-01-02T00:00:00Z"))
    assert [(e.state, e.status) for e in engine.enrolments("c1", "b")] == [("done", "completed")]


# --- entry ----------------------------------------------------------------------------------

KEYED_BY_ORDER = """
journey: k
version: 1
entry: {on: [order], key: 'event.properties.order_id'}
initial: w
states:
  w: {transitions: [{on: paid, to: done}]}
  done: {final: true}
"""


def test_an_entry_key_that_is_null_enrols_nobody(journeyflow_engine: EngineFactory) -> None:
    """A key expression giving null is no key (docs/semantics.md §4): the event enrols
    nobody. Kills `None if value is None else str(value)` always taking `str` ("None")."""
    engine = journeyflow_engine(KEYED_BY_ORDER)
    engine.ingest(
        [
            track("c1", "order", "2026-01-01T00:00:00Z", order_id=None),
            track("c1", "order", "2026-01-01T01:00:00Z", order_id=7),
        ]
    )
    assert [(e.key, e.started_at) for e in engine.enrolments("c1")] == [
        ("7", at("2026-01-01T01:00:00Z"))
    ]


ENTRY_READS_NOW = """
journey: n
version: 1
entry: {on: [buy], when: 'now >= timestamp("2026-01-02T00:00:00Z")'}
initial: w
states:
  w: {transitions: [{on: stop, to: done}]}
  done: {final: true}
"""


def test_an_entry_guard_sees_now_as_the_events_time(journeyflow_engine: EngineFactory) -> None:
    """Kills `_entry_scope`'s `now` into None (the guard errors, counted as false)."""
    engine = journeyflow_engine(ENTRY_READS_NOW)
    engine.ingest(
        [
            track("c1", "buy", "2026-01-01T00:00:00Z"),
            track("c1", "buy", "2026-01-02T00:00:00Z"),
        ]
    )
    assert [e.started_at for e in engine.enrolments("c1")] == [at("2026-01-02T00:00:00Z")]
    assert errors(engine, "c1") == []


# --- migrations -----------------------------------------------------------------------------


def test_a_migration_writes_its_line_and_counts_a_step(journeyflow_engine: EngineFactory) -> None:
    """The `migrate` line: the next seq, from the old state to the new, at the time the
    state was entered, and the timers of the new state from then. Kills `seq += 1`
    into `= 1`, `-= 1`, `+= 2`, and the line's source or target into None."""
    store = MemoryStore()
    v1 = journeyflow_engine(LAPSE, store=store)
    v1.ingest([track("c1", "order_completed", "2026-01-01T00:00:00Z")])
    v1.ingest([track("c1", "browse", "2026-01-02T00:00:00Z")])
    v1.advance_to(at("2026-02-03T00:00:00Z"))  # browsing -> active (1d) -> lapsing (30d)
    [before] = v1.enrolments("c1")
    assert (before.state, before.seq) == ("lapsing", 3)
    v2 = journeyflow_engine(LAPSE_V2, store=store, start=v1.clock.now())
    assert migrate(v2, "lapse", dry_run=False).moved == 1
    [after] = v2.enrolments("c1")
    assert (after.version, after.state, after.seq) == (2, "inactivating", 4)
    assert after.timers == [(1, before.entered_at + timedelta(days=40))]
    last = v2.history("c1")[-1]
    assert (last.kind, last.seq, last.from_state, last.to_state, last.cause, last.at) == (
        "migrate",
        4,
        "lapsing",
        "inactivating",
        "migration:v1->v2",
        before.entered_at,
    )


# --- the text of history lines --------------------------------------------------------------

ENDINGS = """
journey: e
version: 1
entry: {on: [buy], reentry: always}
initial: w
states:
  w:
    transitions:
      - {on: finish, to: done}
  done: {final: true}
exit:
  - on: [won]
    goal: true
  - on: [lost]
"""


def test_the_line_that_ends_an_enrolment_says_how_it_ended(
    journeyflow_engine: EngineFactory,
) -> None:
    """The `complete`/`exit` line's detail is the enrolment's status: completed,
    converted, exited (and a re-entry exits). Kills `_end` writing the line's
    detail as None or leaving it out."""
    engine = journeyflow_engine(ENDINGS)
    engine.ingest(
        [
            track("c1", "buy", "2026-01-01T00:00:00Z"),
            track("c1", "finish", "2026-01-01T01:00:00Z"),
            track("c1", "buy", "2026-01-02T00:00:00Z"),
            track("c1", "won", "2026-01-02T01:00:00Z"),
            track("c1", "buy", "2026-01-03T00:00:00Z"),
            track("c1", "lost", "2026-01-03T01:00:00Z"),
            track("c1", "buy", "2026-01-04T00:00:00Z"),
            track("c1", "buy", "2026-01-04T01:00:00Z"),
        ]
    )
    ends = [(h.kind, h.cause, h.detail) for h in engine.history("c1") if h.to_state is None]
    assert ends == [
        ("complete", "final:done", "completed"),
        ("exit", "exit:won", "converted"),
        ("exit", "exit:lost", "exited"),
        ("exit", "re-entry", "exited"),
    ]


# --- the emit depth (docs/semantics.md §8) ---------------------------------------------------

ECHO_CHAIN = """
journey: echo
version: 1
entry: {on: [buy]}
initial: w
states:
  w:
    transitions:
      - on: ping
        to: w
        internal: true
        actions: [{emit: ping}]
"""


def test_a_chain_of_emits_goes_exactly_as_deep_as_the_limit(
    journeyflow_engine: EngineFactory,
) -> None:
    """With `max_emit_depth` 3, the outside `ping` (depth 0) and the emitted ones at
    depths 1, 2 and 3 each take the transition; the emit that would make depth 4 is
    cut, with one `error` line. Kills `depth + 1 > limit` into `>=`, `depth + 2`
    and `depth - 1`."""
    engine = journeyflow_engine(ECHO_CHAIN, max_emit_depth=3)
    engine.ingest(
        [track("c1", "buy", "2026-01-01T00:00:00Z"), track("c1", "ping", "2026-01-01T01:00:00Z")]
    )
    kinds = [h.kind for h in engine.history("c1")]
    assert kinds == ["enter", "transition", "transition", "transition", "transition", "error"]
    [(_, when, detail)] = errors(engine, "c1")
    assert when == at("2026-01-01T01:00:00Z")
    assert detail == "emit 'ping' cut off: chain deeper than 3"


# --- what an action writes ---------------------------------------------------------------------

TASK_AND_BAD_DATA = """
journey: salon
version: 1
entry: {on: [booked]}
initial: booked
states:
  booked:
    owner: front-desk
    on_enter:
      - task: {title: Prepare dresses, description: Two of them, due: 1d}
      - send: console
        template: confirmation
        data: {missing: '=customer.nothing_here', room: '=event.properties.room'}
    transitions: [{on: visited, to: done}]
  done: {final: true}
"""


def test_a_tasks_data_and_a_value_that_fails(journeyflow_engine: EngineFactory) -> None:
    """A task's effect carries title, owner (the state's), description, due and the
    state; a data value whose expression fails is left out, with an `error` line
    naming it, and the values after it are still set. Kills the task data's
    `description` and `state` keys renamed, `_values` noting its error without the
    step or the reason, and its `continue` into `break`."""
    engine = journeyflow_engine(TASK_AND_BAD_DATA)
    engine.ingest([track("c1", "booked", "2026-01-01T00:00:00Z", room=3)])
    task, send = engine.effects("c1")
    assert (task.channel, task.template) == ("task", None)
    assert task.data == {
        "title": "Prepare dresses",
        "owner": "front-desk",
        "description": "Two of them",
        "due": "1d",
        "state": "booked",
    }
    assert (send.channel, send.data) == ("console", {"room": 3})
    [(journey, when, detail)] = errors(engine, "c1")
    assert (journey, when) == ("salon", at("2026-01-01T00:00:00Z"))
    assert detail is not None and detail.startswith("missing: ")
    assert detail.endswith("; left unset")


# --- an emitted event at exactly the timer bound -------------------------------------------------

COUNTING = """
journey: count
version: 1
entry: {on: [buy]}
initial: a
states:
  a:
    transitions:
      - after: 100s
        to: b
        actions: [{set: {n: 0}}, {emit: noop}, {emit: noop}]
  b:
    transitions:
      - after: 100s
        to: b
        actions: [{set: {n: '=customer.n + 1'}}, {emit: tick, properties: {n: '=customer.n'}}]
"""

HEARS_TICK = """
journey: hears
version: 1
entry: {{on: [tick], when: 'event.properties.n == {n}'}}
initial: heard
states:
  heard: {{transitions: [{{on: never, to: done}}]}}
  done: {{final: true}}
"""


def test_an_event_emitted_when_the_timer_run_reaches_its_bound_is_still_applied(
    journeyflow_engine: EngineFactory,
) -> None:
    """a -> b takes 4 steps (timer, transition, two emits), each firing of b 3 (timer,
    transition, emit): after b's 3,332nd firing the run has taken exactly 10,000
    steps, with that firing's `tick` queued. The run pauses only after applying it.
    Kills `_drain`'s `steps > MAX_STEPS_PER_TIMERS` into `>=` (the queued event
    would be dropped without a word when the run pauses)."""
    k = (MAX_STEPS_PER_TIMERS - 4) // 3
    assert 4 + 3 * k == MAX_STEPS_PER_TIMERS
    engine = journeyflow_engine(COUNTING, HEARS_TICK.format(n=k))
    start = at("2026-01-01T00:00:00Z")
    engine.ingest([track("c1", "buy", start.isoformat())])
    engine.advance_to(start + timedelta(days=4))
    [heard] = engine.enrolments("c1", "hears")
    assert heard.started_at == start + (k + 1) * timedelta(seconds=100)
    assert errors(engine, "c1") == []
