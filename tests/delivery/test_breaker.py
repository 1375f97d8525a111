"""A circuit breaker per channel (pybreaker), kept by the `Deliverer` across
runs, and the jittered backoff (tenacity) that spaces out retries.

The breaker's cool-down is measured on the deliverer's clock (a
VirtualClock here): the tests move that clock, never sleep. Every test runs
on the memory store, a SQLite file and PostgreSQL (`outbox`), since what an
open circuit does to a row (pending, attempts untouched, a retry time) is
the store's to keep."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from journeyflow.clock import VirtualClock
from journeyflow.delivery.backoff import BACKOFF_CAP, backoff, jittered_backoff
from journeyflow.delivery.breaker import ChannelBreakers
from journeyflow.delivery.outbox import Deliverer, dispatch
from journeyflow.plugin.manager import build_manager
from journeyflow.plugin.markers import hookimpl
from journeyflow.plugin.registry import Registry
from journeyflow.store import MemoryStore
from journeyflow.store.base import Store
from journeyflow.store.sql import SqlStore
from journeyflow.testing.conformance import make_effect
from journeyflow.types import Channel, Delivery, Effect
from tests.helpers import at

NOW = at("2026-03-01T12:00:00Z")
COOL_DOWN = timedelta(minutes=10)

Outbox = Callable[..., Store]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    opened: list[SqlStore] = []

    def make(*effects: Effect) -> Store:
        store: Store
        if request.param == "memory":
            store = MemoryStore()
        else:
            url = (
                f"sqlite:///{tmp_path / 'outbox.db'}"
                if request.param == "sqlite"
                else str(request.getfixturevalue("pg_url"))
            )
            store = SqlStore(url)
            opened.append(store)
        with store.unit_of_work() as uow:
            for e in effects:
                uow.add_effect(e)
        return store

    yield make
    for store in opened:
        store.close()


class Switch:
    """A channel that fails (temporarily) until switched on, counting calls."""

    def __init__(self, answer: Delivery | None = None) -> None:
        self.answer = answer or Delivery.retry("receiver down")
        self.seen: list[str] = []

    def __call__(self, effect: Effect) -> Delivery:
        self.seen.append(effect.key)
        return self.answer


def registry(**channels: Callable[[Effect], Delivery]) -> Registry:
    class Plugin:
        @hookimpl
        def journeyflow_channels(self) -> list[Channel]:
            return [Channel(name, deliver=fn, timeout=5.0) for name, fn in channels.items()]

    pm = build_manager(entry_points=False, disabled=())
    pm.register(Plugin(), name="channels")
    return Registry.from_manager(pm)


def effects(channel: str, n: int, start: int = 0) -> list[Effect]:
    # one minute apart: the outbox's order is the order made
    return [
        replace(make_effect(f"{channel}-{i:02d}", channel), seq=i, created_at=NOW.replace(second=i))
        for i in range(start, start + n)
    ]


def by_key(store: Store) -> dict[str, Effect]:
    return {e.key: e for e in store.get_effects()}


# --- the circuit breaker -------------------------------------------------------------


def test_a_failing_channel_opens_its_circuit_and_the_others_go_on(outbox: Outbox) -> None:
    down, up = Switch(), Switch(Delivery.sent())
    # interleaved: the failing channel's effects come first in the outbox
    store = outbox(*effects("down", 8), *effects("up", 4, start=8))
    clock = VirtualClock(NOW)
    deliverer = Deliverer(
        store,
        registry(down=down, up=up),
        clock=clock,
        failures_to_open=3,
        cool_down=COOL_DOWN,
    )
    report = deliverer.run()
    assert len(down.seen) == 3  # the three that opened the circuit, no more
    assert len(up.seen) == 4
    assert report.by_channel == {
        "down": {"retrying": 3, "breaker_open": 5},
        "up": {"sent": 4},
    }
    assert deliverer.breakers.state("down") == "open"
    assert deliverer.breakers.state("up") == "closed"
    rows = by_key(store)
    held = [rows[f"down-{i:02d}"] for i in range(3, 8)]
    # held back: still pending, no attempt used, due when the circuit lets a trial through
    assert {(e.status, e.attempts, e.next_attempt_at) for e in held} == {
        ("pending", 0, NOW + COOL_DOWN)
    }
    tried = [rows[f"down-{i:02d}"] for i in range(3)]
    assert {(e.status, e.attempts, e.last_error) for e in tried} == {
        ("pending", 1, "receiver down")
    }
    assert "5 held back (their channel's circuit is open)" in report.summary()


def test_the_circuit_half_opens_after_its_cool_down_and_one_trial_decides(
    outbox: Outbox,
) -> None:
    down = Switch()
    store = outbox(*effects("down", 6))
    clock = VirtualClock(NOW)
    deliverer = Deliverer(
        store, registry(down=down), clock=clock, failures_to_open=2, cool_down=COOL_DOWN
    )
    assert deliverer.run().by_channel == {"down": {"retrying": 2, "breaker_open": 4}}

    # before the cool-down is over: the channel's rows are not even claimed
    clock.set(NOW + COOL_DOWN - timedelta(seconds=1))
    before = store.get_effects()
    report = deliverer.run()
    assert (report.by_channel, report.open_circuits) == ({}, ["down"])
    assert "circuit open, held back: down" in report.summary()
    assert store.get_effects() == before  # untouched: no lease, no write
    assert len(down.seen) == 2

    # over: one trial, which fails, and the circuit opens for another cool-down
    clock.set(NOW + COOL_DOWN)
    report = deliverer.run()
    assert len(down.seen) == 3
    assert report.by_channel == {"down": {"retrying": 1, "breaker_open": 5}}
    assert deliverer.breakers.state("down") == "open"
    assert deliverer.breakers.reopens_at("down") == NOW + 2 * COOL_DOWN

    # the receiver is back: the next trial is sent, the circuit closes, the rest follow
    down.answer = Delivery.sent()
    clock.set(NOW + 2 * COOL_DOWN)
    report = deliverer.run()
    assert report.by_channel == {"down": {"sent": 6}}
    assert deliverer.breakers.state("down") == "closed"
    assert {(e.status, e.key) for e in store.get_effects()} == {
        ("sent", e.key) for e in effects("down", 6)
    }


def test_held_back_effects_keep_their_attempts_to_the_end(outbox: Outbox) -> None:
    """An open circuit never spends an attempt: with max_attempts 2, an effect
    held back over and over is still tried twice before it is dead-lettered."""
    down = Switch()
    store = outbox(*effects("down", 3))
    clock = VirtualClock(NOW)
    deliverer = Deliverer(
        store,
        registry(down=down),
        clock=clock,
        max_attempts=2,
        failures_to_open=1,
        cool_down=COOL_DOWN,
        delay=lambda attempts: timedelta(minutes=1),
    )
    for step in range(12):
        clock.set(NOW + step * COOL_DOWN)
        deliverer.run()
    rows = by_key(store)
    assert {(e.status, e.attempts) for e in rows.values()} == {("failed", 2)}
    assert sorted(down.seen) == sorted(e.key for e in effects("down", 3) for _ in range(2))


def test_a_permanent_failure_resets_the_count(outbox: Outbox) -> None:
    """A permanent failure means the channel answered (the recipient is
    wrong): it does not count towards opening the circuit, and it clears the
    failures in a row before it."""
    answers = iter(
        [Delivery.retry("x"), Delivery.retry("x"), Delivery.give_up("no such address")] * 3
    )
    store = outbox(*effects("flaky", 9))
    deliverer = Deliverer(
        store,
        registry(flaky=lambda effect: next(answers)),
        clock=VirtualClock(NOW),
        failures_to_open=3,
    )
    report = deliverer.run()
    assert report.by_channel == {"flaky": {"retrying": 6, "failed": 3}}
    assert deliverer.breakers.state("flaky") == "closed"


@pytest.mark.parametrize("answer", ["raises", "garbage"])
def test_a_channel_that_raises_or_answers_garbage_feeds_its_breaker(
    outbox: Outbox, answer: str
) -> None:
    def broken(effect: Effect) -> Delivery:
        if answer == "raises":
            raise ConnectionError("connection reset by peer")
        return "ok"  # type: ignore[return-value]  # not a Delivery

    store = outbox(*effects("broken", 4))
    deliverer = Deliverer(
        store, registry(broken=broken), clock=VirtualClock(NOW), failures_to_open=2
    )
    assert deliverer.run().by_channel == {"broken": {"retrying": 2, "breaker_open": 2}}
    errors = {e.last_error for e in store.get_effects() if e.attempts}
    expected = (
        "raised ConnectionError" if answer == "raises" else "not a journeyflow.types.Delivery"
    )
    assert len(errors) == 1 and expected in errors.pop()  # type: ignore[operator]


def test_each_dispatch_call_starts_with_closed_circuits(outbox: Outbox) -> None:
    """`dispatch` (and `journeyflow deliver`) is one run of a fresh deliverer:
    what a previous run's breaker learnt is gone, the outbox's retry times stay."""
    down = Switch()
    store = outbox(*effects("down", 12))
    reg = registry(down=down)
    first = dispatch(store, reg, clock=VirtualClock(NOW))
    assert first.by_channel == {"down": {"retrying": 5, "breaker_open": 7}}
    # a minute on (the default cool-down): every effect due again, a fresh deliverer
    second = dispatch(store, reg, clock=VirtualClock(NOW + timedelta(minutes=1)))
    assert second.by_channel == {"down": {"retrying": 5, "breaker_open": 7}}
    assert len(down.seen) == 10


def test_the_breakers_clock_is_the_deliverers() -> None:
    clock = VirtualClock(NOW)
    breakers = ChannelBreakers(clock, fail_max=1, reset_timeout=COOL_DOWN)
    assert breakers.call("c", lambda: Delivery.retry("down")) == Delivery.retry("down")
    assert breakers.holds_back("c") == NOW + COOL_DOWN
    assert breakers.call("c", lambda: Delivery.sent()) is None  # open: not called
    clock.set(NOW + COOL_DOWN)  # wall time has not moved; the deliverer's clock has
    assert breakers.holds_back("c") is None
    assert breakers.call("c", lambda: Delivery.sent()) == Delivery.sent()
    assert breakers.state("c") == "closed"
    with pytest.raises(ValueError, match="fail_max"):
        ChannelBreakers(clock, fail_max=0)


# --- the jittered backoff ------------------------------------------------------------


def test_the_backoff_ceiling_doubles_up_to_its_cap() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(9) == timedelta(minutes=256)
    assert backoff(10) == BACKOFF_CAP == backoff(1000)


def test_the_jittered_wait_stays_within_half_its_ceiling_and_the_ceiling() -> None:
    random.seed(15)  # tenacity draws from `random`
    for attempts in range(1, 14):
        ceiling = backoff(attempts)
        waits = [jittered_backoff(attempts) for _ in range(300)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits), attempts
        # jitter indeed: spread over the upper half, not one value
        assert max(waits) - min(waits) > ceiling / 4, attempts


def test_dispatch_stores_a_jittered_retry_time_and_retry_after_is_capped(
    outbox: Outbox,
) -> None:
    answers = iter([Delivery.retry("busy"), Delivery.retry("busy", after=timedelta(days=3))])
    store = outbox(*effects("busy", 2))
    report = dispatch(store, registry(busy=lambda effect: next(answers)), clock=VirtualClock(NOW))
    assert report.retrying == 2
    first, second = store.get_effects()
    assert first.next_attempt_at is not None
    assert NOW + backoff(1) / 2 <= first.next_attempt_at <= NOW + backoff(1)
    assert second.next_attempt_at == NOW + BACKOFF_CAP  # Retry-After, never past the cap


# --- what the claims do for an open circuit --------------------------------------------


def test_a_claim_passes_over_the_skipped_channels_and_renews_by_key(outbox: Outbox) -> None:
    store = outbox(*effects("down", 3), *effects("up", 2, start=3))
    lease = NOW + timedelta(minutes=5)
    claimed = store.claim_effects(NOW, 10, lease, "a" * 32, skip_channels={"down"})
    assert [e.key for e in claimed] == ["up-03", "up-04"]
    assert {e.key for e in store.get_effects() if e.next_attempt_at is None} == {
        "down-00",
        "down-01",
        "down-02",
    }
    later = NOW + timedelta(minutes=10)
    # by key: only the keys named, and only while held under the token
    assert store.renew_claim("a" * 32, later, ["up-03", "down-00"]) == {"up-03"}
    assert by_key(store)["up-03"].next_attempt_at == later
    assert by_key(store)["up-04"].next_attempt_at == lease
    assert store.renew_claim("b" * 32, later, ["up-03"]) == set()
    assert store.record_attempt("up-03", "a" * 32, "sent", 1, None)
    assert store.renew_claim("a" * 32, later, ["up-03", "up-04"]) == {"up-04"}
