"""The dead-letter table: rejected events kept once each, bounded in rows and
in raw bytes, listed a page at a time, forgotten and purged, the same in
memory, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from journeyflow.store import MemoryStore, open_store
from journeyflow.store.base import Store
from journeyflow.store.deadletter import MAX_RAW_BYTES, RejectedEvent, raw_bytes, rejected_event

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        opened: Store = MemoryStore()
    elif request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path / 'dl.db'}")
    else:
        opened = open_store(str(request.getfixturevalue("pg_url")))
    yield opened
    opened.close()


def entry(n: int, *, raw: bytes | None = None, at: datetime = T0) -> RejectedEvent:
    return rejected_event(
        source="/data/events.jsonl",
        line=n,
        kind="not-json",
        reason=f"line {n} is not JSON",
        received_at=at + timedelta(seconds=n),
        raw=raw if raw is not None else f"bad line {n}".encode(),
    )


def test_kept_rows_come_back_as_kept_oldest_first(store: Store) -> None:
    assert store.keep_rejected([entry(1), entry(2)], limit=100) == 0
    found = store.rejected_events()
    assert [(e.id is not None, e.line, e.raw, e.received_at) for e in found] == [
        (True, 1, b"bad line 1", T0 + timedelta(seconds=1)),
        (True, 2, b"bad line 2", T0 + timedelta(seconds=2)),
    ]
    assert found[0].where == "/data/events.jsonl:1"
    assert store.count_rejected() == 2


def test_the_same_rejection_kept_twice_is_one_row(store: Store) -> None:
    store.keep_rejected([entry(1), entry(1)], limit=100)
    store.keep_rejected([entry(1), entry(2)], limit=100)  # the file ingested again
    assert [e.line for e in store.rejected_events()] == [1, 2]


def test_past_the_row_limit_the_oldest_go_first_and_are_counted(store: Store) -> None:
    store.keep_rejected([entry(n) for n in range(1, 6)], limit=5)
    assert store.keep_rejected([entry(6), entry(7)], limit=5) == 2
    assert [e.line for e in store.rejected_events()] == [3, 4, 5, 6, 7]
    assert store.keep_rejected([], limit=3) == 2
    assert [e.line for e in store.rejected_events()] == [5, 6, 7]


def test_raw_text_past_64_kib_is_cut_and_said_so(store: Store) -> None:
    store.keep_rejected([entry(1, raw=b"y" * (MAX_RAW_BYTES + 1)), entry(2)], limit=10)
    long, short = store.rejected_events()
    assert (len(long.raw), long.raw_truncated) == (MAX_RAW_BYTES, True)
    assert short.raw_truncated is False


def test_any_bytes_and_any_reason_are_kept_on_every_database(store: Store) -> None:
    # what got the event rejected may be what the database would refuse in text
    bad = rejected_event(
        source="api",
        line=None,
        kind="bad-text",
        reason="userId 'a\x00b\ud800'",
        received_at=T0,
        raw=b'{"userId": "a\x00\xff\xfe"}',
    )
    store.keep_rejected([bad], limit=10)
    (kept,) = store.rejected_events()
    assert kept.raw == b'{"userId": "a\x00\xff\xfe"}'
    assert kept.reason == "userId 'a\\x00b\\ud800'"
    assert kept.raw_text() == '{"userId": "a\x00\\xff\\xfe"}'


def test_pages_by_offset_or_by_cursor(store: Store) -> None:
    store.keep_rejected([entry(n) for n in range(1, 8)], limit=100)
    first = store.rejected_events(limit=3)
    assert [e.line for e in first] == [1, 2, 3]
    assert [e.line for e in store.rejected_events(limit=3, offset=3)] == [4, 5, 6]
    assert [e.line for e in store.rejected_events(after=first[-1].id or 0)] == [4, 5, 6, 7]
    wanted = {first[0].id or 0, first[2].id or 0}
    assert [e.line for e in store.rejected_events(ids=wanted)] == [1, 3]


def test_forget_and_purge(store: Store) -> None:
    store.keep_rejected([entry(n) for n in range(1, 6)], limit=100)
    ids = [e.id or 0 for e in store.rejected_events()]
    assert store.forget_rejected([ids[0], ids[0], 999_999]) == 1
    assert store.purge_rejected(before=T0 + timedelta(seconds=3)) == 1  # line 2
    assert [e.line for e in store.rejected_events()] == [3, 4, 5]
    assert store.purge_rejected() == 3
    assert store.count_rejected() == 0


def test_an_api_call_is_kept_as_ascii_json_even_when_json_cannot_write_it() -> None:
    assert raw_bytes({"userId": "\ud800"}) == b'{"userId": "\\ud800"}'
    deep: dict[str, object] = {}
    for _ in range(100_000):
        deep = {"a": deep}
    assert raw_bytes(deep).startswith(b"<a dict JSON cannot write")
    assert raw_bytes({"n": 10**5000}).startswith(b"<a dict JSON cannot write")
