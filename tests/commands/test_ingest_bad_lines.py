"""`journeyflow ingest` on a file mixing every kind of bad line the attackers
found with valid events, as a user runs it (a real subprocess, on SQLite and
on PostgreSQL): every valid event applied exactly once, every bad line
rejected with its line and reason and kept in the dead-letter table, exit 0
with a summary, and the same again on a re-run. Then `journeyflow rejected
list|replay|purge` on what was kept."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from journeyflow.store import open_store
from tests.journeys import REACTIVATION


def good(n: int, **extra: Any) -> bytes:
    event = {
        "type": "track",
        "userId": f"c{n}",
        "event": "order_completed",
        "properties": {"order_id": f"o{n}", "total": 10},
        "timestamp": f"2026-01-{1 + n % 28:02d}T10:00:00Z",
        "messageId": f"good-{n}",
    }
    event.update(extra)
    return json.dumps(event).encode()


def bad(**fields: Any) -> bytes:
    event = {"type": "track", "userId": "c1", "event": "order_completed", "messageId": "bad"}
    event.update(fields)
    return json.dumps(event).encode()


def nested(levels: int) -> bytes:
    return b'{"type": "track", "userId": "c1", "event": "x", "properties": ' + (
        b'{"a": ' * levels + b"1" + b"}" * levels + b"}"
    )


# every kind of bad line, with the kind of reason it is rejected for
BAD_LINES: list[tuple[bytes, str]] = [
    (bad(context="web"), "field-not-an-object"),
    (bad(timestamp="9999-12-31T23:59:59Z", messageId="b-9999"), "timestamp"),
    (bad(timestamp="0001-01-01T00:00:00+05:00", messageId="b-0001"), "timestamp"),
    (b'{"type": "track", "userId": "\\ud800", "event": "x"}', "bad-text"),
    (b'{"type": "track", "userId": "c1", "event": "\\udc00"}', "bad-text"),
    (b'{"type": "track", "userId": "c1", "event": "x", "messageId": "\\ud83d"}', "bad-text"),
    (b'{"type": "track", "userId": "caf\xe9", "event": "x"}', "not-utf8"),
    (nested(1000), "too-deep"),
    (nested(5000), "too-deep"),
    (
        b'{"type": "track", "userId": "c1", "event": "x", "n": 1' + b"0" * 5000 + b"}",
        "integer-range",
    ),
    (
        b'{"type": "track", "userId": "c1", "event": "x", "n": 12345678901234567890}',
        "integer-range",
    ),
    (bad(userId="u" * 256, messageId="b-long-user"), "customer-id"),
    (bad(messageId="m" * 256), "message-id"),
    (bad(event="e" * 256, messageId="b-long-name"), "event-name"),
    (bad(userId="a\x00b", messageId="b-nul"), "bad-text"),
    (bad(userId=True, messageId="b-bool"), "customer-id"),
    (b'{"type": "track", "userId": "c1", "event": "x", "properties": {"v": NaN}}', "not-finite"),
    (
        b'{"type": "track", "userId": "c1", "event": "x", "properties": {"v": -Infinity}}',
        "not-finite",
    ),
    (bad(timestamp="2062-01-01T10:00:00Z", messageId="b-2062"), "ahead-of-clock"),
    (b"this is not json", "not-json"),
    (b'["a", "list"]', "not-an-object"),
    (bad(properties={"pad": "x" * 40_000}, messageId="b-big"), "too-big"),
    (b'{"pad": "' + b"x" * (1024 * 1024) + b'"}', "line-too-long"),
]


def ingest(path: Path, journeys: Path, url: str, *more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "journeyflow.cli", "ingest", str(path)),
            *("--journeys", str(journeys), "--database", url, "--batch-size", "4"),
            *("--no-timers", *more),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def jf(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "journeyflow.cli", *args, "--database", url],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def journeys(tmp_path: Path) -> Path:
    folder = tmp_path / "journeys"
    folder.mkdir()
    (folder / "react.yaml").write_text(REACTIVATION)
    return folder


def write_mix(path: Path) -> tuple[dict[int, str], int]:
    """Valid events around and between the bad lines, so each bad line shares a
    batch (of 4) with valid ones; the bad lines' numbers and kinds."""
    lines: list[bytes] = []
    expected: dict[int, str] = {}
    n = 0
    for raw, kind in BAD_LINES:
        lines += [good(n), good(n + 1)]
        n += 2
        lines.append(raw)
        expected[len(lines)] = kind
    lines.append(b'{"type": "track", "userId": 0, "event": "order_completed", "messageId": "zero"}')
    lines += [good(n), good(n + 1)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return expected, n + 3


def test_every_bad_line_is_rejected_with_its_reason_and_every_valid_event_applied_once(
    tmp_path: Path, journeys: Path, shared_url: str
) -> None:
    path = tmp_path / "mixed.jsonl"
    expected, valid = write_mix(path)
    ran = ingest(path, journeys, shared_url)
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    assert f"{valid} applied, 0 duplicates ignored, {len(expected)} rejected" in ran.stdout
    assert "rejected by reason: " in ran.stdout and "journeyflow rejected list" in ran.stdout
    for number in expected:
        assert f"rejected line {number}: " in ran.stderr

    db = create_engine(shared_url)
    with db.connect() as conn:
        rows = conn.execute(text("select message_id, customer_id from events")).all()
        stored: dict[str, str] = {m: c for m, c in rows}
        kept = conn.execute(text("select line, kind, source from rejected_events order by id"))
        kept_rows = kept.all()
        thanks = conn.execute(text("select count(*) from outbox")).scalar()
    db.dispose()
    assert len(stored) == valid  # each valid event once
    assert stored["zero"] == "0"  # a numeric userId is its text, 0 included
    assert thanks == valid  # one thank-you per valid order, none for a bad line
    assert {line: kind for line, kind, _ in kept_rows} == expected
    assert {source for _, _, source in kept_rows} == {str(path)}

    again = ingest(path, journeys, shared_url)
    assert again.returncode == 0, again.stderr
    assert f"0 applied, {valid} duplicates ignored, {len(expected)} rejected" in again.stdout
    listed = json.loads(jf(shared_url, "rejected", "list", "--format", "json").stdout)
    assert listed["total"] == len(expected)  # the same rejections are not kept twice


def test_rejected_list_replay_and_purge(tmp_path: Path, journeys: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    path = tmp_path / "events.jsonl"
    late = bad(timestamp="2030-01-01T00:00:00Z", messageId="early")
    path.write_bytes(b"\n".join([good(1), b"{oops", late, bad(context="web")]) + b"\n")
    assert ingest(path, journeys, url).returncode == 0

    first = json.loads(jf(url, "rejected", "list", "--format", "json", "--limit", "2").stdout)
    assert [(r["line"], r["kind"]) for r in first["rejected"]] == [
        (2, "not-json"),
        (3, "ahead-of-clock"),
    ]
    assert first["total"] == 3 and first["rejected"][0]["raw"] == "{oops"
    rest = jf(url, "rejected", "list", "--after", str(first["next_after"]))
    assert "events.jsonl:4" in rest.stdout and "[field-not-an-object]" in rest.stdout

    ids = [str(r["id"]) for r in first["rejected"]]
    replay = jf(url, "rejected", "replay", *ids, "--journeys", str(journeys))
    assert replay.returncode == 0, replay.stderr
    assert "0 applied, 0 applied before; 2 still rejected" in replay.stdout
    assert f"still rejected #{ids[1]} " in replay.stderr and "ahead of the engine's clock" in (
        replay.stderr
    )
    everything = jf(url, "rejected", "replay", "--all", "--journeys", str(journeys))
    assert "3 still rejected" in everything.stdout

    purge = jf(url, "rejected", "purge", "--before", "2000-01-01")
    assert "0 rejected events removed" in purge.stdout
    assert "3 rejected events removed" in jf(url, "rejected", "purge", "--all").stdout
    assert "no rejected events here" in jf(url, "rejected", "list").stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["rejected", "replay"], "give the ids of the rejected events to replay, or --all"),
        (["rejected", "purge"], "give --before DATE, or --all"),
        (["rejected", "purge", "--before", "yesterday"], "'yesterday' does not match"),
    ],
)
def test_mistakes_with_rejected_are_one_line_not_a_traceback(
    tmp_path: Path, args: list[str], said: str
) -> None:
    ran = jf(f"sqlite:///{tmp_path / 'x.db'}", *args)
    assert ran.returncode == 2 and said in ran.stderr and "Traceback" not in ran.stderr


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (["--batch-size", "0"], "0 is not in the range x>=1"),
        (["--max-clock-skew", "soon"], "'soon' is not a duration"),
        (["--keep-rejected", "-1"], "-1 is not in the range x>=0"),
    ],
)
def test_ingest_options_are_checked_before_anything_is_read(
    tmp_path: Path, journeys: Path, option: list[str], said: str
) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(good(1) + b"\n")
    ran = ingest(path, journeys, f"sqlite:///{tmp_path / 'o.db'}", *option)
    assert ran.returncode == 2 and said in ran.stderr and "Traceback" not in ran.stderr


