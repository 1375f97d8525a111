"""Tests for outbox mutants that survived the suite (docs/mutation-testing.md),
checked against the outbox after the lease rewrite: a channel's `retry_after`,
what an attempt records (`last_error`, `next_attempt_at`) on the row and in the
hooks, the lease arithmetic (`delivery.lease`, `_lease`, `_one_send`) and the
default `max_attempts`. Every test runs on every store (memory, a SQLite file,
PostgreSQL); the lease is read where the stores keep it, the pending row's
`next_attempt_at`, from inside the channel, while the deliverer holds it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from journeyflow.clock import VirtualClock
from journeyflow.delivery.lease import Claim
from journeyflow.delivery.outbox import backoff, dispatch
from journeyflow.plugin.manager import build_manager
from journeyflow.plugin.markers import hookimpl
from journeyflow.plugin.registry import Registry
from journeyflow.store import MemoryStore
from journeyflow.store.base import Store
from journeyflow.store.sql import SqlStore
from journeyflow.types import Channel, Delivery, Effect
from tests.delivery.test_outbox import NOW, Recording, Watcher, effect, registry_with

Outbox = Callable[..., Store]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    """As in test_outbox.py: a store holding the given effects."""
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


def registry_of(*channels: Channel) -> Registry:
    class Plugin:
        @hookimpl
        def journeyflow_channels(self) -> list[Channel]:
            return list(channels)

    pm = build_manager(entry_points=False, disabled=())
    pm.register(Plugin(), name="pigeons")
    return Registry.from_manager(pm)


def leases_seen(store: Store, seen: list[dict[str, datetime | None]]) -> Callable[..., Delivery]:
    """A channel noting, at each send, every row's `next_attempt_at` (a held
    effect's lease)."""

    def deliver(effect: Effect) -> Delivery:
        seen.append({e.key: e.next_attempt_at for e in store.get_effects()})
        return Delivery.sent()

    return deliver


# --- retry_after -----------------------------------------------------------------------


def _retry_time(outbox: Outbox, answer: Delivery) -> tuple[datetime | None, Effect]:
    watcher = Watcher()
    store = outbox(effect())
    # the backoff's ceiling, without jitter: the times below are exact
    registry = registry_with(Recording(answer), watcher=watcher)
    report = dispatch(store, registry, clock=VirtualClock(NOW), delay=backoff)
    assert report.retrying == 1
    [stored] = store.get_effects()
    [(told, _)] = watcher.failed
    return stored.next_attempt_at, told


def test_a_retry_after_longer_than_the_backoff_is_waited(outbox: Outbox) -> None:
    assert backoff(1) == timedelta(minutes=1)
    at, told = _retry_time(outbox, Delivery.retry("busy", after=timedelta(minutes=10)))
    assert at == NOW + timedelta(minutes=10)
    assert told.next_attempt_at == NOW + timedelta(minutes=10)


def test_a_retry_after_shorter_than_the_backoff_keeps_the_backoff(outbox: Outbox) -> None:
    at, _ = _retry_time(outbox, Delivery.retry("busy", after=timedelta(seconds=10)))
    assert at == NOW + backoff(1)


def test_a_retry_after_beyond_the_cap_waits_the_cap(outbox: Outbox) -> None:
    at, _ = _retry_time(outbox, Delivery.retry("busy", after=timedelta(days=2)))
    assert at == NOW + timedelta(hours=6)


# --- what an attempt records, on the row and in the hooks ------------------------------


def test_a_temporary_failure_records_its_detail_and_retry_time(outbox: Outbox) -> None:
    at, told = _retry_time(outbox, Delivery.retry("storm"))
    assert at == NOW + backoff(1)
    assert (told.status, told.attempts, told.last_error) == ("pending", 1, "storm")
    assert told.next_attempt_at == NOW + backoff(1)


def test_a_temporary_failure_without_detail_says_so(outbox: Outbox) -> None:
    store = outbox(effect())
    dispatch(store, registry_with(Recording(Delivery.retry(""))), clock=VirtualClock(NOW))
    [stored] = store.get_effects()
    assert (stored.status, stored.last_error) == ("pending", "temporary failure")


