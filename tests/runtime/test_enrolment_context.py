"""Journey language v1.1: the enrolment context (`trigger`, `enrolment.key`,
`enrolment.entered_at`, `enrolment.vars`, `state.visits`) and `when:` on every
action, on the memory store, a real SQLite file and (where it runs) PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from journeyflow.clock import VirtualClock
from journeyflow.definition.loader import load_text
from journeyflow.runtime.engine import Engine
from journeyflow.store import MemoryStore
from journeyflow.store.sql import SqlStore
from tests.helpers import at, identify, track

CART = """
journey: cart
version: 1
entry:
  on: [cart_updated]
  key: trigger.properties.cart_id
  reentry: after_exit
initial: browsing
states:
  browsing:
    on_enter:
      - vars: {total: '=trigger.properties.total'}
    transitions:
      - on: cart_updated
        to: browsing
        internal: true
        actions:
          - vars: {total: '=event.properties.total'}
      - after: 1h
        to: reminder
  reminder:
    on_enter:
      - send: email
        template: reminder
        data:
          cart: '=trigger.properties.cart_id'
          key: '=enrolment.key'
          total: '=enrolment.vars.total'
          visit: '=state.visits'
          since: '=enrolment.entered_at'
          first: '=trigger.timestamp'
          kind: '=trigger.type'
      - send: email
        template: coupon
        when: 'enrolment.vars.total > 50'
    transitions:
      - after: 1d
        to: reminder
        when: 'state.visits < 3'
      - after: 1d
        to: gave_up
  gave_up:
    final: true
exit:
  - on: order_completed
    when: 'event.properties.cart_id == enrolment.key'
    goal: true
"""

# every kind of action with a `when:`, true and false, and one that errors
GUARDED = """
journey: guarded
version: 1
entry: {on: [signed_up]}
initial: start
states:
  start:
    owner: crm
    on_enter:
      - {send: email, template: yes_send, when: 'trigger.properties.plan == "pro"'}
      - {send: email, template: no_send, when: 'trigger.properties.plan == "free"'}
      - {task: {title: Call}, when: 'customer.tier == 1'}
      - {task: {title: Visit}, when: 'customer.tier == 2'}
      - {set: {a: 1}, when: 'true'}
      - {set: {b: 1}, when: 'false'}
      - {vars: {c: 1}, when: 'true'}
      - {vars: {d: 1}, when: 'false'}
      - {emit: ping, when: 'has(enrolment.vars.c)'}
      - {emit: pong, when: 'has(enrolment.vars.d)'}
      - {send: sms, template: broken, when: 'customer.missing > 1'}
      - {send: email, template: last}
    transitions:
      - on: ping
        to: pinged
      - on: pong
        to: ponged
  pinged:
    on_enter:
      - send: email
        template: seen
        data: {vars: '=enrolment.vars', visits: '=state.visits'}
    transitions:
      - {after: 1d, to: start}
  ponged:
    final: true
"""

# back and forth between two states: visits count per state, over the whole life
BACK_AND_FORTH = """
journey: loop
version: 1
entry: {on: [go]}
initial: a
states:
  a:
    on_enter:
      - {send: email, template: a, data: {n: '=state.visits'}}
    transitions:
      - {on: go, to: b}
      - {on: stay, to: a, internal: true}
      - {on: again, to: a}
  b:
    on_enter:
      - {send: email, template: b, data: {n: '=state.visits'}}
    transitions:
      - {on: go, to: a}
