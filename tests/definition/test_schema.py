"""The committed JSON Schema: current, and in agreement with the loader.

Editors and CI validate journeys with `schemas/journey.schema.json` and never
run journeyflow, so the schema must accept every journey the loader accepts
(checked with the real `check-jsonschema` CLI, which reads YAML itself) and be
regenerated whenever `dsl.py` changes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from journeyflow.cli import main
from journeyflow.definition.durations import parse_duration
from journeyflow.definition.loader import load_file
from journeyflow.definition.schema import (
    DIALECT,
    SCHEMA_ID,
    journey_schema,
    render_schema,
    schema_differs,
)
from journeyflow.exceptions import DurationError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schemas" / "journey.schema.json"
FIXTURES = ROOT / "tests" / "fixtures" / "render"
JOURNEYS = sorted((ROOT / "journeys").glob("*.yaml"))
VALID = JOURNEYS + sorted(FIXTURES.glob("*.yaml"))
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def _check_jsonschema() -> str:
    exe = Path(sys.executable).with_name("check-jsonschema")
    found = str(exe) if exe.exists() else shutil.which("check-jsonschema")
    if found is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[test]')")
    return found


def _run_check(*paths: Path, fmt: str = "text") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_check_jsonschema(), "-o", fmt, "--schemafile", str(SCHEMA_FILE), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session")
def schema_errors() -> dict[str, list[str]]:
    """check-jsonschema run once over every file (it starts slowly): file -> errors."""
    result = _run_check(*VALID, *INVALID, fmt="json")
    report = json.loads(result.stdout)
    found: dict[str, list[str]] = {str(p): [] for p in (*VALID, *INVALID)}
    for error in report["errors"] + report["parse_errors"]:
        found.setdefault(error["filename"], []).append(
            f"{error.get('path', '')}: {error.get('message', error)}"
        )
    return found


# --- the committed file ---------------------------------------------------------


def test_committed_schema_is_current() -> None:
    assert SCHEMA_FILE.exists(), "run `journeyflow schema` to generate schemas/journey.schema.json"
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == render_schema(), (
        "schemas/journey.schema.json is out of date: run `journeyflow schema` to regenerate"
    )


def test_schema_is_deterministic_and_well_formed() -> None:
    text = render_schema()
    assert text == render_schema()
    assert text.endswith("}\n")
    schema = json.loads(text)
    assert list(schema)[:4] == ["$schema", "$id", "title", "description"]
    assert schema["$schema"] == DIALECT
    assert schema["$id"] == SCHEMA_ID
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_accepts_inline_schema_key() -> None:
    assert "$schema" in journey_schema()["properties"]


def test_action_and_step_unions_are_expressed() -> None:
    """The callable discriminators leave pydantic no mapping; the variants must
    still be listed, and each must be closed so exactly one matches."""
    defs = journey_schema()["$defs"]
    actions = defs["State"]["properties"]["on_enter"]["items"]["oneOf"]
    assert [a["$ref"].rsplit("/", 1)[1] for a in actions] == [
        "SendAction",
        "SetAction",
        "VarsAction",
        "EmitAction",
        "TaskAction",
    ]
    steps = defs["JourneyTest"]["properties"]["steps"]["items"]["oneOf"]
    assert len(steps) == 6  # event, identify, advance, advance_to, replay, expect
    for ref in actions + steps:
        variant = defs[ref["$ref"].rsplit("/", 1)[1]]
        assert variant["additionalProperties"] is False
        assert len(variant["required"]) == 1


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(journey_schema())


def _minimal(**state: object) -> dict[str, object]:
    return {
        "journey": "x",
        "version": 1,
        "entry": {"on": "signed_up"},
        "initial": "a",
        "states": {"a": {"final": True, **state}},
    }


def test_event_names_may_be_a_string_or_a_list() -> None:
    v = _validator()
    assert v.is_valid(_minimal())
    doc = _minimal()
    doc["entry"] = {"on": ["a", "b"]}
    doc["exit"] = [{"on": "stop"}, {"on": ["x", "y"], "goal": True}]
    assert v.is_valid(doc)
    doc["exit"] = [{"on": []}]
    assert not v.is_valid(doc)


def test_entry_needs_on_or_segment() -> None:
    doc = _minimal()
    doc["entry"] = {"segment": "rfm:at_risk"}
    assert _validator().is_valid(doc)
    doc["entry"] = {"reentry": "always"}
    assert not _validator().is_valid(doc)


@pytest.mark.parametrize(
    "text",
    [
        "30m", "2h", "14d", "2w", "45s", " 3 d ", "P14D", "PT2H", "P1W", "P1DT2H30M",
        "PT0.5S", "P2W3D",
        "", "P", "PT", "P1DT", "P1M", "P1Y", "1 month", "3 months", "1.5d", "14", "d",
        "p14d", "PT1H2D", "14dd", "-1d",
    ],
)  # fmt: skip
def test_duration_pattern_agrees_with_parse_duration(text: str) -> None:
    try:
        parse_duration(text)
        accepted = True
    except DurationError:
        accepted = False
    doc = _minimal()
    doc["states"] = {"a": {"transitions": [{"after": text, "to": "b"}]}, "b": {"final": True}}
    assert _validator().is_valid(doc) is accepted


@pytest.mark.parametrize(
    "value",
    ["2026-01-01T10:00:00Z", "2026-01-01 10:00:00+03:00", "2026-01-01T10:00:00", "2026-01-01"],
)
def test_datetimes_the_loader_accepts_validate(value: str) -> None:
    doc = _minimal()
    doc["tests"] = [{"name": "t", "start": value, "steps": [{"advance_to": value}]}]
    assert _validator().is_valid(doc)
    doc["tests"] = [{"name": "t", "start": "next tuesday", "steps": [{"advance": "1d"}]}]
    assert not _validator().is_valid(doc)


# --- real files through the real CLI ---------------------------------------------


@pytest.mark.parametrize("path", VALID, ids=_ids(VALID))
def test_journey_validates_with_check_jsonschema(
    path: Path, schema_errors: dict[str, list[str]]
) -> None:
    """Also proves `on:` keys survive check-jsonschema's YAML reading: a key
    read as `true` would be an unknown property of the closed Transition."""
    load_file(path)  # the loader accepts it, so the schema must too
    assert schema_errors[str(path)] == []


@pytest.mark.parametrize("path", INVALID, ids=_ids(INVALID))
def test_invalid_file_is_rejected_by_check_jsonschema(
    path: Path, schema_errors: dict[str, list[str]]
) -> None:
    assert schema_errors[str(path)], f"{path.name} should be rejected"


def test_check_jsonschema_exit_codes() -> None:
    """The plain CLI, as CI would call it: 0 for a good file, 1 for a bad one."""
    good = _run_check(FIXTURES / "reactivation.yaml")
    assert good.returncode == 0, good.stdout + good.stderr
    bad = _run_check(INVALID[0])
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Schema validation errors" in bad.stdout


def test_two_triggers_are_named_in_the_error() -> None:
    result = _run_check(FIXTURES / "invalid" / "two-triggers.yaml")
    assert "{'required': ['after']}, {'required': ['on']}" in result.stdout


# --- the command -----------------------------------------------------------------


def test_command_writes_checks_and_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    missing = runner.invoke(main, ["schema", "--check"])
    assert missing.exit_code == 1
    assert "run `journeyflow schema` to regenerate" in missing.output

    wrote = runner.invoke(main, ["schema"])
    assert wrote.exit_code == 0, wrote.output
    default = tmp_path / "schemas" / "journey.schema.json"
    assert default.read_text(encoding="utf-8") == render_schema()
    assert not schema_differs(default)

    current = runner.invoke(main, ["schema", "--check"])
    assert current.exit_code == 0, current.output

    default.write_text(render_schema().replace("journeyflow journey", "stale"), encoding="utf-8")
    stale = runner.invoke(main, ["schema", "--check"])
    assert stale.exit_code == 1
    assert "out of date" in stale.output

    printed = runner.invoke(main, ["schema", "--output", "-"])
    assert printed.exit_code == 0
    assert printed.output == render_schema()

    other = runner.invoke(main, ["schema", "-o", "elsewhere/s.json"])
    assert other.exit_code == 0
    assert (tmp_path / "elsewhere" / "s.json").read_text(encoding="utf-8") == render_schema()

    bad = runner.invoke(main, ["schema", "--check", "--output", "-"])
    assert bad.exit_code == 2
