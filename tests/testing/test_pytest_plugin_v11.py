"""The pytest plugin runs v1.1 journey tests as `journeyflow test` does: a
`replay:` file found next to its test file whatever the working folder, and
the ini option `journeyflow_strict`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "journeytests"


def pytest_run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_replay_and_strict_under_pytest(tmp_path: Path) -> None:
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    shutil.copy(FIXTURES / "v11" / "orders.yaml", journeys)
    shutil.copy(FIXTURES / "strict" / "pricing.yaml", journeys)
    (journeys / "data").mkdir()
    events = [
        {
            "userId": f"c{n}",
            "event": "order_completed",
            "properties": {"order_id": n, "total": 10 * n},
        }
        | {"timestamp": f"2026-06-01T{10 + n:02d}:00:00Z"}
        for n in range(1, 4)
    ]
    (journeys / "data" / "orders.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (journeys / "orders.test.yaml").write_text(
        "journey: fixture-orders\n"
        "tests:\n"
        "  - name: three recorded orders\n"
        "    steps:\n"
        "      - replay: data/orders.jsonl\n"
        "      - advance: 2d\n"
        "      - expect: {customer: c3, key: 3, state: review,\n"
        "                 tasks: [{title: Pack the order}, {owner: support}]}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # run from another folder: the replay file is found next to its test file
    done = pytest_run(elsewhere, "-q", "--rootdir", str(tmp_path), str(journeys))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    strict = pytest_run(
        elsewhere, "-q", "--rootdir", str(tmp_path), "-o", "journeyflow_strict=true", str(journeys)
    )
    assert strict.returncode == 1, strict.stdout
    assert "1 failed, 1 passed" in strict.stdout
    assert "(--strict): the run wrote 1 error row(s)" in strict.stdout