"""


@pytest.fixture(autouse=True)
def _quiet_engine_log() -> Iterator[None]:
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(50))
    yield
    structlog.configure(**saved)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'context.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    sql = SqlStore(url)
    try:
        yield sql
    finally:
        sql.close()


def engine_for(store: Any, *texts: str, start: str = "2026-01-01T00:00:00Z") -> Engine:
    journeys = [load_text(text, f"<{i}>") for i, text in enumerate(texts)]
    return Engine(journeys=journeys, store=store, clock=VirtualClock(at(start)))


def sends(engine: Engine, customer: str) -> list[tuple[str | None, dict[str, Any]]]:
    return [(e.template, e.data) for e in engine.effects(customer) if e.channel != "task"]


def errors(engine: Engine, customer: str) -> list[str]:
    return [h.detail or "" for h in engine.history(customer) if h.kind == "error"]


def test_a_timer_entered_state_knows_its_cart(store: Any) -> None:
    engine = engine_for(store, CART)
    engine.ingest(
        [
            track("c1", "cart_updated", "2026-01-01T10:00:00Z", cart_id="A", total=80),
            track("c1", "cart_updated", "2026-01-01T10:10:00Z", cart_id="B", total=20),
        ]
    )
    engine.advance_to(at("2026-01-01T11:30:00Z"))
    got = sends(engine, "c1")
    assert [t for t, _ in got] == ["reminder", "coupon", "reminder"]
    first, _, second = (data for _, data in got)
    assert first == {
        "cart": "A",
        "key": "A",
        "total": 80,
        "visit": 1,
        "since": "2026-01-01T10:00:00+00:00",
        "first": "2026-01-01T10:00:00+00:00",
        "kind": "track",
    }
    assert (second["cart"], second["key"], second["total"]) == ("B", "B", 20)
    assert errors(engine, "c1") == []


def test_vars_follow_the_cart_and_decide_the_coupon(store: Any) -> None:
    """An internal transition updates `vars`; the coupon reads the cart's latest
    total, not the trigger's and not another cart's."""
    engine = engine_for(store, CART)
    engine.ingest(
        [
            track("c1", "cart_updated", "2026-01-01T10:00:00Z", cart_id="A", total=20),
            track("c1", "cart_updated", "2026-01-01T10:05:00Z", cart_id="B", total=90),
            track("c1", "cart_updated", "2026-01-01T10:20:00Z", cart_id="A", total=70),
            track("c1", "cart_updated", "2026-01-01T10:25:00Z", cart_id="B", total=10),
        ]
    )
    engine.advance_to(at("2026-01-01T11:30:00Z"))
    got = [(d["cart"], t, d.get("total")) for t, d in sends(engine, "c1") if t == "reminder"]
    assert got == [("A", "reminder", 70), ("B", "reminder", 10)]
    coupons = [e for e in engine.effects("c1") if e.template == "coupon"]
    (coupon,) = coupons
    assert coupon.enrolment_id == engine.enrolments("c1")[0].id  # cart A's enrolment


def test_visits_bound_a_reminder_loop(store: Any) -> None:
    engine = engine_for(store, CART)
    engine.ingest([track("c1", "cart_updated", "2026-01-01T10:00:00Z", cart_id="A", total=10)])
    engine.advance_to(at("2026-01-10T00:00:00Z"))
    visits = [d["visit"] for t, d in sends(engine, "c1") if t == "reminder"]
    assert visits == [1, 2, 3]
    (enrolment,) = engine.enrolments("c1")
    assert (enrolment.state, enrolment.status) == ("gave_up", "completed")
    assert enrolment.visits == {"browsing": 1, "reminder": 3, "gave_up": 1}


def test_an_internal_transition_is_no_visit_a_re_entering_one_is(store: Any) -> None:
    engine = engine_for(store, BACK_AND_FORTH)
    engine.ingest(
        [
            track("c1", "go", "2026-01-01T10:00:00Z"),  # enrols: a (1)
            track("c1", "stay", "2026-01-01T10:01:00Z"),  # internal: still 1
            track("c1", "again", "2026-01-01T10:02:00Z"),  # re-enters a: 2
            track("c1", "go", "2026-01-01T10:03:00Z"),  # b: 1
            track("c1", "go", "2026-01-01T10:04:00Z"),  # a again: 3
        ]
    )
    assert [(t, d["n"]) for t, d in sends(engine, "c1")] == [
        ("a", 1),
        ("a", 2),
        ("b", 1),
        ("a", 3),
    ]
    (enrolment,) = engine.enrolments("c1")
    assert enrolment.visits == {"a": 3, "b": 1}


def test_vars_live_and_die_with_the_enrolment(store: Any) -> None:
    """An order of cart A converts its enrolment; a new cart A starts afresh:
    its `vars` are the new trigger's, not the old enrolment's."""
    engine = engine_for(store, CART)
    engine.ingest(
        [
            track("c1", "cart_updated", "2026-01-01T10:00:00Z", cart_id="A", total=20),
            track("c1", "cart_updated", "2026-01-01T10:10:00Z", cart_id="A", total=99),
            track("c1", "order_completed", "2026-01-01T10:20:00Z", cart_id="A"),
            track("c1", "cart_updated", "2026-01-02T10:00:00Z", cart_id="A", total=5),
        ]
    )
    old, new = engine.enrolments("c1")
    assert (old.status, old.vars) == ("converted", {"total": 99})
    assert (new.status, new.vars, new.ordinal) == ("active", {"total": 5}, 2)
    engine.advance_to(at("2026-01-02T11:30:00Z"))
    assert [(t, d["total"]) for t, d in sends(engine, "c1")] == [("reminder", 5)]


def test_when_on_each_action_kind_skips_that_action_alone(store: Any) -> None:
    engine = engine_for(store, GUARDED)
    engine.ingest(
        [
            identify("c1", "2026-01-01T09:00:00Z", tier=2),
            track("c1", "signed_up", "2026-01-01T10:00:00Z", plan="pro"),
        ]
    )
    effects = engine.effects("c1")
    assert [(e.channel, e.template, e.data.get("title")) for e in effects] == [
        ("email", "yes_send", None),
        ("task", None, "Visit"),
        ("email", "last", None),
        ("email", "seen", None),
    ]
    # a skipped action keeps its number: the ones after it are numbered as written
    assert [e.action for e in effects[:3]] == [0, 3, 11]
    customer = engine.customer("c1")
    assert customer is not None and customer.attributes == {"tier": 2, "a": 1}
    (enrolment,) = engine.enrolments("c1")
    assert enrolment.vars == {"c": 1}
    assert enrolment.state == "pinged"  # `ping` was emitted, `pong` was not
    assert effects[-1].data == {"vars": {"c": 1}, "visits": 1}


def test_an_action_guard_that_errors_counts_as_false_and_is_recorded(store: Any) -> None:
    engine = engine_for(store, GUARDED)
    engine.ingest([track("c1", "signed_up", "2026-01-01T10:00:00Z", plan="free")])
    templates = [e.template for e in engine.effects("c1")]
    assert "broken" not in templates and "last" in templates
    # no `tier` yet: both task guards error too, as does the `missing` one
    found = errors(engine, "c1")
    assert len(found) == 3
    assert all(f.startswith("guard counted as false: ") for f in found), found
    assert any("customer.missing > 1" in f for f in found), found


def test_a_state_entered_again_by_a_timer_counts_another_visit(store: Any) -> None:
    engine = engine_for(store, GUARDED)
    engine.ingest([track("c1", "signed_up", "2026-01-01T10:00:00Z", plan="pro")])
    engine.advance_to(at("2026-01-02T10:00:00Z"))  # back to start: its actions run again
    seen = [e.data["visits"] for e in engine.effects("c1") if e.template == "seen"]
    assert seen == [1, 2]
    (enrolment,) = engine.enrolments("c1")
    assert enrolment.visits == {"start": 2, "pinged": 2}
    # in a timer, `trigger` is still the enrolling event: the pro e-mail again
    assert [e.template for e in engine.effects("c1")].count("yes_send") == 2


def test_trigger_in_entry_guard_and_key_is_the_event_considered(store: Any) -> None:
    text = """
