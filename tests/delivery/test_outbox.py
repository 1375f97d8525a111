"""The outbox dispatcher, the built-in console and task channels, and the
`deliver` / `tasks` commands. Every test builds its own PluginManager.

The dispatcher's tests run on every store (`outbox`: memory, a SQLite file,
PostgreSQL): retry times, backoff and leases live in the store, and a store
that forgets one must fail a test here."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from journeyflow.clock import VirtualClock
from journeyflow.delivery.outbox import backoff, dispatch
from journeyflow.delivery.sentkeys import SentKeys
from journeyflow.exceptions import JourneyflowError
from journeyflow.plugin.builtin.console import ConsoleChannel, format_line
from journeyflow.plugin.builtin.task import complete_task, list_tasks
from journeyflow.plugin.manager import build_manager
from journeyflow.plugin.markers import hookimpl
from journeyflow.plugin.registry import Registry
from journeyflow.store import MemoryStore
from journeyflow.store.base import Store
from journeyflow.store.sql import SqlStore
from journeyflow.testing.conformance import make_effect, run_channel_conformance
from journeyflow.testing.pytest_plugin import EngineFactory
from journeyflow.types import Channel, Delivery, Effect
from tests.helpers import at, track
from tests.journeys import TASKS, WELCOME

NOW = at("2026-03-01T12:00:00Z")


class Recording:
    """A channel whose answers the test scripts."""

    def __init__(self, *answers: Delivery | Callable[[Effect], Delivery]) -> None:
        self.answers = list(answers) or [Delivery.sent("ok")]
        self.seen: list[Effect] = []

    def __call__(self, effect: Effect) -> Delivery:
        self.seen.append(effect)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(effect) if callable(answer) else answer


class Watcher:
    """A plugin recording the delivery hooks."""

    def __init__(self) -> None:
        self.delivered: list[tuple[Effect, Delivery]] = []
        self.failed: list[tuple[Effect, Delivery]] = []

    @hookimpl
    def journeyflow_effect_delivered(self, effect: Effect, delivery: Delivery) -> None:
        self.delivered.append((effect, delivery))

    @hookimpl
    def journeyflow_effect_failed(self, effect: Effect, delivery: Delivery) -> None:
        self.failed.append((effect, delivery))


def registry_with(
    channel: Callable[[Effect], Delivery],
    *,
    name: str = "pigeon",
    timeout: float = 5.0,
    watcher: Watcher | None = None,
) -> Registry:
    class Plugin:
        @hookimpl
        def journeyflow_channels(self) -> list[Channel]:
            return [Channel(name, deliver=channel, timeout=timeout)]

    pm = build_manager(entry_points=False, disabled=())
    pm.register(Plugin(), name="pigeons")
    if watcher is not None:
        pm.register(watcher, name="watcher")
    return Registry.from_manager(pm)


Outbox = Callable[..., Store]  # effects -> a store holding them


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def outbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outbox]:
    """Makes a store holding the given effects: in memory, in a SQLite file,
    or in a PostgreSQL database."""
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


def effect(key: str = "k1", channel: str = "pigeon", **kw: Any) -> Effect:
    # `seq` from the key's digits: the outbox order (created, enrolment, seq) is total
    kw.setdefault("seq", int("".join(c for c in key if c.isdigit()) or 0))
    return replace(make_effect(key, channel), **kw)


# --- dispatch --------------------------------------------------------------------------


def test_pending_effect_is_sent_and_observers_hear_of_it(outbox: Outbox) -> None:
    channel, watcher = Recording(), Watcher()
    store = outbox(effect())
    report = dispatch(store, registry_with(channel, watcher=watcher), clock=VirtualClock(NOW))
    assert (report.sent, report.failed, report.retrying) == (1, 0, 0)
    [stored] = store.get_effects()
    assert (stored.status, stored.attempts, stored.last_error) == ("sent", 1, None)
    [(told, delivery)] = watcher.delivered
    assert told.status == "sent" and told.attempts == 1 and delivery.detail == "ok"
    assert watcher.failed == []
    assert report.by_channel == {"pigeon": {"sent": 1}}


def test_sent_effects_are_not_delivered_again(outbox: Outbox) -> None:
    channel = Recording()
    store = outbox(effect())
    registry = registry_with(channel)
    dispatch(store, registry, clock=VirtualClock(NOW))
    assert dispatch(store, registry, clock=VirtualClock(NOW)).attempted == 0
    assert len(channel.seen) == 1


def test_permanent_failure_fails_the_effect(outbox: Outbox) -> None:
    watcher = Watcher()
    store = outbox(effect())
    report = dispatch(
        store,
        registry_with(Recording(Delivery.give_up("no such pigeon")), watcher=watcher),
        clock=VirtualClock(NOW),
    )
    assert report.failed == 1
    [stored] = store.get_effects()
    assert (stored.status, stored.attempts, stored.last_error) == ("failed", 1, "no such pigeon")
    assert watcher.failed[0][1].status == "permanent_failure"


def test_temporary_failure_waits_with_backoff_then_gives_up(outbox: Outbox) -> None:
    channel, watcher = Recording(Delivery.retry("storm")), Watcher()
    store, clock = outbox(effect()), VirtualClock(NOW)
    registry = registry_with(channel, watcher=watcher)
    for attempt in range(1, 5):
        report = dispatch(store, registry, clock=clock, max_attempts=5, delay=backoff)
        assert report.retrying == 1
        [stored] = store.get_effects()
        assert (stored.status, stored.attempts) == ("pending", attempt)
        assert stored.next_attempt_at == clock.now() + backoff(attempt)
        # not due yet: waits
        assert dispatch(store, registry, clock=clock).waiting == 1
        clock.set(clock.now() + backoff(attempt))
    report = dispatch(store, registry, clock=clock, max_attempts=5)
    assert report.failed == 1
    [stored] = store.get_effects()
    assert stored.status == "failed" and stored.attempts == 5
    assert stored.last_error == "gave up after 5 attempts: storm"
    assert len(watcher.failed) == 5 and len(channel.seen) == 5


def test_a_failing_effect_is_tried_once_a_run_and_waits_for_its_stored_retry_time(
    outbox: Outbox,
) -> None:
    channel = Recording(Delivery.retry("storm"))
    store, registry = outbox(effect()), registry_with(channel)
    report = dispatch(store, registry, clock=VirtualClock(NOW), max_attempts=5, delay=backoff)
    assert (report.retrying, len(channel.seen)) == (1, 1)  # once, not max_attempts times
    [stored] = store.get_effects()
    assert stored.next_attempt_at == NOW + backoff(1)  # stored, not only computed
    early = NOW + backoff(1) - timedelta(seconds=1)
    assert dispatch(store, registry, clock=VirtualClock(early)).attempted == 0
    assert len(channel.seen) == 1
    later = VirtualClock(NOW + backoff(1))
    assert dispatch(store, registry, clock=later, delay=backoff).retrying == 1
    assert len(channel.seen) == 2
    [stored] = store.get_effects()
    assert stored.next_attempt_at == NOW + backoff(1) + backoff(2)  # and it grew


def test_a_claim_holds_its_effects_by_its_token(outbox: Outbox) -> None:
    store = outbox(effect("k1"), effect("k2"))
    lease = timedelta(minutes=5)
    assert [e.key for e in store.claim_effects(NOW, 10, NOW + lease, "a" * 32)] == ["k1", "k2"]
    assert store.claim_effects(NOW + lease - timedelta(seconds=1), 10, NOW, "b" * 32) == []
    assert store.renew_claim("a" * 32, NOW + 2 * lease) == {"k1", "k2"}
    assert store.claim_effects(NOW + lease, 10, NOW + 3 * lease, "b" * 32) == []  # renewed
    assert store.record_attempt("k1", "a" * 32, "sent", 1, None)
    assert store.renew_claim("a" * 32, NOW + 2 * lease) == {"k2"}  # k1 is recorded
    # a's lease runs out; b takes k2 over, and a can neither renew nor record it
    later = NOW + 2 * lease
    assert [e.key for e in store.claim_effects(later, 10, later + lease, "b" * 32)] == ["k2"]
    assert store.renew_claim("a" * 32, later + lease) == set()
    assert not store.record_attempt("k2", "a" * 32, "failed", 1, "late")
    assert store.record_attempt("k2", "b" * 32, "pending", 1, "busy", later + lease)
    assert not store.record_attempt("k2", "b" * 32, "sent", 2, None)  # recorded: let go
    statuses = {e.key: (e.status, e.attempts, e.last_error) for e in store.get_effects()}
    assert statuses == {"k1": ("sent", 1, None), "k2": ("pending", 1, "busy")}


def test_a_long_batch_keeps_the_lease_on_its_later_effects(outbox: Outbox) -> None:
    # every send takes 8 of the lease's 10 minutes: the claim is renewed before
    # each, so when the run is long past its start the later effects are still held
    store = outbox(effect("k1"), effect("k2"), effect("k3"))
    clock = VirtualClock(NOW)
    intruders: list[list[str]] = []

    def slow(effect: Effect) -> Delivery:
        clock.set(clock.now() + timedelta(minutes=8))
        found = store.claim_effects(clock.now(), 10, clock.now(), "intruder".ljust(32, "-"))
        intruders.append([e.key for e in found])
        return Delivery.sent()

    report = dispatch(store, registry_with(slow), clock=clock, lease=timedelta(minutes=10))
    assert intruders == [[], [], []]
    assert (report.sent, report.lost) == (3, 0)


def test_a_deliverer_that_lost_its_lease_sends_and_records_nothing_more(outbox: Outbox) -> None:
    store = outbox(effect("k1"), effect("k2"))
    clock = VirtualClock(NOW)
    watcher = Watcher()

    def stalled(effect: Effect) -> Delivery:
        # this deliverer stalls past its lease; another claims both effects meanwhile
        clock.set(clock.now() + timedelta(hours=1))
        store.claim_effects(clock.now(), 10, clock.now() + timedelta(hours=1), "b" * 32)
        return Delivery.sent()

    channel = Recording(stalled)
    registry = registry_with(channel, watcher=watcher)
    report = dispatch(store, registry, clock=clock, lease=timedelta(minutes=10))
    assert [e.key for e in channel.seen] == ["k1"]  # k2: skipped, no longer held
    assert (report.sent, report.lost, watcher.delivered) == (0, 2, [])
    assert "2 left to another deliverer (lease lost)" in report.summary()
    # k1's delivery is the holder's to record: the row still waits for it
    assert {e.status for e in store.get_effects()} == {"pending"}
    assert store.record_attempt("k1", "b" * 32, "sent", 1, None)


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert backoff(30) == timedelta(hours=6)


def test_a_retry_succeeds(outbox: Outbox) -> None:
    channel = Recording(Delivery.retry("busy"), Delivery.sent())
    store, clock = outbox(effect()), VirtualClock(NOW)
    registry = registry_with(channel)
    dispatch(store, registry, clock=clock)
    clock.set(NOW + timedelta(hours=1))
    assert dispatch(store, registry, clock=clock).sent == 1
    [stored] = store.get_effects()
    assert (stored.status, stored.attempts, stored.last_error) == ("sent", 2, None)


def test_unknown_channel_fails_permanently_naming_the_registered_ones(outbox: Outbox) -> None:
    store = outbox(effect(channel="carrier-owl"))
    report = dispatch(store, registry_with(Recording()), clock=VirtualClock(NOW))
    assert report.failed == 1
    [stored] = store.get_effects()
    assert stored.status == "failed"
    assert stored.last_error is not None
    assert "no installed plugin registers channel 'carrier-owl'" in stored.last_error
    assert "console, pigeon, task" in stored.last_error


def test_a_raising_channel_is_a_temporary_failure_naming_the_plugin(
    outbox: Outbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def explode(effect: Effect) -> Delivery:
        raise RuntimeError("boom")

    store = outbox(effect())
    report = dispatch(store, registry_with(explode), clock=VirtualClock(NOW))
    assert report.retrying == 1
    [stored] = store.get_effects()
    assert stored.last_error is not None
    assert "channel 'pigeon' (plugin 'pigeons') raised RuntimeError: boom" in stored.last_error


def test_a_channel_returning_garbage_is_a_temporary_failure(outbox: Outbox) -> None:
    store = outbox(effect())
    dispatch(store, registry_with(lambda e: "ok"), clock=VirtualClock(NOW))  # type: ignore[arg-type,return-value]
    [stored] = store.get_effects()
    assert stored.status == "pending" and "not a journeyflow.types.Delivery" in str(
        stored.last_error
    )


def test_a_hanging_channel_is_abandoned_after_its_timeout(outbox: Outbox) -> None:
    release = threading.Event()

    def hang(effect: Effect) -> Delivery:
        release.wait(10)
        return Delivery.sent()

    store = outbox(effect())
    started = time.monotonic()
    try:
        report = dispatch(store, registry_with(hang, timeout=0.2), clock=VirtualClock(NOW))
    finally:
        release.set()
    assert time.monotonic() - started < 0.2 + 1.0 + 0.5
    assert report.retrying == 1
    assert "gave no answer within its 0.2s timeout" in str(store.get_effects()[0].last_error)


def test_limit_caps_deliveries_per_run(outbox: Outbox) -> None:
    store = outbox(*(effect(f"k{i}") for i in range(5)))
    assert dispatch(store, registry_with(Recording()), clock=VirtualClock(NOW), limit=2).sent == 2
    assert len(store.get_effects(status="pending")) == 3


def test_suppressed_effects_are_never_delivered(outbox: Outbox) -> None:
    channel = Recording()
    store = outbox(effect(status="suppressed"))
    assert dispatch(store, registry_with(channel), clock=VirtualClock(NOW)).attempted == 0
    assert channel.seen == []


def test_channels_see_the_customer_attributes(journeyflow_engine: EngineFactory) -> None:
    engine = journeyflow_engine("""
