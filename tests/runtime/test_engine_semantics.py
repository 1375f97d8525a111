"""The contract's meanings, one example each, through the Python API."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from journeyflow.definition.dsl import Journey
from journeyflow.definition.loader import LoadedJourney, load_text
from journeyflow.exceptions import JourneyDefinitionError, JourneyVersionError
from journeyflow.runtime.semantics import Notification
from journeyflow.store import MemoryStore
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, identify, sent, state_of, track
from tests.journeys import GUARDED, KEYED, REACTIVATION, SPLIT


def test_timer_fires_at_its_due_time_and_an_event_resets_it(
    journeyflow_engine: EngineFactory,
) -> None:
    engine = journeyflow_engine(REACTIVATION)
    engine.ingest([track("c1", "order_completed", "2026-01-01T10:00:00Z", total=10)])
    engine.advance_to(at("2026-04-30T00:00:00Z"))  # day 119
    assert state_of(engine, "c1") == ("active", "active")
    engine.ingest([track("c1", "order_completed", "2026-04-30T00:00:00Z", total=10)])
    engine.advance_to(at("2026-08-27T00:00:00Z"))  # 119 days after the second order
    assert state_of(engine, "c1") == ("active", "active")
    engine.advance_to(at("2026-08-28T00:00:01Z"))
    assert state_of(engine, "c1") == ("inactivating", "active")
    moved = [h for h in engine.history("c1") if h.to_state == "inactivating"]
    assert [h.at for h in moved] == [at("2026-08-28T00:00:00Z")]  # due time, not clock time
    assert sent(engine, "c1") == ["email/thanks", "email/thanks", "email/offer-120"]


def test_a_long_clock_jump_fires_a_chain_of_timers_at_their_own_times(
    journeyflow_engine: EngineFactory,
) -> None:
    engine = journeyflow_engine(REACTIVATION)
    engine.ingest([track("c1", "order_completed", "2026-01-01T00:00:00Z", total=1)])
    engine.advance_to(at("2027-01-01T00:00:00Z"))
    times = [(h.to_state, h.at) for h in engine.history("c1") if h.kind == "transition"]
    assert times == [
        ("inactivating", at("2026-05-01T00:00:00Z")),
        ("gone", at("2026-06-30T00:00:00Z")),
    ]
    assert state_of(engine, "c1") == ("gone", "completed")


def test_exit_rules_run_before_transitions_and_goal_converts(
    journeyflow_engine: EngineFactory,
) -> None:
    engine = journeyflow_engine(REACTIVATION)
    engine.ingest(
        [
            track("c1", "order_completed", "2026-01-01T00:00:00Z", total=10),
            track("c1", "order_completed", "2026-01-02T00:00:00Z", total=150),
        ]
    )
    enrolments = engine.enrolments("c1")
    # the big order converts the first enrolment, then (after_exit) enrols afresh
    assert [(e.status, e.state) for e in enrolments] == [
        ("converted", "active"),
        ("active", "active"),
    ]
    assert sent(engine, "c1") == ["email/thanks", "email/thanks"]


def test_the_enrolling_event_is_not_applied_again(journeyflow_engine: EngineFactory) -> None:
    engine = journeyflow_engine(REACTIVATION)
    engine.ingest([track("c1", "order_completed", "2026-01-01T00:00:00Z", total=10)])
    assert [h.kind for h in engine.history("c1")] == ["enter"]


@pytest.mark.parametrize(
    ("reentry", "expected"),
    [
        ("never", [("exited", "a")]),
        ("after_exit", [("exited", "a"), ("active", "a")]),
        ("always", [("exited", "a"), ("active", "a")]),
    ],
)
def test_reentry_rules(
    reentry: str, expected: list[tuple[str, str]], journeyflow_engine: EngineFactory
) -> None:
    journey = f"""
journey: re
version: 1
entry: {{on: [go], reentry: {reentry}}}
initial: a
states:
  a:
    transitions: [{{on: next, to: b}}]
  b: {{final: true}}
exit: [{{on: stop}}]
"""
    engine = journeyflow_engine(journey)
    engine.ingest(
        [
            track("c", "go", "2026-01-01T00:00:00Z"),
            track("c", "stop", "2026-01-02T00:00:00Z"),
            track("c", "go", "2026-01-03T00:00:00Z"),
        ]
    )
    assert [(e.status, e.state) for e in engine.enrolments("c")] == expected


def test_always_reentry_ends_the_active_enrolment(journeyflow_engine: EngineFactory) -> None:
    journey = """
journey: re
version: 1
entry: {on: [go], reentry: always}
initial: a
states:
  a:
    transitions: [{on: next, to: b}]
  b: {final: true}