journey: entry
version: 1
entry:
  on: [cart_updated]
  when: 'trigger.properties.total > 0 && trigger.name == event.name'
  key: 'trigger.properties.cart_id'
initial: open
states:
  open:
    on_enter: [{send: email, template: hi, data: {key: '=enrolment.key'}}]
    transitions: [{after: 1d, to: done}]
  done: {final: true}
"""
    engine = engine_for(store, text)
    engine.ingest(
        [
            track("c1", "cart_updated", "2026-01-01T10:00:00Z", cart_id="A", total=0),
            track("c1", "cart_updated", "2026-01-01T10:01:00Z", cart_id="B", total=5),
            track("c1", "cart_updated", "2026-01-01T10:02:00Z", cart_id=7, total=5),
        ]
    )
    assert [e.key for e in engine.enrolments("c1")] == ["B", "7"]
    assert [d["key"] for _, d in sends(engine, "c1")] == ["B", "7"]


def test_the_context_survives_a_reopened_sqlite_file(tmp_path: Path) -> None:
    """Written by one process, read by the next: trigger, vars and visits come
    back from the file as they went in."""
    url = f"sqlite:///{tmp_path / 'reopen.db'}"
    first = SqlStore(url)
    engine = engine_for(first, CART)
    engine.ingest([track("c1", "cart_updated", "2026-01-01T10:00:00Z", cart_id="A", total=60)])
    engine.advance_to(at("2026-01-01T11:30:00Z"))
    first.close()
    second = SqlStore(url)
    try:
        (enrolment,) = second.get_enrolments("c1")
        assert enrolment.trigger is not None
        assert enrolment.trigger["properties"] == {"cart_id": "A", "total": 60}
        assert (enrolment.vars, enrolment.visits) == (
            {"total": 60},
            {"browsing": 1, "reminder": 1},
        )
        engine = engine_for(second, CART, start="2026-01-01T11:30:00Z")
        engine.advance_to(at("2026-01-02T12:00:00Z"))
        reminders = [d for t, d in sends(engine, "c1") if t == "reminder"]
        assert [(d["cart"], d["visit"]) for d in reminders] == [("A", 1), ("A", 2)]
    finally:
        second.close()


def test_computed_timestamps_and_durations_are_kept_as_text_that_reads_back(store: Any) -> None:
    """`vars` and `set` keep JSON: the same in every store, and readable again
    by `timestamp()` and `duration()`."""
    text = """
journey: kept
version: 1
entry: {on: [go]}
initial: a
states:
  a:
    on_enter:
      - vars: {seen: '=now', wait: '=duration("90m")', both: '=[now, duration("1.5s")]'}
      - set: {grace: '=duration("-2h")'}
    transitions: [{after: 1h, to: b}]
  b:
    on_enter:
      - send: email
        template: t
        data:
          wait: '=duration(enrolment.vars.wait) == duration("5400s")'
          seen: '=timestamp(enrolment.vars.seen) == enrolment.entered_at'
          grace: '=duration(customer.grace)'
    final: true
"""
    engine = engine_for(store, text)
    engine.ingest([track("c1", "go", "2026-01-01T10:00:00Z")])
    engine.advance_to(at("2026-01-02T00:00:00Z"))
    (enrolment,) = engine.enrolments("c1")
    assert enrolment.vars == {
        "seen": "2026-01-01T10:00:00+00:00",
        "wait": "5400s",
        "both": ["2026-01-01T10:00:00+00:00", "1.5s"],
    }
    customer = engine.customer("c1")
    assert customer is not None and customer.attributes == {"grace": "-7200s"}
    (send,) = engine.effects("c1")
    assert send.data == {"wait": True, "seen": True, "grace": "-7200s"}
