"""The v1.1 steps and expectations in a journey file's own `tests:` (not only
in `*.test.yaml` files), once the journey models take the test models of
`definition/testspec.py`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journeyflow.definition import dsl, testspec
from journeyflow.testing.journeytest import collect, run_case

ORDERS = Path(__file__).resolve().parents[1] / "fixtures" / "journeytests" / "v11" / "orders.yaml"


@pytest.mark.skipif(
    getattr(dsl, "JourneyTest", None) is not testspec.JourneyTest,
    reason="the journey models do not take definition/testspec.py's test models yet",
)
def test_a_journey_files_own_tests_replay_and_check_tasks(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    event = {
        "userId": "c1",
        "event": "order_completed",
        "properties": {"order_id": 5, "total": 20},
        "timestamp": "2026-06-01T10:00:00Z",
    }
    (tmp_path / "data" / "one.jsonl").write_text(json.dumps(event) + "\n")
    (tmp_path / "orders.yaml").write_text(
        ORDERS.read_text()
        + "tests:\n"
        + "  - name: inline\n"
        + "    steps:\n"
        + "      - replay: data/one.jsonl\n"
        + "      - expect: {customer: c1, key: 5, sent: [{channel: email, data: {total: 20}}],\n"
        + "                 tasks: [{title: Pack the order}]}\n"
    )
    found = collect([tmp_path])
    assert not found.errors, found.errors
    [case] = found.cases
    result = run_case(case)
    assert result.outcome == "passed", result.message
    assert result.events == 1
