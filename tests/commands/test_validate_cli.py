"""`journeyflow validate`: every broken file in tests/broken fails with its code
at its line, on one screen, without a traceback; good files pass."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from journeyflow.cli import main
from journeyflow.commands import validate as validate_module
from journeyflow.definition.checks import BUILTIN_VERTICALS, FIRST_PARTY_CHANNELS, KnownNames
from journeyflow.exceptions import PluginError
from tests.journeys import MINIMAL

BROKEN = Path(__file__).parents[1] / "broken"
BROKEN_FILES = sorted(BROKEN.glob("*.yaml"))
EXPECT = re.compile(rb"^# expect: (JF\d{3}) line (\d+)$")

WAITING = MINIMAL.replace("      - after: 2d\n", "      - on: contract_signed\n")


# What the installed plugins register is fixed here: tests never depend on
# whatever happens to be installed.
REGISTRY = KnownNames(
    channels=FIRST_PARTY_CHANNELS,
    segments=frozenset({"rfm"}),
    kpis=frozenset({"repurchase_rate"}),
    verticals=BUILTIN_VERTICALS,
)


@pytest.fixture(autouse=True)
def fixed_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate_module, "installed_names", lambda: REGISTRY)


def expectation(path: Path) -> tuple[str, int]:
    match = EXPECT.match(path.read_bytes().split(b"\n", 1)[0])
    assert match, f"{path.name} must start with '# expect: JF123 line N'"
    return match.group(1).decode(), int(match.group(2))


def validate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    return result.exit_code, result.output


def test_there_are_at_least_thirty_broken_files() -> None:
    assert len(BROKEN_FILES) >= 30


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.stem)
def test_broken_file_fails_with_its_code_at_its_line(path: Path) -> None:
    code, line = expectation(path)
    exit_code, output = validate(str(path))
    assert exit_code == 1, output
    assert re.search(
        rf"^{re.escape(path.as_posix())}:{line}:(\d+:)? error {code}: ", output, re.MULTILINE
    ), output
    assert output.rstrip().endswith("1 file, 1 error, 0 warnings"), output
    assert "Traceback" not in output
    assert len(output.splitlines()) <= 25


def test_real_subprocess_on_the_whole_folder() -> None:
    exe = Path(sys.executable).with_name("journeyflow")
    run = subprocess.run(
        [str(exe), "validate", "--no-plugins", str(BROKEN)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    for path in BROKEN_FILES:
        code, line = expectation(path)
        assert f"{path.as_posix()}:{line}:" in run.stdout and code in run.stdout, path.name
    n = len(BROKEN_FILES)
    assert run.stdout.rstrip().endswith(f"{n} files, {n} errors, 0 warnings")


def test_a_good_journey_passes(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(MINIMAL)
    assert validate(str(tmp_path / "good.yaml")) == (0, "1 file, 0 errors, 0 warnings\n")


def test_the_source_line_and_a_caret_point_at_the_column(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    path.write_text(MINIMAL.replace("to: done", "to: dnoe"))
    exit_code, output = validate(str(path))
    assert exit_code == 1
    lines = output.splitlines()
    assert lines[0].startswith(f"{path.as_posix()}:13:13: error JF301: ")
    assert lines[1] == "   13 |         to: dnoe"
    assert lines[2] == "      |             ^"


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    path = tmp_path / "waiting.yaml"
    path.write_text(WAITING)
    exit_code, output = validate(str(path))
    assert exit_code == 0
    assert "warning JF601" in output and "1 file, 0 errors, 1 warning" in output
    exit_code, output = validate("--strict", str(path))
    assert exit_code == 1
    assert "(--strict: warnings fail)" in output


def test_folders_skip_journey_tests_and_json_lists_problems(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(MINIMAL)
    (tmp_path / "waiting.yml").write_text(WAITING.replace("journey: minimal", "journey: waiting"))
    (tmp_path / "good.test.yaml").write_text("not: a journey\n")
    exit_code, output = validate("--format", "json", str(tmp_path))
    assert exit_code == 0
    report = json.loads(output)
    assert [(Path(f["file"]).name, f["status"]) for f in report["files"]] == [
        ("good.yaml", "ok"),
        ("waiting.yml", "warning"),
    ]
    [problem] = report["problems"]
    assert problem["code"] == "JF601" and problem["severity"] == "warning"
    assert problem["line"] == 7 and problem["column"] == 3
    assert report["summary"] == {"files": 2, "errors": 0, "warnings": 1, "strict": False}
    exit_code, output = validate("--format", "json", "--strict", str(tmp_path))
    assert exit_code == 1 and json.loads(output)["files"][1]["status"] == "error"


def test_many_problems_stay_on_one_screen(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(MINIMAL + "".join(f"  s{i}: {{final: true}}\n" for i in range(30)))
    exit_code, output = validate(str(path))
    assert exit_code == 1
    assert "... and 20 more problems" in output
    assert "1 file, 30 errors, 0 warnings" in output


def test_nothing_to_validate(tmp_path: Path) -> None:
    exit_code, output = validate(str(tmp_path))
    assert exit_code == 1 and "no journey files" in output
    exit_code, output = validate(str(tmp_path / "missing.yaml"))
    assert exit_code == 2 and "does not exist" in output


def test_names_the_installed_plugins_lack_are_warnings_naming_what_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.yaml"
    path.write_text(
        MINIMAL.replace("initial:", "kpis: [nps]\ninitial:").replace(
            "after: 2d", "on: scored\n        when: 'score(customer) > 1'"
        )
        + "  later:\n    final: true\n"
    )
    exit_code, output = validate(str(path))
    assert exit_code == 1  # the unknown CEL function is an error, the KPI a warning
    assert (
        "warning JF503: KPI 'nps' is not registered by any installed plugin "
        "(registered: repurchase_rate)" in output
    )
    assert "error JF403: unknown function 'score'" in output
    with_score = replace(REGISTRY, functions=frozenset({"score"}))
    monkeypatch.setattr(validate_module, "installed_names", lambda: with_score)
    exit_code, output = validate(str(path))
    assert "JF403" not in output and "JF503" in output


def test_a_broken_plugin_set_falls_back_to_first_party_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # the real installed_names, with a failing plugin manager

    def broken(**_: object) -> None:
        raise PluginError("plugin 'x' cannot be imported")

    monkeypatch.setattr("journeyflow.plugin.manager.build_manager", broken)
    path = tmp_path / "good.yaml"
    path.write_text(MINIMAL)
    exit_code, output = validate(str(path))
    assert exit_code == 0
    assert "note: plugins not loaded (plugin 'x' cannot be imported)" in output


# --- hostile journeys: refused with a located error, never a crash or a hang ---

HOSTILE_HEAD = """journey: hostile
version: 1
entry:
  on: [signed_up]