journey: hello
version: 1
entry: {on: [signed_up]}
initial: welcome
states:
  welcome:
    on_enter: [{send: pigeon, template: hi}]
    transitions: [{after: 1d, to: done}]
  done: {final: true}
""")
    engine.ingest(
        [
            {
                "type": "identify",
                "userId": "c1",
                "traits": {"email": "c1@example.com"},
                "timestamp": "2026-01-01T00:00:00Z",
                "messageId": "i1",
            },
            track("c1", "signed_up", "2026-01-01T00:01:00Z"),
        ]
    )
    channel = Recording()
    dispatch(engine.store, registry_with(channel), clock=VirtualClock(NOW))
    [seen] = channel.seen
    assert seen.customer["email"] == "c1@example.com"
    assert "c1@example.com" not in repr(seen)  # attributes stay out of logs
    assert engine.store.get_effects()[0].customer == {}  # never stored


def test_a_raising_delivery_observer_does_not_stop_dispatch(outbox: Outbox) -> None:
    class Broken:
        @hookimpl
        def journeyflow_effect_delivered(self, effect: Effect, delivery: Delivery) -> None:
            raise ValueError("observer bug")

    watcher = Watcher()
    registry = registry_with(Recording(), watcher=watcher)
    assert registry.manager is not None
    registry.manager.register(Broken(), name="broken")
    store = outbox(effect("a"), effect("b"))
    assert dispatch(store, registry, clock=VirtualClock(NOW)).sent == 2
    assert len(watcher.delivered) == 2


# --- SentKeys --------------------------------------------------------------------------


@pytest.mark.parametrize("on_disk", [True, False])
def test_sent_keys(tmp_path: Path, on_disk: bool) -> None:
    path = tmp_path / "state" / "sent.sqlite3" if on_disk else None
    keys = SentKeys(path, "email")
    assert "k" not in keys
    keys.add("k", "accepted")
    keys.add("k")
    assert "k" in keys
    assert "k" not in SentKeys(path, "sms")  # per channel
    if on_disk:
        assert "k" in SentKeys(path, "email")  # survives a restart


def test_sent_keys_create_nothing_until_used(tmp_path: Path) -> None:
    SentKeys(tmp_path / "state" / "sent.sqlite3", "email")
    assert not (tmp_path / "state").exists()


# --- the console channel -----------------------------------------------------------------


class ConsoleHarness:
    modes: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.out = io.StringIO()
        self.instance = ConsoleChannel(self.out)

    def channel(self, *, timeout: float) -> Channel:
        # one process, one channel: console idempotency is per process (documented)
        return Channel("console", deliver=self.instance, timeout=timeout)

    def effect(self, key: str) -> Effect:
        return make_effect(key, "console", data={"coupon": "GIFT10"})

    def deliveries(self, key: str) -> int:
        return sum(
            1 for line in self.out.getvalue().splitlines() if line.endswith(f"key={key[:12]}")
        )

    def set_mode(self, mode: str | None) -> None:
        assert mode is None, "the console cannot fail"


def test_console_channel_conforms() -> None:
    assert run_channel_conformance(ConsoleHarness()) == {}


def test_console_line() -> None:
    line = format_line(make_effect("abcdef1234567890", "console", data={"coupon": "GIFT10"}))
    assert line == (
        "2026-01-01T10:00:00+00:00 customer=c-1 journey=conformance "
        'template=welcome data={"coupon": "GIFT10"} key=abcdef123456'
    )


# --- the task channel and `journeyflow tasks` ----------------------------------------------


class TaskHarness:
    modes: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.assigned: list[str] = []
        registry = Registry.from_manager(build_manager(entry_points=False, disabled=()))
        self.inner = registry.channels["task"]

    def channel(self, *, timeout: float) -> Channel:
        def deliver(effect: Effect) -> Delivery:
            delivery = self.inner.deliver(effect)
            if effect.key not in self.assigned:  # assigning is setting a status: idempotent
                self.assigned.append(effect.key)
            return delivery

        return Channel("task", deliver=deliver, timeout=timeout)

    def effect(self, key: str) -> Effect:
        return make_effect(key, "task", template=None, data={"owner": "sales", "title": "Call"})

    def deliveries(self, key: str) -> int:
        return self.assigned.count(key)

    def set_mode(self, mode: str | None) -> None:
        assert mode is None, "the task channel cannot fail"


def test_task_channel_conforms() -> None:
    assert run_channel_conformance(TaskHarness()) == {}


def test_tasks_are_assigned_listed_and_done(journeyflow_engine: EngineFactory) -> None:
    engine = journeyflow_engine(TASKS)
    engine.ingest([track("c1", "appointment_booked", "2026-01-01T09:00:00Z", at="15:00")])
    store = engine.store
    assert [t.data["owner"] for t in list_tasks(store)] == ["front-desk", "tailor"]
    registry = Registry.from_manager(build_manager(entry_points=False, disabled=()))
    out = io.StringIO()
    registry.channels["console"] = Channel("console", deliver=ConsoleChannel(out))
    report = dispatch(store, registry, clock=VirtualClock(NOW))
    assert report.by_channel == {"console": {"sent": 1}, "task": {"sent": 2}}
    assert 'template=confirmation data={"at": "15:00"}' in out.getvalue()
    [desk] = list_tasks(store, owner="front-desk")
    assert desk.status == "sent" and desk.data["due"] == "1d"
    complete_task(store, desk.key[:10])
    assert [t.data["owner"] for t in list_tasks(store)] == ["tailor"]
    assert [t.key for t in list_tasks(store, status="done")] == [desk.key]
    assert dispatch(store, registry, clock=VirtualClock(NOW)).attempted == 0
    with pytest.raises(JourneyflowError, match="is done, not open"):
        complete_task(store, desk.key)
    with pytest.raises(JourneyflowError, match="no task has a key starting with 'zz'"):
        complete_task(store, "zz")
    with pytest.raises(JourneyflowError, match="2 tasks have keys starting with ''"):
        complete_task(store, "")


# --- the commands, on SQLite ---------------------------------------------------------------


@pytest.fixture
def builtins_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands load the installed plugins; here there are none."""
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [])


