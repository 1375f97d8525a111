"""Store tests that kill mutants the rest of the suite let live (docs/mutation-testing.md)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeyflow.runtime.engine import Engine
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, track

ONE_DAY = """
journey: t
version: 1
entry: {on: [buy]}
initial: w
states:
  w:
    transitions:
      - after: 1d
        to: done
  done: {final: true}
"""


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'due.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(journeyflow_engine: EngineFactory, store_url: str) -> Iterator[Engine]:
    made = journeyflow_engine(ONE_DAY, store=store_url)
    try:
        yield made
    finally:
        close = getattr(made.store, "close", None)
        if close is not None:
            close()


def test_a_timer_due_exactly_at_the_advanced_to_moment_fires(engine: Engine) -> None:
    """Kills `next_due_at < until` in the due-customers query (SQL and memory): moving
    the clock to exactly the due time must fire the timer, at that time."""
    engine.ingest([track("c1", "buy", "2026-01-01T00:00:00Z")])
    engine.advance_to(at("2026-01-01T23:59:59Z"))
    assert [(e.state, e.status) for e in engine.enrolments("c1")] == [("w", "active")]
    fired = engine.advance_to(at("2026-01-02T00:00:00Z"))
    assert fired == 1
    [enrolment] = engine.enrolments("c1")
    assert (enrolment.state, enrolment.status) == ("done", "completed")
    assert enrolment.ended_at == at("2026-01-02T00:00:00Z")
    assert engine.advance_to(at("2026-01-02T00:00:00Z")) == 0  # and only once


def test_many_customers_due_at_one_instant_all_fire_in_small_batches(
    journeyflow_engine: EngineFactory, store_url: str
) -> None:
    """More due customers than one batch holds: every one fires, once (kills a `limit`
    taken off by one and a loop that stops after the first batch)."""
    engine = journeyflow_engine(ONE_DAY, store=store_url, batch_size=2)
    try:
        customers = [f"c{i}" for i in range(5)]
        engine.ingest([track(c, "buy", "2026-01-01T00:00:00Z") for c in customers])
        assert engine.advance_to(at("2026-01-02T00:00:00Z")) == 5
        for c in customers:
            assert [(e.state, e.status) for e in engine.enrolments(c)] == [("done", "completed")]
    finally:
        close = getattr(engine.store, "close", None)
        if close is not None:
            close()


# --- queries: filters, orders and copies (memory, SQLite, PostgreSQL) ----------------------

TWO_JOURNEYS_A = """
journey: a
version: 1
entry: {on: [buy]}
initial: w
states:
  w:
    on_enter: [{send: email, template: a-hello}]
    transitions:
      - on: go
        to: x
        actions: [{send: email, template: a-go-1}, {send: email, template: a-go-2}]
      - after: 2h
        to: w
        actions: [{send: email, template: a-timer}]
  x:
    on_enter: [{emit: next}]
    transitions:
      - on: next
        to: done
        actions: [{send: email, template: a-next}]
  done: {final: true}
"""

TWO_JOURNEYS_B = """
journey: b
version: 1
entry: {on: [go]}
initial: w
states:
  w:
    on_enter: [{send: email, template: b-hello}]
    transitions: [{on: stop, to: done}]
  done: {final: true}
"""


@pytest.fixture
def two(journeyflow_engine: EngineFactory, store_url: str) -> Iterator[Engine]:
    made = journeyflow_engine(TWO_JOURNEYS_A, TWO_JOURNEYS_B, store=store_url)
    try:
        yield made
    finally:
        close = getattr(made.store, "close", None)
        if close is not None:
            close()


def test_queries_filter_by_journey_and_order_by_customer(two: Engine) -> None:
    """Kills `journey != ...` filters in get_enrolments/get_history, a missing
    customer order in get_enrolments() and customer_ids(), and `.get(cid, None)`."""
    two.ingest(
        [
            track("c2", "buy", "2026-01-01T00:00:00Z"),  # c2 first: insertion order is not id order
            track("c1", "go", "2026-01-01T00:10:00Z"),
            track("c1", "buy", "2026-01-01T00:20:00Z"),
        ]
    )
    assert [(e.customer_id, e.journey) for e in two.enrolments()] == [
        ("c1", "b"),
        ("c1", "a"),
        ("c2", "a"),
    ]
    assert [e.journey for e in two.enrolments("c1", "a")] == ["a"]
    assert [e.journey for e in two.enrolments("c1", "b")] == ["b"]
    assert two.enrolments("nobody") == []
    assert {h.journey for h in two.history("c1", "a")} == {"a"}
    assert {h.journey for h in two.history("c1", "b")} == {"b"}
    assert two.history("c1", "zzz") == []
    assert two.store.customer_ids() == ["c1", "c2"]


def test_records_read_from_a_store_are_copies(two: Engine) -> None:
    """Kills `copy.copy` for `copy.deepcopy` in the memory store's reads and commits:
    changing what a query returned must not change what the store holds."""
    two.ingest(
        [
            {
                "type": "identify",
                "userId": "c1",
                "traits": {"tags": ["a"]},
                "timestamp": "2026-01-01T00:00:00Z",
                "messageId": "i1",
            },
            track("c1", "buy", "2026-01-01T00:00:00Z"),
        ]
    )
    customer = two.customer("c1")
    assert customer is not None
    customer.attributes["tags"].append("changed")
    customer.attributes["new"] = 1
    [enrolment] = two.enrolments("c1")
    enrolment.timers.append((9, at("2030-01-01T00:00:00Z")))
    again = two.customer("c1")
    assert again is not None and again.attributes == {"tags": ["a"]}
    [fresh] = two.enrolments("c1")
    assert fresh.timers == [(1, at("2026-01-01T02:00:00Z"))]
    # and the engine's own unit of work did not share them either
    two.advance_to(at("2026-01-01T02:00:00Z"))
    [moved] = two.enrolments("c1")
    assert moved.timers == [(1, at("2026-01-01T04:00:00Z"))]
    assert [t.template for t in two.effects("c1")] == ["a-hello", "a-timer", "a-hello"]


def test_stored_events_keep_their_content(two: Engine) -> None:
    """Kills storing None (or nothing) for an event in the memory store's commit."""
    two.ingest([track("c1", "buy", "2026-01-01T00:00:00Z", total=3)])
    [raw] = list(two.store.iter_events())
    assert (raw["userId"], raw["event"], raw["properties"]) == ("c1", "buy", {"total": 3})
    [(customer, events)] = list(two.store.iter_customer_events())
    assert customer.id == "c1" and [e["event"] for e in events] == ["buy"]


