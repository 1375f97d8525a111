"""`journeyflow test --strict` and `--trace`.

Fixtures: tests/fixtures/journeytests/strict/ (a guard reading the event in a
state a timer enters: its test passes, but the run writes an `error` row) and
v11/ (a journey run once per order, with sends and tasks).
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from journeyflow.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "journeytests"
STRICT = FIXTURES / "strict"
V11 = FIXTURES / "v11"


def jf_test(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["test", *map(str, args)])


def test_strict_fails_a_test_whose_run_wrote_an_error_row() -> None:
    plain = jf_test(STRICT)
    assert plain.exit_code == 0, plain.output
    assert plain.output.rstrip().endswith("1 passed, 0 failed")
    strict = jf_test("--strict", STRICT)
    assert strict.exit_code == 1, strict.output
    out = strict.output
    assert f"FAIL {STRICT.as_posix()}/pricing.yaml::a quote is followed up, then closed" in out
    assert "after the last step (--strict): the run wrote 1 error row(s)" in out
    assert "2026-06-02T10:00:00Z  p1  fixture-pricing  in follow_up: guard counted as false:" in out
    assert "'event.properties.total > 100'" in out
    assert out.rstrip().endswith("0 passed, 1 failed")


def test_strict_passes_a_clean_run() -> None:
    result = jf_test("--strict", V11)
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("3 passed, 0 failed")


def test_trace_prints_each_passing_tests_timeline() -> None:
    result = jf_test("--trace", "-k", "by its key", V11)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = lines.index(
        f"PASS {V11.as_posix()}/orders.test.yaml::two orders are two enrolments, "
        "each found by its key"
    )
    timeline = [ln.strip() for ln in lines[start + 1 :] if ln.startswith("    ")]
    assert timeline[:4] == [
        "2026-06-01T10:00:00Z  event      c2  order_completed",
        "2026-06-01T10:00:00Z  enter      c2  fixture-orders[7]  (start) -> thanks  "
        "(event:order_completed)",
        "2026-06-01T10:00:00Z  send       c2  fixture-orders[7]  email order-thanks",
        "2026-06-01T10:00:00Z  task       c2  fixture-orders[7]  'Pack the order' for warehouse",
    ]
    assert "2026-06-03T10:00:00Z  transition c2  fixture-orders[7]  thanks -> review  " in (
        "\n".join(timeline)
    )
    moments = [ln.split()[0] for ln in timeline]
    assert moments == sorted(moments)


def test_trace_prints_nothing_for_a_failing_test(tmp_path: Path) -> None:
    journey = (V11 / "orders.yaml").read_text()
    (tmp_path / "orders.yaml").write_text(
        journey
        + "tests:\n  - name: wrong\n    steps:\n"
        + "      - event: {userId: c1, event: order_completed, properties: {order_id: 1}}\n"
        + "      - expect: {customer: c1, state: done}\n"
    )
    result = jf_test("--trace", tmp_path)
    assert result.exit_code == 1
    assert "    2026-" not in result.output.split("=====")[0]
