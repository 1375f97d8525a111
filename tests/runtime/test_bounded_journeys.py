"""Journeys that loop cost bounded work and memory (docs/semantics.md, section
13): each hostile journey that passes `validate` runs two events in its own
process, under a memory ceiling and a hang guard, and its loop is cut with an
`error` line in the history while the engine carries on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from journeyflow.runtime.engine import Engine
from journeyflow.runtime.semantics import (
    MAX_STEPS_PER_EVENT,
    MAX_STEPS_PER_TIMERS,
    TIMER_LOOP_FIRINGS,
)
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, track

PING_PONG = """\
journey: ping-pong
version: 1
entry:
  on: [signed_up]
initial: ping
states:
  ping:
    transitions:
      - after: {period}
        to: pong
  pong:
    transitions:
      - after: {period}
        to: ping
"""

# every enrolment emits its own entry event five times and re-enters on each:
# 5^8 enrolments for one event before the emit depth limit (it hung)
ECHO = (
    """\
journey: echo
version: 1
entry:
  on: [signed_up]
  reentry: always
initial: start
states:
  start:
    on_enter:
"""
    + "      - emit: signed_up\n" * 5
    + """\
    transitions:
      - after: 1d
        to: done
  done:
    final: true
"""
)

# two comprehensions over a list the event brings: a million steps per 1,000 items
QUADRATIC = """\
journey: quadratic
version: 1
entry:
  on: [signed_up]
initial: waiting
states:
  waiting:
    transitions:
      - on: clicked
        when: 'event.properties.xs.map(x, event.properties.xs.filter(y, y > x).size()).size() > 0'
        to: done
      - after: 3d
        to: done
  done:
    final: true
"""

# run in a child: the journey, then two events for five customers (the second
# 42 hours later: 75,600 seconds of a 1s ping-pong each), or the clock moved there
CHILD = """
import json, re, sys
from datetime import datetime, timedelta, timezone
from journeyflow.clock import VirtualClock
from journeyflow.definition.loader import load_text
from journeyflow.runtime.engine import Engine

text, mode = sys.stdin.read(), sys.argv[1]
t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
later = t0 + timedelta(hours=42)
clock = VirtualClock(t0)
engine = Engine([load_text(text)], clock=clock)
def event(n, cid, name, when, **properties):
    return {"type": "track", "event": name, "userId": cid, "messageId": f"m{n}-{cid}",
            "timestamp": when.isoformat(), "properties": properties}
customers = [f"c{i}" for i in range(5)]
accepted = engine.ingest([event(1, c, "signed_up", t0) for c in customers]).accepted
if mode == "advance":
    engine.advance_to(later)
else:
    clock.set(later)
    xs = [0] * 5_000 if mode == "big-list" else []
    accepted += engine.ingest([event(2, c, "clicked", later, xs=xs) for c in customers]).accepted
history = engine.history()
print(json.dumps({
    "accepted": accepted,
    "rows": len(history),
    "errors": [(h.customer_id, h.detail) for h in history if h.kind == "error"],
    # this process's peak (ru_maxrss would carry over the forking test runner's)
    "maxrss_mb": int(re.search(r"VmHWM:\\s*(\\d+)", open("/proc/self/status").read())[1]) / 1024,
}))
"""


def run_child(journey: str, mode: str) -> dict[str, Any]:
    """Two events in a child process. The timeout is a hang guard, not a timing
    assert: the child takes about 0.5 s of work after 1-2 s of imports, and a
    loaded machine (other suites in parallel) stretches both several times."""
    run = subprocess.run(
        [sys.executable, "-c", CHILD, mode],
        input=journey,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result: dict[str, Any] = json.loads(run.stdout.splitlines()[-1])
    assert result["maxrss_mb"] < 300, result["maxrss_mb"]
    return result


@pytest.mark.parametrize("mode", ["advance", "two-events"])
def test_a_one_second_ping_pong_is_cut_as_a_timer_loop(mode: str) -> None:
    # before: 756,000 timers in one unit of work, 22.8 s, 298 MB peak
    result = run_child(PING_PONG.format(period="1s"), mode)
    assert result["accepted"] == (5 if mode == "advance" else 10)
    assert len(result["errors"]) == 5
    assert {cid for cid, _ in result["errors"]} == {f"c{i}" for i in range(5)}
    assert all("timer loop" in detail for _, detail in result["errors"])
    # five enters, 1,000 moves each, five error lines
    assert result["rows"] == 5 * (1 + TIMER_LOOP_FIRINGS) + 5


def test_reentry_with_five_emits_of_the_entry_event_is_cut() -> None:
    result = run_child(ECHO, "two-events")  # hung before
    assert result["accepted"] == 10
    assert len(result["errors"]) == 5
    assert all(
        f"stopped after {MAX_STEPS_PER_EVENT:,} steps caused by event 'signed_up'" in detail
        for _, detail in result["errors"]
    )


def test_comprehensions_over_a_long_list_in_an_event_are_not_started() -> None:
    result = run_child(QUADRATIC, "big-list")
    assert result["accepted"] == 10
    assert len(result["errors"]) == 5
    assert all("not run" in detail for _, detail in result["errors"])


def test_many_timers_due_are_fired_in_bounded_units_of_work(
    journeyflow_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop slower than the timer-loop rule is the journey's to have: every
    timer fires, each unit of work holds a bounded share of them."""
    engine = journeyflow_engine(PING_PONG.format(period="2m"))
    engine.ingest([track("c1", "signed_up", "2026-01-01T00:00:00Z")])
    units: list[int] = []
    fire_batch = Engine._fire_due_batch

    def counted(self: Engine, moment: Any) -> int | None:
        fired = fire_batch(self, moment)
        if fired is not None:
            units.append(fired)
        return fired

    monkeypatch.setattr(Engine, "_fire_due_batch", counted)
    assert engine.advance_to(at("2026-01-15T00:00:00Z")) == 14 * 720
    assert len(units) >= 2 and max(units) <= MAX_STEPS_PER_TIMERS // 2
    assert [h for h in engine.history() if h.kind == "error"] == []


def test_an_event_waiting_for_too_many_timers_cuts_them_and_applies(
    journeyflow_engine: EngineFactory,
) -> None:
    stop = "      - on: stop\n        to: done\n"
    journey = (
        PING_PONG.format(period="2m").replace("        to: pong\n", "        to: pong\n" + stop)
        + stop
        + "  done:\n    final: true\n"
    )
    engine = journeyflow_engine(journey)
    engine.ingest([track("c1", "signed_up", "2026-01-01T00:00:00Z")])
    engine.ingest([track("c1", "stop", "2026-01-20T00:00:01Z")])  # 13,680 timers due before it
    errors = [h for h in engine.history("c1") if h.kind == "error"]
    assert len(errors) == 1 and errors[0].detail is not None
    assert f"stopped after {MAX_STEPS_PER_TIMERS:,} steps caused by timers" in errors[0].detail
    assert "the timers still due were dropped" in errors[0].detail
    [enrolment] = engine.enrolments("c1")
    assert (enrolment.state, enrolment.status) == ("done", "completed")  # the event applied