def claim_all(store: Any, now: datetime) -> list[Any]:
    """Every pending effect due by `now`, claimed in the store's order. The claim's
    signature is changing (#14: a lease `timedelta`, or a lease end and a token)."""
    if "token" in inspect.signature(store.claim_effects).parameters:
        return list(store.claim_effects(now, 100, now + timedelta(hours=1), "t1"))
    return list(store.claim_effects(now, 100, timedelta(hours=1)))


def test_claims_go_by_time_then_enrolment_then_transition_then_action(two: Engine) -> None:
    """Kills each column dropped from the ORDER BY (created_at, enrolment, seq,
    action) of the outbox claim and of get_effects, and get_effects' filters."""
    two.ingest(
        [
            track("c1", "buy", "2026-01-01T00:00:00Z"),  # a: a-hello at 00:00
            track("c2", "buy", "2026-01-01T00:30:00Z"),  # a: a-hello at 00:30
        ]
    )
    two.advance_to(at("2026-01-01T02:00:00Z"))  # c1's a: a-timer, a-hello at 02:00
    # c1, 02:30: `go` moves a (seq 2: a-go-1, a-go-2), enrols in b (b-hello), then
    # a's emitted `next` moves a again (seq 3: a-next)
    two.ingest([track("c1", "go", "2026-01-01T02:30:00Z")])
    # get_effects: the same order, filtered by customer and by status
    listed = [(e.customer_id, e.template, e.created_at) for e in two.effects()]
    assert [e.template for e in two.effects("c2")] == ["a-hello"]
    assert [e.customer_id for e in two.effects(status="pending")] == [c for c, _, _ in listed]
    assert two.effects(status="sent") == []
    claimed = claim_all(two.store, at("2026-01-01T02:30:00Z"))
    got = [(e.customer_id, e.template, e.created_at) for e in claimed]
    t = at
    assert got == [
        ("c1", "a-hello", t("2026-01-01T00:00:00Z")),
        ("c2", "a-hello", t("2026-01-01T00:30:00Z")),
        ("c1", "a-timer", t("2026-01-01T02:00:00Z")),
        ("c1", "a-hello", t("2026-01-01T02:00:00Z")),
        ("c1", "a-go-1", t("2026-01-01T02:30:00Z")),
        ("c1", "a-go-2", t("2026-01-01T02:30:00Z")),
        # the causal order (contract v1.1): `go` enrols c1 in b before a's
        # emitted `next` is applied, so b-hello was produced before a-next
        ("c1", "b-hello", t("2026-01-01T02:30:00Z")),
        ("c1", "a-next", t("2026-01-01T02:30:00Z")),
    ]
    assert listed == got


def test_effect_updates_and_waiting_effects(two: Engine) -> None:
    """Kills update_effect writing None for last_error/next_attempt_at, and
    waiting_effects counting an effect due exactly now (`>=`) or not pending."""
    two.ingest([track("c1", "buy", "2026-01-01T00:00:00Z")])
    [effect] = two.effects("c1")
    retry_at = at("2026-01-01T01:00:00Z")
    two.store.update_effect(effect.key, "pending", 1, "boom", retry_at)
    [updated] = two.effects("c1")
    assert (updated.status, updated.attempts, updated.last_error) == ("pending", 1, "boom")
    assert updated.next_attempt_at == retry_at
    assert two.store.waiting_effects(at("2026-01-01T00:59:59Z")) == 1
    assert two.store.waiting_effects(retry_at) == 0  # due now: not waiting any more
    two.store.update_effect(effect.key, "sent", 2, None, at("2026-01-02T00:00:00Z"))
    assert two.store.waiting_effects(retry_at) == 0  # sent: waits for nothing
    [done] = two.effects("c1")
    assert (done.status, done.attempts, done.last_error) == ("sent", 2, None)
