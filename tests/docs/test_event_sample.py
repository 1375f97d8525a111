"""docs/examples/events.jsonl, the sample of the JSON-lines event format in
docs/events.md: every line is accepted by `journeyflow ingest` against the
bundled journeys, and a second run applies nothing twice, as the page says."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from journeyflow.cli import main

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "docs" / "examples" / "events.jsonl"
SUMMARY = re.compile(r"(\d+) applied, (\d+) duplicates ignored, (\d+) rejected")


def ingest(db: Path) -> tuple[int, int, int]:
    result = CliRunner().invoke(
        main, ["ingest", str(SAMPLE), "-j", str(ROOT / "journeys"), "-d", f"sqlite:///{db}"]
    )
    assert result.exit_code == 0, result.output
    found = SUMMARY.search(result.output)
    assert found, result.output
    applied, duplicates, rejected = (int(n) for n in found.groups())
    return applied, duplicates, rejected


def test_the_sample_has_a_dozen_calls_of_both_kinds() -> None:
    calls = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    assert len(calls) == 12
    assert {call["type"] for call in calls} == {"track", "identify"}


def test_every_line_of_the_sample_is_applied_and_none_twice(tmp_path: Path) -> None:
    db = tmp_path / "sample.db"
    assert ingest(db) == (12, 0, 0)
    assert ingest(db) == (0, 12, 0)