"""
    engine = journeyflow_engine(journey)
    engine.ingest(
        [track("c", "go", "2026-01-01T00:00:00Z"), track("c", "go", "2026-01-02T00:00:00Z")]
    )
    first, second = engine.enrolments("c")
    assert (first.status, first.end_reason) == ("exited", "re-entry")
    assert second.active and second.ordinal == 2


def test_keyed_enrolments_run_once_per_order(journeyflow_engine: EngineFactory) -> None:
    engine = journeyflow_engine(KEYED)
    engine.ingest(
        [
            track("c", "order_completed", "2026-01-01T00:00:00Z", order_id="o1"),
            track("c", "order_completed", "2026-01-02T00:00:00Z", order_id="o2"),
            track("c", "order_completed", "2026-01-02T00:00:00Z", order_id="o1"),
        ]
    )
    assert [(e.key, e.state) for e in engine.enrolments("c")] == [("o1", "video"), ("o2", "video")]
    engine.advance_to(at("2026-01-03T12:00:00Z"))
    # an event naming one order reaches only that order's enrolment
    engine.ingest([track("c", "review_written", "2026-01-04T01:00:00Z", order_id="o2")])
    assert {e.key: e.state for e in engine.enrolments("c")} == {"o1": "nps", "o2": "done"}
    # an event without the key reaches every active enrolment, and enrols nobody
    engine.ingest([track("c", "review_written", "2026-01-05T00:00:00Z")])
    assert {e.key: e.status for e in engine.enrolments("c")} == {
        "o1": "completed",
        "o2": "completed",
    }
    assert sent(engine, "c").count("email/video") == 2


def test_split_is_fixed_per_customer_and_holdout_gets_nothing(
    journeyflow_engine: EngineFactory,
) -> None:
    events = [track(f"c{i}", "go", "2026-01-01T00:00:00Z") for i in range(400)]
    first, second = journeyflow_engine(SPLIT), journeyflow_engine(SPLIT)
    first.ingest(events)
    second.ingest([dict(e, messageId=e["messageId"] + "x") for e in reversed(events)])
    branch = {e.customer_id: e.state for e in first.enrolments()}
    assert branch == {e.customer_id: e.state for e in second.enrolments()}
    counts = {s: list(branch.values()).count(s) for s in ("a", "b")}
    assert 150 < counts["a"] < 250 and counts["a"] + counts["b"] == 400
    held = [e for e in first.enrolments() if e.in_holdout]
    assert 40 < len(held) < 120  # ~20%
    for enrolment in held:  # held-out customers move like the others, but nothing is sent
        assert sent(first, enrolment.customer_id) == []
        assert {f.status for f in first.effects(enrolment.customer_id)} == {"suppressed"}
    other = next(e for e in first.enrolments() if not e.in_holdout)
    assert sent(first, other.customer_id) == [f"email/offer-{other.state}"]


def test_internal_transition_keeps_timers_and_self_transition_restarts_them(
    journeyflow_engine: EngineFactory,
) -> None:
    journey = """
journey: t
version: 1
entry: {on: [go]}
initial: wait
states:
  wait:
    transitions:
      - {on: ping, to: wait, internal: true, actions: [{set: {pinged: true}}]}
      - {on: poke, to: wait}
      - {after: 10d, to: done}
  done: {final: true}
"""
    engine = journeyflow_engine(journey)
    engine.ingest(
        [track("c", "go", "2026-01-01T00:00:00Z"), track("c", "ping", "2026-01-05T00:00:00Z")]
    )
    engine.advance_to(at("2026-01-11T00:00:00Z"))
    assert state_of(engine, "c") == ("done", "completed")
    customer = engine.customer("c")
    assert customer is not None and customer.attributes["pinged"] is True

    engine = journeyflow_engine(journey)
    engine.ingest(
        [track("c", "go", "2026-01-01T00:00:00Z"), track("c", "poke", "2026-01-05T00:00:00Z")]
    )
    engine.advance_to(at("2026-01-11T00:00:00Z"))
    assert state_of(engine, "c") == ("wait", "active")
    engine.advance_to(at("2026-01-15T00:00:00Z"))
    assert state_of(engine, "c") == ("done", "completed")


def test_guard_errors_count_as_false_and_are_written_to_history(
    journeyflow_engine: EngineFactory,
) -> None:
    journey = """
journey: g
version: 1
entry: {on: [go]}
initial: a
states:
  a:
    transitions:
      - {on: buy, to: big, when: 'event.properties.total > 100'}
      - {on: buy, to: small}
  big: {final: true}
  small: {final: true}
