"""Journey tests: `journeyflow test`, the runner behind it, and the pytest plugin.

Fixtures in tests/fixtures/journeytests/: `good/` (a journey whose tests pass,
plus a standalone `*.test.yaml`), `broken-timer/` (the same journey with
`after: 3d` where its test expects the move after 2 days), `emit/` (two
journeys talking through `emit:`, passing only with --with-all) and `errors/`
(test files that cannot run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from journeyflow.cli import main
from journeyflow.store.sql import SqlStore
from journeyflow.testing.journeytest import collect, run_case
from journeyflow.testing.pytest_plugin import EngineFactory

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "journeytests"
GOOD = FIXTURES / "good"
BROKEN = FIXTURES / "broken-timer"


def jf_test(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["test", *map(str, args)])


def last_line(result: Result) -> str:
    return result.output.rstrip().splitlines()[-1]


def test_good_journey_passes() -> None:
    result = jf_test(GOOD)
    assert result.exit_code == 0, result.output
    assert last_line(result) == "5 passed, 0 failed"
    assert (
        f"PASS {GOOD.as_posix()}/onboarding.yaml::the nudge comes two days after sign-up"
        in result.output
    )
    # the standalone test file ran against the journey next to it
    assert f"PASS {GOOD.as_posix()}/onboarding-more.test.yaml::two identical steps" in result.output


def test_wrong_timer_fails_with_a_diff_naming_the_step() -> None:
    result = jf_test(BROKEN)
    assert result.exit_code == 1, result.output
    assert last_line(result) == "2 passed, 1 failed"
    out = result.output
    failed = f"FAIL {BROKEN.as_posix()}/onboarding.yaml::the nudge comes two days after sign-up"
    assert failed in out
    # the step, its line in the file, expected against actual, the pending timer, the history
    source = (BROKEN / "onboarding.yaml").read_text().splitlines()
    line = next(
        n for n, text in enumerate(source, 1) if "expect: {customer: u1, state: nudge" in text
    )
    assert f"step 6 of 8 (expect, {BROKEN.as_posix()}/onboarding.yaml:{line})" in out
    assert "state: expected 'nudge', got 'welcome'" in out
    assert "- email nudge" in out and "- task" in out
    assert "timer welcome[2] (after 3d -> nudge) due 2026-05-07T09:00:00Z" in out
    assert "(start) -> welcome" in out and "event:signed_up" in out


def test_junit_xml_parses(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    result = jf_test("--junit-xml", report, GOOD, BROKEN)
    assert result.exit_code == 1
    root = ET.parse(report).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("8", "1", "0")
    cases = suite.findall("testcase")
    assert {c.get("classname") for c in cases} == {"fixture-onboarding"}
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["the nudge comes two days after sign-up"]
    failure = failed[0].find("failure")
    assert failure is not None and failure.text is not None
    assert (failure.get("message") or "").startswith("step 6 of 8")
    assert "state: expected 'nudge', got 'welcome'" in failure.text
    assert failed[0].get("line", "").isdigit()


def test_coverage_names_a_state_never_entered() -> None:
    result = jf_test("--coverage", GOOD)
    assert result.exit_code == 0, result.output
    assert "state never entered: opted_out" in result.output
    assert "transition never taken: welcome[0] on opted_out -> opted_out" in result.output
    assert "fixture-onboarding" in result.output and "75.0%" in result.output
    assert last_line(result) == "5 passed, 0 failed"


def test_coverage_fail_under() -> None:
    assert jf_test("--coverage", "--fail-under", "90", GOOD).exit_code == 1
    assert jf_test("--fail-under", "70", GOOD).exit_code == 0  # implies --coverage


def test_k_filters_by_substring_of_the_test_id() -> None:
    result = jf_test("-k", "CONVERTS", GOOD)
    assert result.exit_code == 0
    assert [ln for ln in result.output.splitlines() if ln.startswith(("PASS", "FAIL"))] == [
        f"PASS {GOOD.as_posix()}/onboarding.yaml::an order converts"
    ]
    assert last_line(result) == "1 passed, 0 failed"
    assert jf_test("-k", "more.test", GOOD).output.count("PASS") == 2
    nothing = jf_test("-k", "no such test", GOOD)
    assert nothing.exit_code == 5 and last_line(nothing) == "0 passed, 0 failed"


def test_with_all_loads_every_journey_for_emits() -> None:
    alone = jf_test(FIXTURES / "emit")
    assert alone.exit_code == 1 and last_line(alone) == "0 passed, 1 failed"
    together = jf_test("--with-all", FIXTURES / "emit")
    assert together.exit_code == 0 and last_line(together) == "1 passed, 0 failed"


def test_tests_that_cannot_run_are_errors() -> None:
    result = jf_test(GOOD / "onboarding.yaml", FIXTURES / "errors")
    assert result.exit_code == 1
    assert last_line(result) == "3 passed, 0 failed, 2 errors"
    assert "is before the virtual now" in result.output
    assert "journey 'no-such-journey' is not among the loaded journeys" in result.output


def test_default_path_is_journeys_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert jf_test().exit_code == 2  # no ./journeys: a usage error
    shutil.copytree(GOOD, tmp_path / "journeys")
    result = jf_test()
    assert (
        result.exit_code == 0
        and "PASS journeys/onboarding.yaml::an order converts" in result.output
    )


def test_identical_steps_and_same_instant_ordering() -> None:
    # (also run by test_good_journey_passes; here the runner API directly)
    cases = collect([GOOD / "onboarding-more.test.yaml"]).cases
    assert [run_case(c).outcome for c in cases] == ["passed", "passed"]


def test_pytest_collects_journey_tests(tmp_path: Path) -> None:
    (tmp_path / "journeys").mkdir()
    for f in GOOD.iterdir():
        shutil.copy(f, tmp_path / "journeys" / f.name)
    # YAML outside the journey folders is never taken for a journey, even in a
    # folder named `journeys` below tests/
    broken = tmp_path / "tests" / "broken"
    broken.mkdir(parents=True)
    (broken / "bad.yaml").write_text("journey: [unclosed\n")
    nested = tmp_path / "tests" / "fixtures" / "journeys"
    nested.mkdir(parents=True)
    shutil.copy(BROKEN / "onboarding.yaml", nested / "timer.yaml")

    def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "COLUMNS": "200"},
        )

    done = pytest_run("-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
    # pointed at a file, it collects it wherever it is; the report is the same
    # diff; -k selects journey tests by name
    done = pytest_run("-q", "tests/fixtures/journeys/timer.yaml", "-k", "not converts")
    assert done.returncode == 1
    assert "1 failed, 1 passed, 1 deselected" in done.stdout
    assert "state: expected 'nudge', got 'welcome'" in done.stdout
    assert (
        "FAILED tests/fixtures/journeys/timer.yaml::the nudge comes two days after "
        "sign-up - step 6 of 8" in done.stdout
    )
    # the ini option names the journey folders (instead of ./journeys)
    done = pytest_run("-q", "-o", "journeyflow_journeys=tests/fixtures/journeys")
    assert "1 failed, 2 passed" in done.stdout


def test_journeyflow_engine_fixture(journeyflow_engine) -> None:  # type: ignore[no-untyped-def]
    engine = journeyflow_engine(GOOD / "onboarding.yaml", start="2026-05-04T09:00:00Z")
    engine.ingest([{"type": "track", "userId": "u1", "event": "signed_up"}])
    engine.advance_to(engine.clock.now().replace(day=7))
    assert [e.template for e in engine.effects("u1")] == ["welcome", "nudge", None]
    assert engine.enrolments("u1")[0].status == "completed"


def test_journeyflow_engine_fixture_runs_on_a_given_store(
    journeyflow_engine: EngineFactory, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    first = journeyflow_engine(GOOD / "onboarding.yaml", store=url)
    first.ingest([{"type": "track", "userId": "u1", "event": "signed_up"}])
    first.store.close()
    store = SqlStore(url)
    again = journeyflow_engine(GOOD / "onboarding.yaml", store=store)
    assert again.store is store
    assert [e.customer_id for e in again.enrolments()] == ["u1"]
    store.close()
    assert journeyflow_engine(GOOD / "onboarding.yaml").enrolments() == []  # fresh memory store


def test_plugin_cel_functions_reach_the_engine(tmp_path: Path) -> None:
    journey = tmp_path / "scores.yaml"
    journey.write_text("""\
journey: fixture-scores
version: 1
entry: {on: [scored]}
initial: scored
states:
  scored:
    on_enter:
      - set: {double: '=twice(event.properties.n)'}
    transitions:
      - {after: 1d, to: done}
  done: {final: true}
tests:
  - name: a plugin's CEL function computes an attribute
    steps:
      - event: {userId: s1, event: scored, properties: {n: 21}}
      - expect: {customer: s1, attributes: {double: 42}}
""")
    [case] = collect([journey]).cases  # an unknown function is a warning, not an error
    assert run_case(case, functions={"twice": lambda n: n * 2}).outcome == "passed"
    without = run_case(case)
    assert without.outcome == "error"
    assert "unknown function 'twice'" in without.message