def test_standard_input_is_read_the_same_way(tmp_path: Path, journeys: Path) -> None:
    ran = subprocess.run(
        [
            *(sys.executable, "-m", "journeyflow.cli", "ingest", "-", "--journeys", str(journeys)),
            *("--database", f"sqlite:///{tmp_path / 's.db'}", "--no-timers"),
        ],
        input=good(1) + b"\n\xff\n" + good(2) + b"\n",
        capture_output=True,
        timeout=300,
    )
    assert ran.returncode == 0
    assert b"2 applied, 0 duplicates ignored, 1 rejected" in ran.stdout
    assert b"rejected line 2: the line is not UTF-8" in ran.stderr


def test_an_event_the_database_refuses_is_one_line_of_output_not_a_traceback(
    tmp_path: Path, journeys: Path
) -> None:
    db = tmp_path / "t.db"
    url = f"sqlite:///{db}"
    open_store(url).close()  # the schema, then a rule of the database's own
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TRIGGER no_poison BEFORE INSERT ON events WHEN NEW.name = 'poison' "
            "BEGIN SELECT RAISE(ABORT, 'poison is not stored here'); END"
        )
    conn.close()
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"\n".join([good(1), bad(event="poison", messageId="p"), good(2)]) + b"\n")
    ran = ingest(path, journeys, url)
    assert ran.returncode == 0 and "Traceback" not in ran.stderr
    assert "2 applied, 0 duplicates ignored, 1 rejected" in ran.stdout
    assert "rejected by reason: not-stored 1" in ran.stdout
    assert "rejected line 2: the event could not be applied: IntegrityError: poison" in ran.stderr