"""
    engine = journeyflow_engine(journey)
    engine.ingest(
        [track("c", "go", "2026-01-01T00:00:00Z"), track("c", "buy", "2026-01-02T00:00:00Z")]
    )  # no `total`
    assert state_of(engine, "c") == ("small", "completed")
    errors = [h for h in engine.history("c") if h.kind == "error"]
    assert len(errors) == 1 and "total" in (errors[0].detail or "")


def test_emits_reach_other_journeys_at_the_same_time_and_loops_are_cut(
    journeyflow_engine: EngineFactory,
) -> None:
    ping = """
journey: ping
version: 1
entry: {on: [go, pong]}
initial: a
states:
  a:
    on_enter: [{emit: ping}]
    transitions: [{on: pong, to: a}]
"""
    pong = """
journey: pong
version: 1
entry: {on: [ping], reentry: always}
initial: b
states:
  b:
    on_enter: [{emit: pong}, {send: console, template: hit}]
    transitions: [{after: 1d, to: end}]
  end: {final: true}
"""
    engine = journeyflow_engine(ping, pong)
    engine.ingest([track("c", "go", "2026-01-01T00:00:00Z")])
    history = engine.history("c")
    assert {h.at for h in history if h.kind != "error"} == {at("2026-01-01T00:00:00Z")}
    assert any(h.kind == "error" and "cut off" in (h.detail or "") for h in history)
    assert 1 <= len(sent(engine, "c")) <= 8


def test_identify_traits_apply_before_entry_and_at_timers_use_the_customer_zone(
    journeyflow_engine: EngineFactory,
) -> None:
    journey = """
journey: bday
version: 1
entry: {on: [identify], when: 'has(customer.birthday)'}
initial: wait
states:
  wait:
    transitions:
      - {at: 'local_time(next_anniversary(customer.birthday), "09:00")', to: greet}
  greet:
    on_enter: [{send: email, template: happy-birthday}]
    final: true
"""
    engine = journeyflow_engine(journey)
    engine.ingest(
        [identify("c", "2026-03-01T00:00:00Z", birthday="1990-03-20", timezone="Europe/Kyiv")]
    )
    engine.advance_to(at("2026-03-20T06:59:00Z"))  # 08:59 in Kyiv (UTC+2 before DST)
    assert state_of(engine, "c") == ("wait", "active")
    engine.advance_to(at("2026-03-20T07:00:00Z"))
    assert state_of(engine, "c") == ("greet", "completed")


def test_a_changed_journey_without_a_version_bump_is_refused(
    journeyflow_engine: EngineFactory,
) -> None:
    store = MemoryStore()
    journeyflow_engine(REACTIVATION, store=store)
    changed = REACTIVATION.replace("120d", "90d")
    with pytest.raises(JourneyVersionError, match="without a version bump") as info:
        journeyflow_engine(changed, store=store)
    assert "stored content" in str(info.value)
    journeyflow_engine(changed.replace("version: 1", "version: 2"), store=store)  # a bump is fine


def test_in_flight_customers_stay_on_their_version(journeyflow_engine: EngineFactory) -> None:
    store = MemoryStore()
    v1 = journeyflow_engine(REACTIVATION, store=store)
    v1.ingest([track("old", "order_completed", "2026-01-01T00:00:00Z", total=1)])
    v2_text = REACTIVATION.replace("version: 1", "version: 2").replace("120d", "30d")
    v2 = journeyflow_engine(v2_text, store=store, start=v1.clock.now())
    v2.ingest([track("new", "order_completed", "2026-01-01T00:00:00Z", total=1)])
    v2.advance_to(at("2026-02-15T00:00:00Z"))
    assert state_of(v2, "old") == ("active", "active")  # v1's 120 days still apply
    assert state_of(v2, "new") == ("inactivating", "active")
    assert {e.customer_id: e.version for e in v2.enrolments()} == {"old": 1, "new": 2}


def test_bad_events_are_rejected_with_a_reason_and_the_rest_applied(
    journeyflow_engine: EngineFactory,
) -> None:
    engine = journeyflow_engine(REACTIVATION)
    report = engine.ingest(
        [
            {"type": "track", "event": "order_completed"},  # no user
            {"type": "page", "userId": "c"},
            "not an object",
            {"type": "track", "userId": "c", "event": "order_completed", "timestamp": "yesterday"},
            track("c", "order_completed", "2026-01-01T00:00:00Z", total=1),
        ]
    )
    assert report.accepted == 1
    reasons = [r.reason for r in report.rejected]
    assert [r.index for r in report.rejected] == [0, 1, 2, 3]
    assert "userId" in reasons[0] and "'page'" in reasons[1]
    assert "JSON object" in reasons[2] and "ISO-8601" in reasons[3]


def test_a_repeated_message_id_is_ignored(journeyflow_engine: EngineFactory) -> None:
    engine = journeyflow_engine(REACTIVATION)
    event = track("c", "order_completed", "2026-01-01T00:00:00Z", total=1)
    assert engine.ingest([event, event]).duplicates == 1
    assert engine.ingest([event]).duplicates == 1
    assert len(engine.history("c")) == 1


def test_an_at_timer_already_past_on_entry_fires_at_the_entry_moment(
    journeyflow_engine: EngineFactory,
) -> None:
    journey = """
