"""Kill -9 in the middle of a large ingest, restart, re-ingest the same file:
every event applied exactly once, no duplicate history or outbox rows, no
half-written state. Runs the real CLI in a subprocess on a real SQLite file."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from journeyflow.simulation.population import retail_customer
from tests.journeys import KEYED, REACTIVATION, SPLIT

BATCH = 100
JOURNEYFLOW = [sys.executable, "-m", "journeyflow.cli"]


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    root = tmp_path_factory.mktemp("crash")
    journeys = root / "journeys"
    journeys.mkdir()
    for name, text in (("react", REACTIVATION), ("keyed", KEYED), ("split", SPLIT)):
        (journeys / f"{name}.yaml").write_text(text)
    rng = random.Random(3)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    events: list[dict[str, Any]] = []
    for n in range(400):
        events.extend(retail_customer(rng, f"c{n:04d}", start, 300))
        events.append(
            {
                "type": "track",
                "userId": f"c{n:04d}",
                "event": "go",
                "timestamp": "2025-06-01T00:00:00Z",
                "messageId": f"go-{n}",
            }
        )
    events.sort(key=lambda e: e["timestamp"])
    path = root / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return journeys, path, len(events)


def _ingest(journeys: Path, events: Path, db: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *JOURNEYFLOW,
            "ingest",
            str(events),
            "--journeys",
            str(journeys),
            "--database",
            f"sqlite:///{db}",
            "--batch-size",
            str(BATCH),
            "--no-timers",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _events_committed(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return int(conn.execute("select count(*) from events").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _snapshot(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:

        def rows(query: str) -> list[tuple[Any, ...]]:
            return sorted(conn.execute(query).fetchall())

        return {
            "events": rows("select message_id, customer_id, name, timestamp from events"),
            "history": rows(
                "select enrolment_id, seq, kind, from_state, to_state, cause, at from history"
            ),
            "outbox": rows("select effect_key, channel, template, status from outbox"),
            "enrolments": rows("select id, state, status, seq, timers from enrolments"),
            "customers": rows("select id, attributes from customers"),
        }


@pytest.fixture(scope="module")
def reference(
    workload: tuple[Path, Path, int],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    journeys, events, total = workload
    db = tmp_path_factory.mktemp("ref") / "ref.db"
    proc = _ingest(journeys, events, db)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    assert f"{total} applied" in out.decode()
    return _snapshot(db)


@pytest.mark.parametrize("kill_at", [0.15, 0.5, 0.85])
def test_kill_9_then_reingest_applies_every_event_exactly_once(
    workload: tuple[Path, Path, int],
    reference: dict[str, Any],
    tmp_path: Path,
    kill_at: float,
) -> None:
    journeys, events, total = workload
    db = tmp_path / "crash.db"
    proc = _ingest(journeys, events, db)
    target = int(total * kill_at)
    deadline = time.monotonic() + 300
    while _events_committed(db) < target and proc.poll() is None:
        assert time.monotonic() < deadline, "ingest made no progress"
        time.sleep(0.02)
    if proc.poll() is not None:
        proc.communicate()
        pytest.fail("ingest finished before it could be killed")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()  # reap it and close its pipes

    committed = _events_committed(db)
    assert 0 < committed < total
    assert committed % BATCH == 0, "a batch was half written"
    partial = _snapshot(db)
    # every committed event's effects are there, and nothing beyond them
    assert len(partial["history"]) <= len(reference["history"])
    assert set(partial["outbox"]) <= set(reference["outbox"])

    again = _ingest(journeys, events, db)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err.decode()
    assert f"{total - committed} applied, {committed} duplicates ignored" in out.decode()
    assert _snapshot(db) == reference
