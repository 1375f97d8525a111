"""Journey test expectations of v1.1: `sent` without tasks, `tasks:`, `data:`
in a sent item, any scalar `key:`; and `*.test.yaml` files read by the
journey loader's safe reader, with its limits.

Fixture: tests/fixtures/journeytests/v11/ (a journey run once per order that
sends an e-mail with data, an SMS and two tasks, and its passing tests).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from journeyflow.definition import testspec
from journeyflow.definition.yaml_reader import MAX_BYTES
from journeyflow.testing.journeytest import CaseResult, JourneyTestError, collect, run_case
from journeyflow.testing.journeytest.collecting import read_test_file

ROOT = Path(__file__).resolve().parents[2]
V11 = ROOT / "tests" / "fixtures" / "journeytests" / "v11"
EVENT = (
    "{userId: c1, event: order_completed, properties: {order_id: 1001, total: 80}, "
    "timestamp: '2026-06-01T10:00:00Z'}"
)


def test_the_v11_fixture_passes() -> None:
    found = collect([V11])
    assert not found.errors and len(found.cases) == 3
    results = [run_case(c) for c in found.cases]
    assert [r.outcome for r in results] == ["passed"] * 3, [r.message for r in results]


def _run(tmp_path: Path, steps: str) -> CaseResult:
    shutil.copy(V11 / "orders.yaml", tmp_path / "orders.yaml")
    (tmp_path / "t.test.yaml").write_text(
        f"journey: fixture-orders\ntests:\n  - name: t\n    steps:\n{steps}"
    )
    found = collect([tmp_path])
    assert not found.errors, found.errors
    [case] = found.cases
    return run_case(case)


def test_a_task_is_not_in_sent(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        f"      - event: {EVENT}\n"
        "      - expect: {customer: c1, sent: [{channel: email}, {channel: sms}]}\n",
    )
    assert result.outcome == "failed"
    assert "sent: expected 2 message(s), got 1" in result.message
    assert "- sms" in result.message and "+ task" not in result.message


def test_tasks_are_an_exact_list_in_order(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        f"      - event: {EVENT}\n"
        "      - advance: 2d\n"
        "      - expect: {customer: c1, tasks: [{title: Call about the review}, "
        "{owner: warehouse}]}\n",
    )
    assert result.outcome == "failed"
    text = result.message
    assert "tasks: expected 2 task(s), got 2:" in text
    assert "x 1. expected {title: 'Call about the review'}, got {title: 'Pack the order', " in text
    assert "x 2. expected {owner: 'warehouse'}, got {title: 'Call about the review', " in text


def test_data_of_a_send_names_the_field_that_differs(tmp_path: Path) -> None:
    result = _run(
        tmp_path,
        f"      - event: {EVENT}\n"
        "      - expect: {customer: c1, sent: [{channel: email,\n"
        "                 data: {coupon: SAVE20, total: 80}}]}\n",
    )
    assert result.outcome == "failed"
    assert "data of email order-thanks at 2026-06-01T10:00:00Z: coupon: expected 'SAVE20', " in (
        result.message
    )
    assert "got 'THANKS5'" in result.message and "total:" not in result.message.split("got 'T")[1]


def test_a_key_compares_by_its_text(tmp_path: Path) -> None:
    for key in ("1001", "'1001'", '"1001"'):
        steps = (
            f"      - event: {EVENT}\n      - expect: {{customer: c1, key: {key}, state: thanks}}\n"
        )
        result = _run(tmp_path, steps)
        assert result.outcome == "passed", (key, result.message)
    assert testspec.key_text(1.5) == "1.5" and testspec.key_text(True) == "True"
    wrong = _run(
        tmp_path,
        f"      - event: {EVENT}\n      - expect: {{customer: c1, key: 1002, state: thanks}}\n",
    )
    assert wrong.outcome == "failed" and "has no enrolment" in wrong.message


def test_a_key_is_one_value(tmp_path: Path) -> None:
    (tmp_path / "t.test.yaml").write_text(
        "journey: fixture-orders\ntests:\n  - name: t\n    steps:\n"
        "      - expect: {customer: c1, key: [1, 2]}\n"
    )
    with pytest.raises(JourneyTestError) as caught:
        read_test_file(tmp_path / "t.test.yaml")
    assert f"{(tmp_path / 't.test.yaml').as_posix()}:5:" in str(caught.value)
    assert "a key is one value" in str(caught.value)


# --- test files: the journey loader's reader and limits ------------------------------


@pytest.mark.parametrize(
    ("text", "code", "line"),
    [
        ("journey: x\ntests:\n  - &t {name: a, steps: [{advance: 1d}]}\n  - *t\n", "JF108", 3),
        ("journey: x\ntests: !!python/object:os.system {}\n", "JF107", 2),
        ("journey: x\njourney: y\ntests: []\n", "JF110", 2),
        ("journey: x\ntests:\n\t- name: a\n", "JF104", 3),
        ("- journey: x\n", "JF106", 1),
        (
            "journey: x\ntests:\n  - name: a\n    steps:\n      - {advance: 1d, expect: {}}\n",
            "JF207",
            5,
        ),
        (
            "journey: x\ntests:\n  - name: a\n    steps:\n      - replay: events.csv\n",
            "JF204",
            5,
        ),
    ],
)
def test_a_test_file_is_read_safely(tmp_path: Path, text: str, code: str, line: int) -> None:
    path = tmp_path / "bad.test.yaml"
    path.write_text(text)
    with pytest.raises(JourneyTestError) as caught:
        read_test_file(path)
    message = str(caught.value)
    assert f"{path.as_posix()}:{line}:" in message and code in message, message
    assert "Traceback" not in message


def test_a_test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.test.yaml"
    padding = "# " + "x" * 98 + "\n"
    path.write_text("journey: x\n" + padding * (MAX_BYTES // len(padding) + 1))
    with pytest.raises(JourneyTestError) as caught:
        read_test_file(path)
    assert "JF101" in str(caught.value) and "`replay:` it" in str(caught.value)
