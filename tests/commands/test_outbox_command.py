"""`journeyflow outbox list|retry|purge` on a SQLite file and on PostgreSQL:
dead letters (effects `failed` for good) are listed with their redacted
error, retried and then delivered; old delivered or dead effects are purged,
open tasks never; every filter and page is the database's to apply, and the
memory store answers alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import event

from journeyflow.cli import main
from journeyflow.clock import VirtualClock
from journeyflow.delivery.outbox import dispatch
from journeyflow.plugin.manager import build_manager
from journeyflow.plugin.markers import hookimpl
from journeyflow.plugin.registry import Registry
from journeyflow.store import MemoryStore
from journeyflow.store.base import Store
from journeyflow.store.sql import SqlStore
from journeyflow.testing.conformance import make_effect
from journeyflow.types import Channel, Delivery, Effect

NOW = datetime.now(UTC)  # purge measures age against the wall clock, as the command does
OLD = NOW - timedelta(days=90)


def effect(key: str, channel: str, customer: str, *, n: int, **kw: Any) -> Effect:
    made = make_effect(key.ljust(16, "0"), channel, customer_id=customer)
    return replace(made, seq=n, created_at=kw.pop("created_at", OLD + timedelta(minutes=n)), **kw)


def registry(**channels: Any) -> Registry:
    class Plugin:
        @hookimpl
        def journeyflow_channels(self) -> list[Channel]:
            return [Channel(name, deliver=fn) for name, fn in channels.items()]

    pm = build_manager(entry_points=False, disabled=())
    pm.register(Plugin(), name="channels")
    return Registry.from_manager(pm)


@pytest.fixture
def store(shared_url: str) -> Iterator[SqlStore]:
    opened = SqlStore(shared_url)
    yield opened
    opened.close()


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["outbox", *args, "--database", url])


def fill(store: Store, *effects: Effect) -> None:
    with store.unit_of_work() as uow:
        for e in effects:
            uow.add_effect(e)


def test_dead_letters_are_listed_retried_and_then_delivered(
    store: SqlStore, shared_url: str
) -> None:
    fill(
        store,
        *(effect(f"bad{i}", "email", "c-bad", n=i) for i in range(3)),
        *(effect(f"ok{i}", "email", "c-ok", n=10 + i) for i in range(2)),
        effect("sms0", "sms", "c-bad", n=20),
    )

    def email(e: Effect) -> Delivery:
        if e.customer_id == "c-bad":
            return Delivery.give_up("rejected by https://relay:s3cret@mx.example/?key=abc")
        return Delivery.sent()

    dead = registry(email=email, sms=lambda e: Delivery.retry("gateway busy"))
    report = dispatch(store, dead, clock=VirtualClock(NOW), max_attempts=1)
    assert (report.sent, report.failed) == (2, 4)

    listed = run(shared_url, "list", "--status", "dead")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    rows = [line for line in lines if not line.startswith("    ")]
    assert [r.split()[0] for r in rows] == [
        k.ljust(12, "0") for k in ("bad0", "bad1", "bad2", "sms0")
    ]
    assert all("failed" in r and "attempts 1" in r for r in rows)
    assert "s3cret" not in listed.output and "abc" not in listed.output  # redacted when recorded
    assert "gave up after 1 attempts: gateway busy" in listed.output
    assert "4 shown; in the outbox: 4 failed, 2 sent" in listed.stderr

    json_args = ("list", "--status", "failed", "--channel", "sms", "--format", "json")
    as_json = json.loads(run(shared_url, *json_args).stdout)
    assert [(e["key"][:4], e["attempts"], e["customer"]) for e in as_json["effects"]] == [
        ("sms0", 1, "c-bad")
    ]
    assert as_json["next_offset"] is None

    one = run(shared_url, "retry", "bad100")
    assert one.exit_code == 0, one.output
    assert one.stdout.strip() == "1 dead-lettered effect put back to pending, attempts reset"
    retried = {e.key[:4]: e for e in store.get_effects()}["bad1"]
    assert (retried.status, retried.attempts, retried.next_attempt_at) == ("pending", 0, None)
    assert "rejected by" in (retried.last_error or "")  # what happened before, kept

    rest = run(shared_url, "retry", "--customer", "c-bad")
    assert rest.stdout.strip() == (
        "3 dead-lettered effects (customer c-bad) put back to pending, attempts reset"
    )

    # the receiver is fixed: the retried dead letters are delivered by the next run
    fixed = registry(email=lambda e: Delivery.sent(), sms=lambda e: Delivery.sent())
    assert dispatch(store, fixed, clock=VirtualClock(NOW)).by_channel == {
        "email": {"sent": 3},
        "sms": {"sent": 1},
    }
    assert {e.status for e in store.get_effects()} == {"sent"}
    empty = run(shared_url, "list", "--status", "dead")
    assert empty.stdout == "" and "0 shown; in the outbox: 6 sent" in empty.stderr


def test_retry_refuses_what_it_cannot_mean(store: SqlStore, shared_url: str) -> None:
    fill(store, effect("only", "email", "c1", n=0, status="failed"))
    nothing = run(shared_url, "retry")
    assert nothing.exit_code == 2 and "give KEYS, --channel or --customer, or --all" in (
        nothing.output
    )
    both = run(shared_url, "retry", "only00", "--all")
    assert both.exit_code == 2
    short = run(shared_url, "retry", "on")
    assert short.exit_code == 2 and "6 characters at least" in short.output
    unknown = run(shared_url, "retry", "zzzzzz")
    assert unknown.exit_code == 1
    assert unknown.output.strip().splitlines() == [
        "Error: no dead-lettered effect has a key starting with 'zzzzzz'; "
        "`journeyflow outbox list --status dead` lists them"
    ]
    everything = run(shared_url, "retry", "--all")
    assert everything.stdout.strip() == "1 dead-lettered effect put back to pending, attempts reset"
    assert [e.status for e in store.get_effects()] == ["pending"]


def test_purge_removes_old_delivered_or_dead_effects_and_keeps_open_tasks(
    store: SqlStore, shared_url: str
) -> None:
    recent = NOW - timedelta(days=1)
    fill(
        store,
        effect("oldsent", "email", "c1", n=0, status="sent"),
        effect("newsent", "email", "c1", n=1, status="sent", created_at=recent),
        effect("oldsms", "sms", "c1", n=2, status="sent"),
        effect("oldtask", "task", "c1", n=3, status="sent"),  # assigned: still open
        effect("donetask", "task", "c1", n=4, status="done"),
        effect("olddead", "email", "c1", n=5, status="failed"),
        effect("oldwait", "email", "c1", n=6, status="pending"),
    )

    def keys() -> list[str]:
        return sorted(e.key.rstrip("0") for e in store.get_effects())

    everything = keys()
    dry = run(shared_url, "purge", "--older-than", "30d", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.startswith("would remove 3 delivered effects created before ")
    assert dry.stdout.rstrip().endswith("(dry run: nothing removed)")
    assert keys() == everything

    by_channel = run(shared_url, "purge", "--older-than", "30d", "--channel", "sms")
    assert by_channel.stdout.startswith("removed 1 delivered effect (channel sms) created before")
    done = run(shared_url, "purge", "--older-than", "30d")
    assert done.stdout.startswith("removed 2 delivered effects created before")
    assert keys() == ["newsent", "olddead", "oldtask", "oldwait"]

    dead = run(shared_url, "purge", "--older-than", "30d", "--dead")
    assert dead.stdout.startswith("removed 1 dead-lettered effect created before")
    assert keys() == ["newsent", "oldtask", "oldwait"]
    assert run(shared_url, "purge").exit_code == 2  # --older-than is required


def test_the_listing_is_paged_by_the_database(store: SqlStore, shared_url: str) -> None:
    fill(
        store, *(effect(f"e{i:02d}", "email", f"c{i % 3}", n=i, status="failed") for i in range(7))
    )
    first = run(shared_url, "list", "--limit", "3")
    second = run(shared_url, "list", "--limit", "3", "--offset", "3")
    assert "more with --offset 3" in first.stderr and "more with --offset 6" in second.stderr
    shown = [line.split()[0] for line in (first.stdout + second.stdout).splitlines()]
    assert shown == [f"e{i:02d}0000000000"[:12] for i in range(6)]

    statements: list[str] = []
    event.listen(
        store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]), named=False
    )
    page = store.outbox_page(statuses=["failed"], customer_id="c1", limit=2, offset=1)
    assert [e.key[:3] for e in page] == ["e04"]
    [query] = [s for s in statements if "FROM outbox" in s]
    assert "LIMIT" in query and "status IN" in query and "customer_id" in query


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"statuses": ["failed"]},
        {"statuses": ["sent", "pending"], "channel": "sms"},
        {"customer_id": "c2"},
        {"key_prefixes": ["k03", "k1"]},
        {"statuses": ["failed"], "limit": 2, "offset": 1},
    ],
)
def test_the_sql_and_memory_stores_answer_alike(store: SqlStore, filters: dict[str, Any]) -> None:
    made = [
        effect(
            f"k{i:02d}",
            ("email", "sms")[i % 2],
            f"c{i % 3}",
            n=i,
            status=("pending", "sent", "failed")[i % 3],
        )
        for i in range(15)
    ]
    memory = MemoryStore()
    for s in (store, memory):
        fill(s, *made)
    assert store.outbox_page(**filters) == memory.outbox_page(**filters)
    counted = {k: v for k, v in filters.items() if k in ("channel", "customer_id")}
    assert store.outbox_counts(**counted) == memory.outbox_counts(**counted)
    retry = {k: v for k, v in filters.items() if k not in ("limit", "offset")}
    assert store.retry_effects(**retry) == memory.retry_effects(**retry)
    assert store.get_effects() == memory.get_effects()
    cut = OLD + timedelta(minutes=8)
    for statuses in (["sent"], ["pending", "failed"]):
        assert store.purge_effects(cut, statuses, except_channel="sms", dry_run=True) == (
            memory.purge_effects(cut, statuses, except_channel="sms", dry_run=True)
        )
        assert store.purge_effects(cut, statuses, channel="sms") == memory.purge_effects(
            cut, statuses, channel="sms"
        )
    assert store.get_effects() == memory.get_effects()