initial: welcome
states:
  welcome:
    transitions:
      - after: 1d
        to: done
"""


def _hostile_when(expression: str) -> str:
    return (
        HOSTILE_HEAD
        + f"      - on: clicked\n        when: '{expression}'\n        to: done\n"
        + "  done:\n    final: true\n"
    )


def _validate_in_a_process(path: Path) -> subprocess.CompletedProcess[str]:
    """`journeyflow validate` in its own process: a segfault shows as a signal
    (a negative return code) instead of killing the test run; the timeout is a
    hang guard, not a timing assert."""
    exe = Path(sys.executable).with_name("journeyflow")
    return subprocess.run(
        [str(exe), "validate", "--no-plugins", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "expression", "code"),
    [
        # each of these 40 KB expressions killed the process with SIGSEGV in the
        # CEL library (the first two in validate, the third when ingesting)
        ("selection chain", "has(customer" + ".a" * 20_000 + ")", "JF404"),
        ("string concatenation", "+".join(['"a"'] * 10_000), "JF404"),
        ("addition chain", "+".join(["1"] * 20_000), "JF404"),
        # within the length limit, still too deep for comfort
        ("short selection chain", "has(customer" + ".a" * 100 + ")", "JF405"),
        ("short addition chain", "customer.n == " + "+".join(["1"] * 100), "JF405"),
        ("brackets", "(" * 80 + "1" + ")" * 80 + " == 1", "JF405"),
        # 1.29 GB to compile before
        ("list literal of 240,000 items", "size([" + ",".join(["1"] * 240_000) + "]) > 0", "JF404"),
        ("list literal of 300 items", "size([" + ",".join(["1"] * 300) + "]) > 0", "JF406"),
        (
            "three nested comprehensions",
            "[1,2].map(x, [1,2].map(y, [1,2].map(z, x + y + z))).size() > 0",
            "JF407",
        ),
    ],
)
def test_hostile_cel_is_refused_with_its_code_at_its_line(
    tmp_path: Path, name: str, expression: str, code: str
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(_hostile_when(expression))
    run = _validate_in_a_process(path)
    assert run.returncode == 1, (name, run.returncode, run.stderr[-2000:])
    assert f"{path.as_posix()}:12:15: error {code}: " in run.stdout, run.stdout[:2000]
    assert "Traceback" not in run.stdout + run.stderr


def test_a_yaml_list_of_240000_items_is_refused_early(tmp_path: Path) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(
        HOSTILE_HEAD.replace(
            "version: 1\n", "version: 1\nkpis: [" + ", ".join(["a"] * 240_000) + "]\n"
        )
        + "  done:\n    final: true\n"
    )
    run = _validate_in_a_process(path)
    assert run.returncode == 1, run.stderr[-2000:]
    assert re.search(rf"^{re.escape(path.as_posix())}:3:\d+: error JF114: ", run.stdout, re.M)


def test_what_never_ends_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as f:
        f.truncate(3 * 1024 * 1024)  # sparse: its size says so, but /dev/zero's does not
    for path in (Path("/dev/zero"), huge):
        run = _validate_in_a_process(path)
        assert run.returncode == 1
        assert f"{path.as_posix()}:1:1: error JF101: " in run.stdout, run.stdout


def test_a_named_pipe_nobody_writes_to_reads_as_empty(tmp_path: Path) -> None:
    fifo = tmp_path / "journey.yaml"
    os.mkfifo(fifo)
    run = _validate_in_a_process(fifo)
    assert run.returncode == 1
    assert f"{fifo.as_posix()}:1:1: error JF105: " in run.stdout, run.stdout