def test_deliver_and_tasks_commands(tmp_path: Path, builtins_only: None) -> None:
    from journeyflow.cli import main

    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "salon.yaml").write_text(TASKS)
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(track("c1", "appointment_booked", "2026-01-01T09:00:00Z", at="15:00")) + "\n"
    )
    db = f"sqlite:///{tmp_path / 'jf.db'}"
    runner = CliRunner()
    result = runner.invoke(main, ["ingest", str(events), "-j", str(journeys), "-d", db])
    assert result.exit_code == 0, result.output

    result = runner.invoke(main, ["tasks", "-d", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [(t["owner"], t["status"]) for t in listed] == [
        ("front-desk", "queued"),
        ("tailor", "queued"),
    ]

    result = runner.invoke(main, ["deliver", "-d", db, "--lease", "0"])
    assert result.exit_code == 2 and "--lease" in result.output
    result = runner.invoke(main, ["deliver", "-d", db, "--lease", "30"])
    assert result.exit_code == 0, result.output
    assert "customer=c1 journey=salon template=confirmation" in result.output
    assert "3 sent, 0 to retry, 0 failed" in result.output
    assert "task: 2 sent" in result.output

    result = runner.invoke(main, ["tasks", "-d", db, "--owner", "tailor"])
    assert result.exit_code == 0
    assert "assigned" in result.output and "Book the fitting room" in result.output
    key = listed[1]["key"]
    result = runner.invoke(main, ["tasks", "done", key[:12], "-d", db])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"done: {key[:12]} Book the fitting room")
    result = runner.invoke(main, ["tasks", "-d", db, "--status", "done", "--format", "json"])
    assert [t["key"] for t in json.loads(result.output)] == [key]

    result = runner.invoke(main, ["tasks", "-d", db, "done", "nope"])
    assert result.exit_code == 1
    assert "Error: no task has a key starting with 'nope'" in result.output
    assert "Traceback" not in result.output


def test_two_deliverers_on_one_database_hand_each_effect_over_once(
    shared_url: str, journeyflow_engine: EngineFactory
) -> None:
    from journeyflow.store.sql import SqlStore

    customers = [f"c{i}" for i in range(150)]
    engine = journeyflow_engine(WELCOME, store=shared_url)
    engine.ingest([track(c, "signed_up", "2026-02-01T00:00:00Z") for c in customers])
    engine.store.close()
    handed: list[str] = []
    lock = threading.Lock()

    def pigeon(effect: Effect) -> Delivery:
        with lock:
            handed.append(effect.key)
        time.sleep(0.001)  # long enough for the other deliverer to run meanwhile
        return Delivery.sent("ok")

    reports: list[Any] = []

    def deliverer(store: SqlStore) -> None:
        reports.append(dispatch(store, registry_with(pigeon), clock=VirtualClock(NOW)))

    # each deliverer has its own store (own connections); opened here, as
    # Alembic's migration context is not thread-safe
    stores = [SqlStore(shared_url) for _ in range(2)]
    threads = [threading.Thread(target=deliverer, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for store in stores:
        store.close()
    assert len(reports) == 2
    assert sorted(handed) == sorted(set(handed)) and len(handed) == len(customers)
    assert sum(r.sent for r in reports) == len(customers)
    assert all(r.sent > 0 for r in reports)  # both took a share: the claims interleaved
    check = SqlStore(shared_url)
    assert {e.status for e in check.get_effects()} == {"sent"}
    check.close()


def test_effects_claimed_by_a_deliverer_that_died_are_retried_when_the_lease_runs_out(
    outbox: Outbox,
) -> None:
    store = outbox(effect("k1"), effect("k2"))
    waiting = store.waiting_effects(NOW)
    claimed = store.claim_effects(NOW, 10, NOW + timedelta(minutes=5), "dead")  # ...then it died
    assert [e.key for e in claimed] == ["k1", "k2"] and waiting == 0
    channel = Recording()
    registry = registry_with(channel)
    report = dispatch(store, registry, clock=VirtualClock(NOW + timedelta(minutes=4)))
    assert (report.sent, report.waiting, channel.seen) == (0, 2, [])  # still leased
    report = dispatch(store, registry, clock=VirtualClock(NOW + timedelta(minutes=5)))
    assert report.sent == 2 and [e.key for e in channel.seen] == ["k1", "k2"]
