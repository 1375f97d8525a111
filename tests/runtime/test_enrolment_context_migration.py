"""Migration 0007: a database of revision 0006 with customers in flight gains
the enrolment context, backfilled from its history and stored events, and the
engine carries on with it (SQLite file and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from journeyflow.clock import VirtualClock
from journeyflow.definition.loader import load_text
from journeyflow.runtime.engine import Engine
from journeyflow.store.sql import SqlStore
from tests.helpers import at

JOURNEY = """
journey: cart
version: 1
entry:
  on: [cart_updated]
  key: trigger.properties.cart_id
initial: browsing
states:
  browsing:
    transitions:
      - {on: cart_updated, to: browsing, internal: true}
      - {after: 1h, to: reminder}
  reminder:
    on_enter:
      - send: email
        template: reminder
        data: {cart: '=trigger.properties.cart_id', visit: '=state.visits'}
    transitions:
      - {after: 1d, to: reminder, when: 'state.visits < 3'}
      - {on: back, to: browsing}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        yield str(request.getfixturevalue("pg_url"))


def _at_0006(url: str) -> None:
    """A revision-0006 database: cart A in `reminder` (entered twice, once
    through an internal transition that is no entry), an ended enrolment, and
    an enrolment made by a segment (no stored event)."""
    from alembic import command
    from alembic.config import Config

    engine = sa.create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", "journeyflow.store:migrations")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
        meta = sa.MetaData()
        enrolments = sa.Table("enrolments", meta, autoload_with=conn)
        history = sa.Table("history", meta, autoload_with=conn)
        events = sa.Table("events", meta, autoload_with=conn)
        t0 = datetime(2026, 1, 1, 10, 0)

        def enrolment(eid: str, key: str, status: str, state: str, position: int) -> dict[str, Any]:
            return {
                "id": eid,
                "customer_id": "c1",
                "journey": "cart",
                "version": 1,
                "key": key,
                "ordinal": 1,
                "state": state,
                "entered_at": datetime(2026, 1, 2, 11, 0),
                "started_at": t0,
                "status": status,
                "ended_at": None,
                "end_reason": None,
                "in_holdout": False,
                "seq": 3,
                "timers": [[0, "2026-01-03T11:00:00+00:00"]] if status == "active" else [],
                "next_due_at": datetime(2026, 1, 3, 11, 0) if status == "active" else None,
                "position": position,
            }

        conn.execute(
            enrolments.insert(),
            [
                enrolment("cart:c1:A:1", "A", "active", "reminder", 0),
                enrolment("cart:c1:B:1", "B", "exited", "browsing", 1),
            ],
        )
        rows = [
            ("enter", None, "browsing", "event:cart_updated", t0, None),
            ("transition", "browsing", "browsing", "event:cart_updated", t0, "internal"),
            ("transition", "browsing", "reminder", "timer:after 1h", t0, None),
            ("transition", "reminder", "reminder", "timer:after 1d", t0, None),
            ("error", "reminder", "reminder", "error", t0, "guard counted as false"),
        ]
        conn.execute(
            history.insert(),
            [
                {
                    "enrolment_id": "cart:c1:A:1",
                    "customer_id": "c1",
                    "journey": "cart",
                    "seq": i,
                    "kind": kind,
                    "from_state": source,
                    "to_state": target,
                    "cause": cause,
                    "at": moment,
                    "detail": detail,
                }
                for i, (kind, source, target, cause, moment, detail) in enumerate(rows)
            ],
        )
        conn.execute(
            events.insert(),
            [
                {
                    "message_id": "m0",
                    "customer_id": "c1",
                    "type": "track",
                    "name": "cart_updated",
                    "timestamp": t0,
                    "payload": {
                        "type": "track",
                        "userId": "c1",
                        "event": "cart_updated",
                        "properties": {"cart_id": "A", "total": 80},
                        "timestamp": "2026-01-01T10:00:00Z",
                        "messageId": "m0",
                    },
                    "processed_at": t0,
                }
            ],
        )
    engine.dispose()


def test_0007_backfills_the_context_of_enrolments_in_flight(url: str) -> None:
    _at_0006(url)
    store = SqlStore(url)  # upgrades to head
    try:
        active, ended = store.get_enrolments("c1")
        assert active.visits == {"browsing": 1, "reminder": 2}
        assert active.trigger == {
            "name": "cart_updated",
            "type": "track",
            "properties": {"cart_id": "A", "total": 80},
            "traits": {},
            "timestamp": "2026-01-01T10:00:00+00:00",
        }
        assert active.vars == {}
        assert (ended.trigger, ended.vars, ended.visits) == (None, {}, {})
        # the engine carries on: the third reminder names its cart, and is the last
        engine = Engine(
            journeys=[load_text(JOURNEY, "<cart>")],
            store=store,
            clock=VirtualClock(at("2026-01-02T12:00:00Z")),
        )
        engine.advance_to(at("2026-01-06T00:00:00Z"))
        sent = [(e.template, e.data) for e in engine.effects("c1")]
        assert sent == [("reminder", {"cart": "A", "visit": 3})]
    finally:
        store.close()


def test_0007_downgrades_and_upgrades_again(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    _at_0006(url)
    SqlStore(url).close()  # to head
    engine = sa.create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", "journeyflow.store:migrations")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
        columns = {c["name"] for c in sa.inspect(conn).get_columns("enrolments")}
        assert not columns & {"trigger", "vars", "visits"}
    engine.dispose()
    store = SqlStore(url)  # and up again, backfilling once more
    try:
        active, _ = store.get_enrolments("c1")
        assert active.visits == {"browsing": 1, "reminder": 2}
        assert active.trigger is not None and active.trigger["properties"]["cart_id"] == "A"
    finally:
        store.close()
