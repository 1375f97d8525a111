"""Tests that kill mutants of `store/sql/unit_of_work.py` the rest of the suite let
live (docs/mutation-testing.md, the second run of issue #14).

The SQLite store keeps committed customers in a cache between units of work;
a unit of work takes the ones it holds and reads the rest. These tests load
batches that mix the two.
"""

from __future__ import annotations

from pathlib import Path

from journeyflow.store.sql.queries import SqlStore
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import track

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
