"""Engine.ingest: every event accepted or rejected on its own, rejected ones
kept with their reason; an event the database still refuses is found and
rejected while the rest of its batch is applied; events too far ahead of a
real clock are refused, on a virtual clock they are what time follows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from journeyflow.clock import Clock, VirtualClock
from journeyflow.definition.loader import load_text
from journeyflow.events import Kind
from journeyflow.events.lines import read_line
from journeyflow.runtime.engine import Engine
from journeyflow.runtime.rejections import replay_rejected
from journeyflow.store import MemoryStore
from journeyflow.store.base import Store
from journeyflow.store.sql import SqlStore
from tests.helpers import at, sent, track
from tests.journeys import REACTIVATION

NOW = at("2026-06-01T12:00:00Z")


class StillClock:
    """A real clock's part, standing still: what a test needs of `SystemClock`
    without a race against it (not a VirtualClock, so the skew applies)."""

    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


def engine_on(store: Store, clock: Clock | None = None, **options: Any) -> Engine:
    journeys = [load_text(REACTIVATION, "react.yaml")]
    return Engine(journeys, store, clock or StillClock(NOW), **options)


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        store = SqlStore(f"sqlite:///{tmp_path / 'iso.db'}")
    else:
        store = SqlStore(str(request.getfixturevalue("pg_url")))
    yield store
    store.close()


def refuse_poison(store: SqlStore) -> None:
    """A rule of the database itself, which no check of ours foresees: no
    event named `poison` may be stored."""
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER no_poison BEFORE INSERT ON events WHEN NEW.name = 'poison' "
                "BEGIN SELECT RAISE(ABORT, 'poison is not stored here'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION no_poison() RETURNS trigger AS $$ BEGIN "
                "IF NEW.name = 'poison' THEN RAISE EXCEPTION 'poison is not stored here'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER no_poison BEFORE INSERT ON events "
                "FOR EACH ROW EXECUTE FUNCTION no_poison()"
            )


def test_rejected_events_from_python_are_kept_with_their_reason() -> None:
    store = MemoryStore()
    engine = engine_on(store)
    report = engine.ingest(
        [
            track("ann", "order_completed", "2026-06-01T10:00:00Z"),
            {"type": "track", "userId": "bob", "event": "x", "context": "web"},
            track("cat", "order_completed", "2026-06-01T10:00:00Z", total=float("nan")),
        ]
    )
    assert report.accepted == 1
    assert [(r.index, r.kind) for r in report.rejected] == [
        (1, Kind.NOT_AN_OBJECT_FIELD),
        (2, Kind.NOT_FINITE),
    ]
    kept = store.rejected_events()
    assert [(e.source, e.line, e.kind) for e in kept] == [
        ("api", None, "field-not-an-object"),
        ("api", None, "not-finite"),
    ]
    assert b'"context": "web"' in kept[0].raw
    assert kept[1].received_at == NOW


def test_an_event_the_database_refuses_is_rejected_and_its_batch_applied(
    sql_store: SqlStore,
) -> None:
    refuse_poison(sql_store)
    engine = engine_on(sql_store, batch_size=10)
    events = [track(f"c{i}", "order_completed", "2026-06-01T10:00:00Z") for i in range(10)]
    events[6] = track("c6", "poison", "2026-06-01T10:00:00Z")
    report = engine.ingest(events)
    assert report.accepted == 9
    ((index, kind, reason),) = [(r.index, r.kind, r.reason) for r in report.rejected]
    assert (index, kind) == (6, Kind.NOT_STORED)
    assert "poison is not stored here" in reason
    assert {e.customer_id for e in engine.enrolments()} == {f"c{i}" for i in range(10)} - {"c6"}
    assert sent(engine, "c9") == ["email/thanks"]  # after the refused one: applied, once
    (kept,) = sql_store.rejected_events()
    assert kept.kind == "not-stored" and b'"poison"' in kept.raw
    again = engine.ingest(events)  # a re-run: the nine are repeats, the poison refused again
    assert (again.accepted, again.duplicates, len(again.rejected)) == (0, 9, 1)
    assert sql_store.count_rejected() == 1


def test_several_refused_events_in_one_batch_are_each_found(sql_store: SqlStore) -> None:
    refuse_poison(sql_store)
    engine = engine_on(sql_store, batch_size=50)
    events = [
        track(f"c{i}", "poison" if i % 7 == 3 else "order_completed", "2026-06-01T10:00:00Z")
        for i in range(50)
    ]
    report = engine.ingest(events)
    assert [r.index for r in report.rejected] == [i for i in range(50) if i % 7 == 3]
    assert report.accepted == 50 - len(report.rejected)


def test_an_event_far_ahead_of_a_real_clock_is_refused_and_moves_no_one() -> None:
    store = MemoryStore()
    engine = engine_on(store)
    engine.ingest([track("ann", "order_completed", "2026-06-01T10:00:00Z")])
    report = engine.ingest([track("ann", "order_completed", "2062-06-01T10:00:00Z")])
    assert [r.kind for r in report.rejected] == [Kind.AHEAD_OF_CLOCK]
    # the 120-day timer did not fire: ann's time did not move to 2062
    assert sent(engine, "ann") == ["email/thanks"]
    assert engine.enrolments("ann")[0].state == "active"


def test_the_skew_is_the_engines_to_set() -> None:
    ahead = NOW + timedelta(hours=1)
    strict = engine_on(MemoryStore())
    assert strict.ingest([track("a", "order_completed", ahead.isoformat())]).rejected
    loose = engine_on(MemoryStore(), max_clock_skew=timedelta(hours=2))
    assert loose.ingest([track("a", "order_completed", ahead.isoformat())]).accepted == 1
    off = engine_on(MemoryStore(), max_clock_skew=None)
    assert off.ingest([track("a", "order_completed", "2150-01-01T00:00:00Z")]).accepted == 1


def test_on_a_virtual_clock_events_ahead_are_what_time_follows() -> None:
    # simulations and backtests feed a whole file on a clock at its first event
    engine = engine_on(MemoryStore(), VirtualClock(at("2026-01-01T00:00:00Z")))
    report = engine.ingest(
        [
            track("ann", "order_completed", "2026-01-01T10:00:00Z"),
            track("ann", "order_completed", "2026-09-01T10:00:00Z"),
        ]
    )
    assert report.accepted == 2
    assert sent(engine, "ann") == ["email/thanks", "email/offer-120", "email/thanks"]


def test_the_table_keeps_the_engines_row_limit_and_says_what_it_dropped() -> None:
    store = MemoryStore()
    engine = engine_on(store, keep_rejected=3)
    report = engine.ingest([{"type": "track", "userId": i} for i in range(5)])
    assert (len(report.rejected), report.dropped) == (5, 2)
    assert store.count_rejected() == 3


def test_replay_applies_what_now_passes_and_keeps_the_rest() -> None:
    store = MemoryStore()
    clock = StillClock(NOW)
    engine = engine_on(store, clock)
    early = track("ann", "order_completed", (NOW + timedelta(days=1)).isoformat())
    engine.ingest([early, {"type": "track", "userId": "bob", "event": "x", "properties": []}])
    assert store.count_rejected() == 2
    assert replay_rejected(engine).still_rejected[0][1].startswith("'timestamp'")
    clock.moment = NOW + timedelta(days=1)  # the sender's clock was right after all
    report = replay_rejected(engine)
    assert (report.applied, report.duplicates) == (1, 0)
    ((left, reason),) = report.still_rejected
    assert "'properties' must be an object" in reason
    assert [e.id for e in store.rejected_events()] == [left.id]
    assert sent(engine, "ann") == ["email/thanks"]


def test_the_sql_store_keeps_rejections_without_losing_its_customer_cache(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'cache.db'}")
    engine = engine_on(store)
    engine.ingest([track("ann", "order_completed", "2026-06-01T10:00:00Z"), {"type": "x"}])
    assert len(store.cache) == 1  # kept on the writer connection: no other writer seen
    with store.engine.connect() as conn:
        assert conn.execute(text("select count(*) from rejected_events")).scalar() == 1
    store.close()


def test_a_files_rejected_lines_are_kept_by_the_store_not_by_the_report() -> None:
    store = MemoryStore()
    lines = [read_line(b"{oops", 7), read_line(track_line("ann"), 8)]
    report = engine_on(store).ingest(lines, source="/data/e.jsonl")
    (rejected,) = report.rejected
    assert (rejected.line, rejected.kind, rejected.raw) == (7, Kind.NOT_JSON, None)
    (kept,) = store.rejected_events()
    assert (kept.where, kept.raw) == ("/data/e.jsonl:7", b"{oops")
    assert report.accepted == 1


def track_line(user: str) -> bytes:
    return json.dumps(track(user, "order_completed", "2026-06-01T10:00:00Z")).encode()