journey: late
version: 1
entry: {on: [booked]}
initial: booked
states:
  booked:
    transitions:
      - {at: 'timestamp(event.properties.visit) - duration("24h")', to: reminded}
  reminded:
    on_enter: [{send: email, template: reminder}]
    final: true
"""
    engine = journeyflow_engine(journey)
    engine.ingest([track("c", "booked", "2026-01-01T14:01:00Z", visit="2026-01-02T13:00:00Z")])
    (effect,) = engine.effects("c")
    assert effect.created_at == at("2026-01-01T14:01:00Z")  # not 13:00, before the booking
    assert state_of(engine, "c") == ("reminded", "completed")


def test_a_zero_delay_timer_loop_is_cut_and_time_moves_on(
    journeyflow_engine: EngineFactory,
) -> None:
    journey = """
journey: loop
version: 1
entry: {on: [go]}
initial: a
states:
  a:
    transitions: [{after: 0m, to: b}, {on: stop, to: end}]
  b:
    transitions: [{after: 0m, to: a}, {on: stop, to: end}]
  end: {final: true}
"""
    engine = journeyflow_engine(journey)
    engine.ingest([track("c", "go", "2026-01-01T00:00:00Z")])
    engine.advance_to(at("2026-02-01T00:00:00Z"))  # returns: the loop does not stall time
    errors = [h for h in engine.history("c") if h.kind == "error"]
    assert len(errors) == 1 and "timer loop" in (errors[0].detail or "")
    engine.ingest([track("c", "stop", "2026-02-02T00:00:00Z")])
    assert state_of(engine, "c") == ("end", "completed")


def test_a_cycle_of_splits_stops_with_an_error_instead_of_crashing(
    journeyflow_engine: EngineFactory,
) -> None:
    journey = """
journey: spin
version: 1
entry: {on: [go]}
initial: a
states:
  a:
    transitions: [{split: [{to: b, weight: 100}]}]
  b:
    transitions: [{split: [{to: a, weight: 100}]}]
"""
    # `validate` refuses it (JF315); an engine handed such a journey anyway, past
    # the static checks, must still not spin or crash
    with pytest.raises(JourneyDefinitionError, match="JF315"):
        load_text(journey)
    parsed = Journey.model_validate(YAML(typ="safe").load(journey))
    engine = journeyflow_engine(LoadedJourney(parsed, journey, "<spin>"))
    report = engine.ingest(
        [track("c", "go", "2026-01-01T00:00:00Z"), track("d", "go", "2026-01-01T00:00:00Z")]
    )
    assert report.accepted == 2  # the batch was not lost
    for customer in ("c", "d"):
        errors = [h for h in engine.history(customer) if h.kind == "error"]
        assert len(errors) == 1 and "split cycle" in (errors[0].detail or "")


def test_listeners_hear_each_transition_taken_with_its_index_after_commit(
    journeyflow_engine: EngineFactory,
) -> None:
    heard: list[Notification] = []
    engine = journeyflow_engine(GUARDED)
    engine.listeners.append(heard.append)
    engine.ingest(
        [
            track("c1", "nps_asked", "2026-01-01T00:00:00Z"),
            track("c1", "nudge", "2026-01-01T01:00:00Z"),
            track("c1", "nps_answered", "2026-01-01T02:00:00Z", score=10),
            track("c2", "nps_asked", "2026-01-01T00:00:00Z"),
            track("c2", "nps_answered", "2026-01-01T02:00:00Z", score=3),
        ]
    )
    engine.advance_to(at("2026-01-03T00:00:00Z"))
    moves = [
        (n.history.customer_id, n.history.kind, n.history.from_state, n.transition_index)
        for n in heard
        if n.kind == "transition" and n.history is not None
    ]
    assert moves == [
        ("c1", "enter", None, None),
        ("c1", "transition", "asked", 2),  # internal: it stays, and is heard
        ("c1", "transition", "asked", 0),
        ("c2", "enter", None, None),
        ("c2", "transition", "asked", 1),  # the same event, the other transition
        ("c1", "transition", "promoter", 0),  # a timer
    ]
    ended = [
        (n.enrolment.customer_id, n.enrolment.state)
        for n in heard
        if n.enrolment and n.kind == "enrolment_ended"
    ]
    assert ended == [("c2", "detractor"), ("c1", "thanked")]
