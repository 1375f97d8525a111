"""Tests that kill mutants of `store/sql/unit_of_work.py` the rest of the suite let
live (docs/mutation-testing.md, the second run of issue #14).

The SQLite store keeps committed customers in a cache between units of work;
a unit of work takes the ones it holds and reads the rest. These tests load
batches that mix the two.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from journeyflow.store import tables as t
from journeyflow.store.sql.queries import SqlStore
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import track


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'uow.db'}"
    return str(request.getfixturevalue("pg_url"))


TWO_STEPS = """
journey: a
version: 1
entry: {on: [buy]}
initial: w
states:
  w: {transitions: [{on: go, to: done}]}
  done: {final: true}
"""


def test_a_batch_of_new_and_cached_customers_loads_every_one(
    journeyflow_engine: EngineFactory, tmp_path: Path
) -> None:
    """c0 is new (not in the cache), c1 and c2 are cached from the first batch: the
    second batch takes both from the cache, not from the database, and moves them
    on. Kills `_take_cached`'s `take(cid)` into None or `take(None)` (every
    customer read again: right, but the cache is for nothing)."""
    store = SqlStore(f"sqlite:///{tmp_path / 'cache.db'}")
    try:
        engine = journeyflow_engine(TWO_STEPS, store=store)
        engine.ingest(
            [
                track("c1", "buy", "2026-01-01T00:00:00Z"),
                track("c2", "buy", "2026-01-01T00:00:00Z"),
            ]
        )
        assert len(store.cache) == 2
        hits, misses = store.cache.hits, store.cache.misses
        report = engine.ingest(
            [
                track("c0", "buy", "2026-01-02T00:00:00Z"),
                track("c1", "go", "2026-01-02T00:00:00Z"),
                track("c2", "go", "2026-01-02T00:00:00Z"),
            ]
        )
        assert (report.accepted, report.rejected) == (3, [])
        assert (store.cache.hits - hits, store.cache.misses - misses) == (2, 1)
        got = {c: [(e.state, e.status) for e in engine.enrolments(c)] for c in ("c0", "c1", "c2")}
        assert got == {
            "c0": [("w", "active")],
            "c1": [("done", "completed")],
            "c2": [("done", "completed")],
        }
    finally:
        store.close()


def test_a_repeated_message_id_is_a_duplicate_across_batches_and_within_one(
    journeyflow_engine: EngineFactory, sql_url: str
) -> None:
    """Kills `seen_messages` reading `r[1]` of a one-column row, selecting None, or its
    WHERE made `WHERE NULL` (no message is ever seen: the repeat is applied again)."""
    store = SqlStore(sql_url)
    try:
        engine = journeyflow_engine(TWO_STEPS, store=store)
        buy = track("c1", "buy", "2026-01-01T00:00:00Z")
        go = track("c1", "go", "2026-01-02T00:00:00Z")
        assert engine.ingest([buy]).accepted == 1
        again = engine.ingest([buy, go, go])
        assert (again.accepted, again.duplicates, again.rejected) == (1, 2, [])
        assert store.count_events() == 2
        assert [(h.kind, h.to_state) for h in engine.history("c1")] == [
            ("enter", "w"),
            ("transition", "done"),
            ("complete", None),
        ]
    finally:
        store.close()


GREETING = """
journey: hello
version: 1
entry: {on: [buy]}
initial: w
states:
  w:
    on_enter: [{send: email, template: hi}]
    transitions: [{on: go, to: done}]
  done: {final: true}
"""


def test_an_effect_whose_key_is_stored_already_is_not_written_again(
    journeyflow_engine: EngineFactory, sql_url: str
) -> None:
    """A store that lost its customers and events but kept its outbox (restored from
    an older backup) sees the same events again: the same enrolment, the same
    effect key. The outbox keeps its one row and the unit of work commits. Kills
    `_fresh_effects` reading `r[1]`, selecting None or `WHERE NULL` (the key not
    found: a second row, refused by the key's uniqueness, and the event rejected)."""
    first = SqlStore(sql_url)
    try:
        journeyflow_engine(GREETING, store=first).ingest(
            [track("c1", "buy", "2026-01-01T00:00:00Z", n=1)]
        )
        with first.engine.begin() as conn:
            for table in (t.history, t.enrolments, t.events, t.customers):
                conn.execute(delete(table))
    finally:
        first.close()
    second = SqlStore(sql_url)
    try:
        engine = journeyflow_engine(GREETING, store=second)
        report = engine.ingest([track("c1", "buy", "2026-01-01T00:00:00Z", n=2)])
        assert (report.accepted, report.rejected) == (1, [])
        [effect] = engine.effects("c1")
        assert (effect.template, effect.status) == ("hi", "pending")
        with second.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(t.outbox)).scalar_one() == 1
        assert [(e.state, e.status) for e in engine.enrolments("c1")] == [("w", "active")]
    finally:
        second.close()


KEYED_ECHO = """
journey: k
version: 1
entry: {on: [order], key: 'event.properties.k'}
initial: w
states:
  w:
    transitions:
      - {on: move, to: x}
      - {on: ping, to: w, internal: true, actions: [{emit: from_w}]}
  x: {transitions: [{on: ping, to: x, internal: true, actions: [{emit: from_x}]}]}
"""

FIRST_ECHO = """
journey: first
version: 1
entry: {on: [from_w, from_x], reentry: never}
initial: heard
states:
  heard: {transitions: [{on: never, to: done}]}
  done: {final: true}
"""


def test_a_customers_enrolments_are_loaded_in_the_order_they_began(
    journeyflow_engine: EngineFactory, sql_url: str
) -> None:
    """Order a (position 0) then order b (position 1); `move` updates a's row, which
    PostgreSQL then keeps after b's. A `ping` reaches both: a's echo must come
    first, so `first` is entered by `from_x`. Kills `load` reading enrolments
    without `ORDER BY position`."""
    store = SqlStore(sql_url, cache_customers=0)
    try:
        engine = journeyflow_engine(KEYED_ECHO, FIRST_ECHO, store=store)
        engine.ingest(
            [
                track("c1", "order", "2026-01-01T00:00:00Z", k="a"),
                track("c1", "order", "2026-01-01T01:00:00Z", k="b"),
            ]
        )
        engine.ingest([track("c1", "move", "2026-01-01T02:00:00Z", k="a")])
        engine.ingest([track("c1", "ping", "2026-01-01T03:00:00Z")])
        [heard] = engine.enrolments("c1", "first")
        enter = [h for h in engine.history("c1", "first") if h.kind == "enter"]
        assert [h.cause for h in enter] == ["event:from_x"]
        assert heard.state == "heard"
    finally:
        store.close()


def test_a_customer_not_worth_storing_does_not_stop_the_others_being_written(
    journeyflow_engine: EngineFactory, sql_url: str
) -> None:
    """c0 is looked at and left as it was (never seen, no segments): not stored. c1,
    after it in the same unit of work, gets a segment and is stored. Kills
    `_write_customers`' `continue` into `break`."""
    store = SqlStore(sql_url)
    try:
        engine = journeyflow_engine(TWO_STEPS, store=store)
        engine.replace_segments({"c0": set(), "c1": {"vip"}}, owned=("",))
        assert store.get_customer("c0") is None
        stored = store.get_customer("c1")
        assert stored is not None and stored.segments == ["vip"]
        assert store.customer_ids() == ["c1"]
    finally:
        store.close()