def test_a_permanent_failure_tells_the_hooks_its_detail(outbox: Outbox) -> None:
    watcher = Watcher()
    store = outbox(effect())
    registry = registry_with(Recording(Delivery.give_up("no such pigeon")), watcher=watcher)
    dispatch(store, registry, clock=VirtualClock(NOW))
    [(told, _)] = watcher.failed
    assert (told.status, told.last_error, told.next_attempt_at) == (
        "failed",
        "no such pigeon",
        None,
    )


def test_the_default_max_attempts_is_five(outbox: Outbox) -> None:
    store, clock = outbox(effect()), VirtualClock(NOW)
    registry = registry_with(Recording(Delivery.retry("storm")))
    for attempt in range(1, 5):
        assert dispatch(store, registry, clock=clock).retrying == 1
        clock.set(clock.now() + backoff(attempt))
    assert dispatch(store, registry, clock=clock).failed == 1
    [stored] = store.get_effects()
    assert (stored.status, stored.attempts) == ("failed", 5)


# --- the lease -------------------------------------------------------------------------


def test_the_default_lease_is_the_slowest_channel_timeout_plus_slack_and_margin(
    outbox: Outbox,
) -> None:
    # channels of 5 s and 30 s: the lease is 30 + 1 + 60 s past each renewal,
    # longer than the 5 s send (5 + 1 s) it is renewed for
    store = outbox(effect("k1"), effect("k2"))
    seen: list[dict[str, datetime | None]] = []
    registry = registry_of(
        Channel("pigeon", deliver=leases_seen(store, seen), timeout=5.0),
        Channel("owl", deliver=leases_seen(store, seen), timeout=30.0),
    )
    report = dispatch(store, registry, clock=VirtualClock(NOW))
    assert report.sent == 2
    held = NOW + timedelta(seconds=91)
    assert seen == [{"k1": held, "k2": held}, {"k1": None, "k2": held}]


def test_a_send_longer_than_the_lease_is_covered_by_its_renewal(outbox: Outbox) -> None:
    # a 1 s lease, a 5 s channel: renewed before the send for 5 + 1 s
    store = outbox(effect("k1"), effect("k2"))
    seen: list[dict[str, datetime | None]] = []
    registry = registry_of(Channel("pigeon", deliver=leases_seen(store, seen), timeout=5.0))
    report = dispatch(store, registry, clock=VirtualClock(NOW), lease=timedelta(seconds=1))
    assert report.sent == 2
    held = NOW + timedelta(seconds=6)
    assert seen == [{"k1": held, "k2": held}, {"k1": None, "k2": held}]


def test_a_renewal_counts_from_its_own_time(outbox: Outbox) -> None:
    # each send takes 7 minutes of a 10-minute lease: the renewal before k2 is
    # 10 minutes past that moment, not past the claim
    store, clock = outbox(effect("k1"), effect("k2")), VirtualClock(NOW)
    seen: list[dict[str, datetime | None]] = []
    note = leases_seen(store, seen)

    def slow(effect: Effect) -> Delivery:
        answer = note(effect)
        clock.set(clock.now() + timedelta(minutes=7))
        return answer

    registry = registry_of(Channel("pigeon", deliver=slow, timeout=5.0))
    report = dispatch(store, registry, clock=clock, lease=timedelta(minutes=10))
    assert report.sent == 2
    first, second = NOW + timedelta(minutes=10), NOW + timedelta(minutes=17)
    assert seen == [{"k1": first, "k2": first}, {"k1": None, "k2": second}]


def test_a_claim_leases_from_when_it_is_taken(outbox: Outbox) -> None:
    # due by the run's start, but leased from the moment of the claim
    store = outbox(effect("k1"))
    clock = VirtualClock(NOW + timedelta(hours=1))
    claim = Claim.take(store, clock, due_by=NOW, limit=10, lease=timedelta(minutes=5))
    assert [e.key for e in claim.effects] == ["k1"]
    [stored] = store.get_effects()
    assert stored.next_attempt_at == NOW + timedelta(hours=1, minutes=5)
