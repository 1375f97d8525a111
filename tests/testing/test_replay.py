"""`replay: FILE` in journey tests: a recorded clickstream, streamed.

The fixture (tests/fixtures/clickstream/) is a month of a shop's Segment
events, 30,894 lines from 600 customers, replayed through the bundled
welcome journey; `welcome_model.py` works out from the raw lines where every
customer must stand, without the engine.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from journeyflow.definition import testspec
from journeyflow.definition.loader import load_file
from journeyflow.runtime.engine import Engine
from journeyflow.testing.journeytest import JourneyCase, collect, run_case
from tests.testing.welcome_model import chain_of, read_events, standings

ROOT = Path(__file__).resolve().parents[2]
CLICKSTREAM = ROOT / "tests" / "fixtures" / "clickstream"
WELCOME = ROOT / "journeys" / "crm-welcome.yaml"
END = datetime(2026, 4, 10, tzinfo=UTC)  # the fixture test's `advance_to`


def _engine(result: Any) -> Engine:
    assert result.engine is not None
    engine: Engine = result.engine
    return engine


def test_recorded_clickstream_matches_a_count_from_the_data() -> None:
    [case] = collect([WELCOME, CLICKSTREAM], keyword="clickstream").cases
    assert case.test.steps[0] == testspec.ReplayStep(replay="clickstream.jsonl.gz")
    result = run_case(case, keep_engine=True)
    assert result.outcome == "passed", result.message
    lines = sum(1 for _ in read_events(CLICKSTREAM / "clickstream.jsonl.gz"))
    assert result.events == lines > 30_000

    chain = chain_of(load_file(WELCOME).journey)
    expected = standings(chain, read_events(CLICKSTREAM / "clickstream.jsonl.gz"), END)
    engine = _engine(result)
    enrolments = engine.enrolments(journey="crm-welcome")
    assert len(enrolments) == len(expected)  # one per customer who signed up, ever
    actual = {e.customer_id: (e.status, e.state) for e in enrolments}
    assert actual == {c: (s.status, s.state) for c, s in expected.items()}
    # every outcome occurs, so the comparison above is about something
    assert set(Counter(s.status for s in expected.values())) == {
        "completed",
        "converted",
        "exited",
    }
    sent = {c: [e.template for e in engine.effects(c)] for c in expected}
    assert sent == {c: s.sent for c, s in expected.items()}


def _case(steps: list[dict[str, Any]], folder: Path, name: str = "t") -> JourneyCase:
    loaded = load_file(WELCOME)
    test = testspec.JourneyTest.model_validate({"name": name, "steps": steps})
    return JourneyCase(f"{folder}/x.test.yaml", 0, test, loaded, (loaded,), "", None, folder)


def _store(engine: Engine) -> dict[str, tuple[Any, ...]]:
    """Everything the store holds about each customer, in a comparable form.
    (Across customers the order of rows may differ: no customer sees another.)"""
    return {
        c: (
            repr(engine.customer(c)),
            [repr(e) for e in engine.enrolments(c)],
            [repr(h) for h in engine.history(c)],
            [repr(e) for e in engine.effects(c)],
        )
        for c in sorted({e.customer_id for e in engine.enrolments()})
    }


def test_a_replay_is_exactly_that_many_event_steps(tmp_path: Path) -> None:
    """The same events, one `event:` step each against one `replay:` step: the
    store ends the same for each customer, history rows and effects in the same
    order. Twenty customers' whole month (their timers fall due between each
    other's events)."""
    chosen = {f"cust-{n:04d}" for n in range(1, 21)}
    events = [e for e in read_events(CLICKSTREAM / "clickstream.jsonl.gz") if e["userId"] in chosen]
    assert len(events) > 500
    (tmp_path / "few.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    end = {"advance_to": "2026-04-10T00:00:00Z"}
    stepped = run_case(_case([*({"event": e} for e in events), end], tmp_path), keep_engine=True)
    replayed = run_case(_case([{"replay": "few.jsonl"}, end], tmp_path), keep_engine=True)
    assert stepped.outcome == replayed.outcome == "passed"
    assert stepped.events == replayed.events == len(events)
    assert _store(_engine(replayed)) == _store(_engine(stepped))
    assert any(e.status == "converted" for e in _engine(replayed).enrolments())


def _replay_error(tmp_path: Path, name: str, content: bytes | None) -> str:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    result = run_case(_case([{"replay": name}], tmp_path))
    assert result.outcome == "error"
    return result.message


def _line(**event: Any) -> bytes:
    return json.dumps({"type": "track", "userId": "u1", **event}).encode() + b"\n"


def test_a_bad_line_is_an_error_at_its_line(tmp_path: Path) -> None:
    good = _line(event="signed_up", timestamp="2026-03-01T10:00:00Z")
    message = _replay_error(tmp_path, "bad.jsonl", good + b"\n{not json\n")
    assert "bad.jsonl:3: the line is not JSON" in message
    assert "Traceback" not in message
    message = _replay_error(tmp_path, "nouser.jsonl", good + b'{"event": "x"}\n')
    assert "nouser.jsonl:2: the event is not valid:" in message and "userId" in message


def test_a_replay_only_moves_time_forward(tmp_path: Path) -> None:
    content = _line(event="signed_up", timestamp="2026-03-02T10:00:00Z") + _line(
        event="page_viewed", timestamp="2026-03-01T10:00:00Z"
    )
    message = _replay_error(tmp_path, "late.jsonl", content)
    assert "late.jsonl:2: the event's timestamp 2026-03-01T10:00:00Z is before the virtual now" in (
        message
    )


def test_a_missing_or_broken_file_is_an_error(tmp_path: Path) -> None:
    assert "replay none.jsonl: cannot open" in _replay_error(tmp_path, "none.jsonl", None)
    broken = gzip.compress(_line(event="signed_up") * 50)[:-20]
    assert "replay cut.jsonl.gz: cannot read the file" in _replay_error(
        tmp_path, "cut.jsonl.gz", broken
    )


def test_a_replay_names_a_jsonl_file() -> None:
    with pytest.raises(ValueError, match=r"a replay reads `\.jsonl` or `\.jsonl\.gz`"):
        testspec.ReplayStep(replay="events.json")


def test_the_clock_starts_at_the_replays_first_event(tmp_path: Path) -> None:
    (tmp_path / "one.jsonl").write_bytes(_line(event="signed_up", timestamp="2026-03-05T08:00:00Z"))
    result = run_case(
        _case(
            [
                {"replay": "one.jsonl"},
                {"advance": "2d"},
                {"expect": {"customer": "u1", "state": "problem_story"}},
            ],
            tmp_path,
        ),
        keep_engine=True,
    )
    assert result.outcome == "passed", result.message
    assert _engine(result).clock.now() == datetime(2026, 3, 7, 8, tzinfo=UTC)
