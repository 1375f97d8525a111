"""`journeyflow simulate` reads its events as `ingest` does: a line that is
not UTF-8, not JSON, or holds a timestamp or number that cannot be converted is
rejected with its line number, and the other lines are replayed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bad_lines_are_rejected_and_the_good_ones_replayed(tmp_path: Path) -> None:
    good = (
        b'{"type":"track","userId":"c1","event":"signed_up",'
        b'"timestamp":"2026-01-01T10:00:00Z","messageId":"a1"}'
    )
    lines = [
        good,
        b'{"type":"track","userId":"c2","event":"signed_up",'
        b'"timestamp":"0001-01-01T00:00:00+05:00"}',  # converting it to UTC overflows
        b"\xff\xfe not text",
        b'{"type":"track","userId":"c3","event":"signed_up","properties":{"n":'
        + b"9" * 5000
        + b"}}",
        b"{not json",
    ]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "journeyflow.cli",
            "simulate",
            str(ROOT / "journeys" / "crm-welcome.yaml"),
            str(events),
            "--until",
            "2026-02-01",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    for number in (2, 3, 4, 5):
        assert f"rejected line {number}:" in result.stderr
    assert "1 events applied, 4 rejected" in result.stdout
    assert "email/welcome-first-purchase-coupon 1" in result.stdout
