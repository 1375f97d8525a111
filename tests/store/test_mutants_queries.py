"""Tests that kill mutants of `store/sql/queries.py` the rest of the suite let live
(docs/mutation-testing.md, the second run of issue #14).

A query without its ORDER BY often still answers in order: SQLite walks its
tables and indexes in key order. PostgreSQL does not: an UPDATE writes the row
anew at the end of its table, so rows come back in the order they were last
written. Each test here updates a row before it reads, and runs on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from journeyflow.runtime.engine import Engine
from journeyflow.store.sql.queries import SqlStore
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, identify, track


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'queries.db'}"
    return str(request.getfixturevalue("pg_url"))


TWO_SENDS = """
journey: a
version: 1
entry: {on: [buy]}
initial: w
states:
  w:
    transitions:
      - on: go
        to: x
        actions: [{send: email, template: first}, {send: email, template: second}]
  x: {transitions: [{on: stop, to: done}]}
  done: {final: true}
"""

ALSO_ON_BUY = """
journey: b
version: 1
entry: {on: [buy]}
initial: w
states:
  w: {transitions: [{on: stop, to: done}]}
  done: {final: true}
"""


@pytest.fixture
def engine(journeyflow_engine: EngineFactory, sql_url: str) -> Iterator[Engine]:
    store = SqlStore(sql_url)
    try:
        yield journeyflow_engine(TWO_SENDS, ALSO_ON_BUY, store=store)
    finally:
        store.close()


def test_a_customers_enrolments_come_in_the_order_they_began(engine: Engine) -> None:
    """`buy` enrols c1 in a (position 0) and b (position 1); `go` then updates a's row.
    Kills get_enrolments ordering by customer only (`position` dropped)."""
    engine.ingest([track("c1", "buy", "2026-01-01T00:00:00Z")])
    engine.ingest([track("c1", "go", "2026-01-01T01:00:00Z")])
    assert [(e.journey, e.position, e.state) for e in engine.enrolments("c1")] == [
        ("a", 0, "x"),
        ("b", 1, "w"),
    ]
    assert [e.journey for e in engine.enrolments()] == ["a", "b"]


def test_effects_of_one_transition_come_in_action_order_after_an_update(engine: Engine) -> None:
    """The first effect is recorded as sent (an UPDATE), the second is not. Kills
    get_effects ordering without `action`."""
    engine.ingest(
        [track("c1", "buy", "2026-01-01T00:00:00Z"), track("c1", "go", "2026-01-01T01:00:00Z")]
    )
    first, second = engine.effects("c1")
    assert (first.template, second.template) == ("first", "second")
    engine.store.update_effect(first.key, "sent", 1, None)
    assert [(e.template, e.action, e.status) for e in engine.effects("c1")] == [
        ("first", 0, "sent"),
        ("second", 1, "pending"),
    ]


def test_events_since_a_moment_include_that_moment(engine: Engine) -> None:
    """Kills iter_events' `since` filter dropped, made `>`, or given None."""
    store = engine.store
    assert isinstance(store, SqlStore)
    engine.ingest(
        [
            track("c1", "buy", "2026-01-01T00:00:00Z"),
            track("c2", "buy", "2026-01-02T00:00:00Z"),
            track("c1", "go", "2026-01-03T00:00:00Z"),
        ]
    )
    every = [(e["userId"], e["event"]) for e in store.iter_events()]
    assert every == [("c1", "buy"), ("c2", "buy"), ("c1", "go")]
    since = [(e["userId"], e["event"]) for e in store.iter_events(at("2026-01-02T00:00:00Z"))]
    assert since == [("c2", "buy"), ("c1", "go")]
    assert list(store.iter_events(at("2026-01-03T00:00:01Z"))) == []


def test_every_customer_is_listed_once_whatever_their_id(engine: Engine) -> None:
    """Ids that sort before letters ("1", "A") and a customer updated after the others
    (its row rewritten at the end of the table). Kills iter_customer_events starting
    after "XXXX" instead of "", and its customer page without ORDER BY (the page's
    last id is then not its largest: customers come twice)."""
    store = engine.store
    assert isinstance(store, SqlStore)
    ids = ["1", "A", "B", "a"]
    engine.ingest([track(c, "buy", "2026-01-01T00:00:00Z") for c in ids])
    engine.ingest([identify("1", "2026-01-02T00:00:00Z", tier="gold")])
    listed = [(c.id, [e["type"] for e in events]) for c, events in store.iter_customer_events()]
    assert listed == [
        ("1", ["track", "identify"]),
        ("A", ["track"]),
        ("B", ["track"]),
        ("a", ["track"]),
    ]
    until = [(c.id, len(events)) for c, events in store.iter_customer_events(at("2026-01-01"))]
    assert until == [("1", 1), ("A", 1), ("B", 1), ("a", 1)]


def race_on_insert(store: SqlStore, other: SqlStore, content_hash: str) -> list[str]:
    """Make `other` save version 1 of journey `j` just before `store`'s own INSERT of
    it: two processes starting at one moment, made to meet every time."""
    raced: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if not raced and statement.lstrip().upper().startswith("INSERT INTO JOURNEY_VERSIONS"):
            raced.append(statement)
            other.save_journey_version("j", 1, content_hash, "source: other")

    event.listen(store.engine, "before_cursor_execute", before)
    return raced


def test_a_version_saved_meanwhile_with_the_same_content_is_taken(sql_url: str) -> None:
    """The INSERT fails on the key; the row found is the same content: no error. Kills
    the race path's second look (`stored = None`, `journey_version(None, ...)`,
    `journey_version(journey, None)`, an argument left out)."""
    store, other = SqlStore(sql_url), SqlStore(sql_url)
    try:
        raced = race_on_insert(store, other, "h1")
        store.save_journey_version("j", 1, "h1", "source: mine")
        assert raced
        assert store.journey_version("j", 1) == ("h1", "source: other")
    finally:
        store.close()
        other.close()


def test_a_version_saved_meanwhile_with_other_content_is_an_error(sql_url: str) -> None:
    store, other = SqlStore(sql_url), SqlStore(sql_url)
    try:
        race_on_insert(store, other, "h2")
        with pytest.raises(IntegrityError):
            store.save_journey_version("j", 1, "h1", "source: mine")
        assert store.journey_version("j", 1) == ("h2", "source: other")
    finally:
        store.close()
        other.close()


def test_a_customers_events_come_in_time_order_not_arrival_order(engine: Engine) -> None:
    """An event that arrives late (dated before one stored already) comes first; a
    customer with segments but no events is listed with none. Kills
    iter_customer_events ordering by arrival only (`timestamp` dropped) and giving
    None for a customer without events."""
    store = engine.store
    assert isinstance(store, SqlStore)
    engine.ingest([track("c1", "buy", "2026-01-02T00:00:00Z")])
    engine.ingest([track("c1", "go", "2026-01-01T00:00:00Z")])
    engine.set_segments("c2", ["vip"], at("2026-01-03T00:00:00Z"))
    listed = [(c.id, [e["event"] for e in events]) for c, events in store.iter_customer_events()]
    assert listed == [("c1", ["go", "buy"]), ("c2", [])]
