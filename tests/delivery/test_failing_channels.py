"""One failing channel never blocks the others or the journeys.

A journey on a real SQLite file sends, on each customer's entry, through
four channels: one that works, one that raises, one that hangs past its
timeout, one that answers garbage (not a `Delivery`). One `Deliverer` (as
the service holds it) runs between batches of new events: every run
delivers the working channel's effects, the broken channels' circuits open
after their first failures and hold the rest back without spending their
attempts, and the engine keeps moving customers through their journeys
in between."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from journeyflow.clock import VirtualClock
from journeyflow.definition.loader import load_text
from journeyflow.delivery.outbox import Deliverer
from journeyflow.plugin.manager import build_manager
from journeyflow.plugin.markers import hookimpl
from journeyflow.plugin.registry import Registry
from journeyflow.runtime.engine import Engine
from journeyflow.store import open_store
from journeyflow.types import Channel, Delivery, Effect
from tests.helpers import at, state_of, track

JOURNEY = """
journey: fanout
version: 1
entry: {on: [signed_up]}
initial: welcome
states:
  welcome:
    on_enter:
      - {send: good, template: welcome}
      - {send: raising, template: welcome}
      - {send: hanging, template: welcome}
      - {send: garbage, template: welcome}
    transitions:
      - {on: ordered, to: customer}
      - {after: 3d, to: lapsed}
  customer:
    on_enter: [{send: good, template: thanks}]
    transitions: [{after: 1d, to: done}]
  lapsed: {final: true}
  done: {final: true}
"""

HANG_TIMEOUT = 0.2  # the hanging channel's timeout, seconds (plus the dispatcher's 1 s slack)
BROKEN = ("raising", "hanging", "garbage")


class Good:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, effect: Effect) -> Delivery:
        self.keys.append(effect.key)
        return Delivery.sent(f"{effect.template} to {effect.customer_id}")


def raising(effect: Effect) -> Delivery:
    raise RuntimeError("upstream exploded")


def garbage(effect: Effect) -> Delivery:
    return {"status": "sent"}  # type: ignore[return-value]  # a dict, not a Delivery


@pytest.fixture
def released() -> Iterator[threading.Event]:
    """Lets the hanging channel's abandoned threads end with the test."""
    event = threading.Event()
    yield event
    event.set()


def registry(good: Good, released: threading.Event) -> Registry:
    def hanging(effect: Effect) -> Delivery:
        released.wait(60)
        return Delivery.sent("far too late")

    class Plugin:
        @hookimpl
        def journeyflow_channels(self) -> list[Channel]:
            return [
                Channel("good", deliver=good),
                Channel("raising", deliver=raising),
                Channel("hanging", deliver=hanging, timeout=HANG_TIMEOUT),
                Channel("garbage", deliver=garbage),
            ]

    pm = build_manager(entry_points=False, disabled=())
    pm.register(Plugin(), name="mixed")
    return Registry.from_manager(pm)


def test_broken_channels_block_neither_the_good_one_nor_the_journeys(
    tmp_path: Path, released: threading.Event
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'jf.db'}")
    engine = Engine([load_text(JOURNEY)], store, VirtualClock(at("2026-01-01T00:00:00Z")))
    good = Good()
    clock = VirtualClock(at("2026-01-01T00:00:00Z"))
    deliverer = Deliverer(
        store,
        registry(good, released),
        clock=clock,
        failures_to_open=2,
        cool_down=timedelta(hours=1),
    )
    customers = [f"c{i}" for i in range(6)]

    # batch 1: six sign-ups, 24 effects
    engine.ingest([track(c, "signed_up", "2026-01-01T00:00:00Z") for c in customers])
    first = deliverer.run()
    assert first.by_channel["good"] == {"sent": 6}
    for name in BROKEN:  # two failures open the circuit; the other four wait
        assert first.by_channel[name] == {"retrying": 2, "breaker_open": 4}, name
        assert deliverer.breakers.state(name) == "open"
    errors = {e.channel: e.last_error for e in store.get_effects(status="pending") if e.attempts}
    assert "raised RuntimeError: upstream exploded" in (errors["raising"] or "")
    assert "gave no answer within its 0.2s timeout" in (errors["hanging"] or "")
    assert "not a journeyflow.types.Delivery" in (errors["garbage"] or "")

    # batch 2, meanwhile: half the customers order; the journeys move on
    engine.ingest([track(c, "ordered", "2026-01-01T06:00:00Z") for c in customers[:3]])
    assert [state_of(engine, c, "fanout")[0] for c in customers] == ["customer"] * 3 + [
        "welcome"
    ] * 3
    clock.set(at("2026-01-01T00:30:00Z"))  # the failed sends are due; the circuits still open
    second = deliverer.run()
    assert second.by_channel["good"] == {"sent": 3}  # the thank-yous
    # the broken channels are not even claimed while their circuits are open
    assert set(second.by_channel) == {"good"}
    assert second.open_circuits == sorted(BROKEN)

    # timers: the others lapse, the customers finish; more effects for the good channel only
    engine.advance_to(at("2026-01-05T00:00:00Z"))
    assert [state_of(engine, c, "fanout")[0] for c in customers] == ["done"] * 3 + ["lapsed"] * 3
    assert deliverer.run().by_channel.get("good") is None  # nothing new to send

    # every good effect delivered exactly once; the broken ones still pending, none dead
    sent = [e.key for e in store.get_effects() if e.channel == "good"]
    assert sorted(good.keys) == sorted(sent) and len(sent) == 9
    broken_rows = [e for e in store.get_effects() if e.channel in BROKEN]
    assert {e.status for e in broken_rows} == {"pending"}
    assert sorted(e.attempts for e in broken_rows) == [0] * 12 + [1] * 6
    store.close()
