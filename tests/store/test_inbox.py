"""The inbox: accepted events kept until applied, each messageId once (waiting
or applied), taken oldest first by shard, the same on a SQLite file and on
PostgreSQL, and from several connections at once."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from journeyflow.events import Event, check_event
from journeyflow.store.sql import SqlStore
from journeyflow.store.sql.inbox import Inbox
from journeyflow.testing.pytest_plugin import EngineFactory

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inbox.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[SqlStore]:
    opened = SqlStore(url)
    yield opened
    opened.close()


def accepted(customer: str, message_id: str, **properties: Any) -> tuple[Event, dict[str, Any]]:
    raw = {
        "type": "track",
        "userId": customer,
        "event": "page_viewed",
        "messageId": message_id,
        "timestamp": "2026-03-01T11:59:00Z",
        "properties": properties,
    }
    event = check_event(raw, T0)
    assert isinstance(event, Event)
    return event, raw


def test_added_events_come_back_oldest_first_as_sent(store: SqlStore) -> None:
    inbox = Inbox(store)
    items = [accepted(f"c{i % 3}", f"m{i}", n=i, text="é ✓ 名") for i in range(10)]
    assert inbox.add(items, T0) == (10, 0)
    taken = inbox.take(100)
    assert [i.message_id for i in taken] == [f"m{i}" for i in range(10)]
    assert [i.raw for i in taken] == [raw for _, raw in items]
    assert [i.customer_id for i in taken] == [f"c{i % 3}" for i in range(10)]
    assert [i.shard for i in taken] == [inbox.shard_of(f"c{i % 3}") for i in range(10)]
    assert {i.received_at for i in taken} == {T0}
    seqs = [i.seq for i in taken]
    assert seqs == sorted(seqs) and len(set(seqs)) == 10
    assert inbox.depth() == 10
    assert [i.message_id for i in inbox.take(3)] == ["m0", "m1", "m2"]  # taking deletes nothing
    assert inbox.depth() == 10


def test_a_messageid_waiting_or_given_twice_is_a_duplicate(store: SqlStore) -> None:
    inbox = Inbox(store)
    assert inbox.add([accepted("c1", "m1"), accepted("c1", "m2")], T0) == (2, 0)
    # a sender's retry, with one new event and one repeated inside the request
    again = [accepted("c1", "m1"), accepted("c1", "m3"), accepted("c1", "m3", n=2)]
    assert inbox.add(again, T0 + timedelta(seconds=5)) == (1, 2)
    taken = inbox.take(10)
    assert [(i.message_id, i.raw.get("properties")) for i in taken] == [
        ("m1", {}),
        ("m2", {}),
        ("m3", {}),  # the first of the two kept
    ]
    assert taken[0].received_at == T0  # the retry did not touch the waiting row


def test_a_messageid_already_applied_is_a_duplicate(
    store: SqlStore, journeyflow_engine: EngineFactory
) -> None:
    engine = journeyflow_engine(store=store)
    _, raw = accepted("c1", "applied-1")
    assert engine.ingest([raw]).accepted == 1
    inbox = Inbox(store)
    assert inbox.add([accepted("c1", "applied-1"), accepted("c1", "new-1")], T0) == (1, 1)
    assert [i.message_id for i in inbox.take(10)] == ["new-1"]


def test_done_rows_are_gone_and_their_seqs_never_come_back(store: SqlStore) -> None:
    inbox = Inbox(store)
    inbox.add([accepted("c1", f"m{i}") for i in range(5)], T0)
    first = inbox.take(5)
    inbox.done([first[3].seq, first[4].seq])  # the newest: SQLite would reuse a plain rowid
    inbox.done([])
    assert [i.message_id for i in inbox.take(10)] == ["m0", "m1", "m2"]
    inbox.add([accepted("c1", "m5")], T0)
    newest = inbox.take(10)[-1]
    assert newest.message_id == "m5" and newest.seq > first[4].seq
    inbox.done([i.seq for i in inbox.take(10)])
    assert inbox.depth() == 0 and inbox.take(10) == []


def test_a_shard_is_taken_on_its_own_in_order(store: SqlStore) -> None:
    inbox = Inbox(store, shards=4)
    customers = [f"customer-{i}" for i in range(40)]
    inbox.add([accepted(c, f"{c}/{n}", n=n) for n in range(3) for c in customers], T0)
    by_shard: dict[int, list[str]] = {}
    for c in customers:
        by_shard.setdefault(inbox.shard_of(c), []).append(c)
    assert inbox.waiting_shards() == sorted(by_shard)
    for shard, members in by_shard.items():
        taken = inbox.take(1000, shard=shard)
        assert {i.shard for i in taken} == {shard}
        assert {i.customer_id for i in taken} == set(members)
        for c in members:  # each customer's events in the order they came
            assert [i.raw["properties"]["n"] for i in taken if i.customer_id == c] == [0, 1, 2]
    emptied = min(by_shard)
    inbox.done([i.seq for i in inbox.take(1000, shard=emptied)])
    assert inbox.waiting_shards() == sorted(set(by_shard) - {emptied})


def test_deeper_than_says_whether_more_rows_wait_than_a_limit(store: SqlStore) -> None:
    inbox = Inbox(store)
    assert not inbox.deeper_than(0)
    inbox.add([accepted("c1", f"m{i}") for i in range(5)], T0)
    assert inbox.deeper_than(4) and not inbox.deeper_than(5) and inbox.deeper_than(0)


def test_more_rows_than_one_statement_holds_are_added_in_one_call(store: SqlStore) -> None:
    inbox = Inbox(store)
    items = [accepted(f"c{i % 50}", f"m{i}") for i in range(1234)]
    assert inbox.add(items, T0) == (1234, 0)
    assert inbox.add(items, T0) == (0, 1234)
    inbox.done([i.seq for i in inbox.take(2000)])
    assert inbox.depth() == 0


def test_rows_come_back_in_the_order_given_not_in_messageid_order(store: SqlStore) -> None:
    """The seq order is the order events are applied in: the order the request
    gave them, whatever order PostgreSQL inserts them in."""
    inbox = Inbox(store)
    ids = ["msg-10", "msg-2", "b", "a", "msg-1"]
    assert inbox.add([accepted("c", m) for m in ids], T0) == (5, 0)
    assert [i.message_id for i in inbox.take(10)] == ids


def test_a_request_of_20000_small_events_is_added_in_one_transaction(store: SqlStore) -> None:
    """A 4 MiB request holds about 20,000 small events: no per-event lock (a
    lock per messageId once exhausted PostgreSQL's lock table at 10,000)."""
    inbox = Inbox(store)
    items = [accepted(f"c{i % 500}", f"big-{i}") for i in range(20_000)]
    assert inbox.add(items, T0) == (20_000, 0)
    assert inbox.depth() == 20_000


def test_the_same_events_from_many_connections_at_once_are_kept_once(url: str) -> None:
    stores = [SqlStore(url) for _ in range(4)]
    try:
        items = [accepted(f"c{i % 7}", f"m{i}") for i in range(200)]
        results: list[tuple[int, int]] = []
        failures: list[BaseException] = []

        def send(store: SqlStore, offset: int) -> None:
            try:
                mine = items[offset:] + items[:offset]  # each starts elsewhere, half backwards
                mine = mine[::-1] if offset % 50 else mine
                results.append(Inbox(store).add(mine, T0))
            except BaseException as exc:  # reported below, not lost in the thread
                failures.append(exc)

        threads = [threading.Thread(target=send, args=(stores[i % 4], 25 * i)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert sum(added for added, _ in results) == 200
        assert sum(duplicates for _, duplicates in results) == 7 * 200
        assert sorted(i.message_id for i in Inbox(stores[0]).take(1000)) == sorted(
            f"m{i}" for i in range(200)
        )
    finally:
        for store in stores:
            store.close()


def test_shards_are_the_same_in_every_process_and_cover_the_range(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 's.db'}")
    inbox = Inbox(store, shards=64)
    customers = [f"user-{i}" for i in range(2000)] + ["", "名前", "a" * 255]
    here = [inbox.shard_of(c) for c in customers]
    assert set(here) == set(range(64))  # 2,000 customers reach every shard
    script = (
        "import json, sys\n"
        "from journeyflow.store.sql.inbox import Inbox\n"
        "customers = json.load(sys.stdin)\n"
        "inbox = Inbox.__new__(Inbox); inbox.shards = 64\n"
        "print(json.dumps([inbox.shard_of(c) for c in customers]))\n"
    )
    import json

    for seed in ("1", "2"):  # Python's own hash would differ between these
        out = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(customers),
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        )
        assert json.loads(out.stdout) == here
    store.close()


def test_shard_count_is_bounded(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'b.db'}")
    with pytest.raises(ValueError, match="shards"):
        Inbox(store, shards=0)
    store.close()
