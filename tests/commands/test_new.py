"""`journeyflow new NAME`: the starter journey validates with --strict, its test
passes, its modeline names a schema file that exists, and nothing is overwritten."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from journeyflow.cli import main
from journeyflow.definition.loader import load_file
from journeyflow.definition.schema import render_schema

MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def jf(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def modeline_target(path: Path) -> Path:
    match = MODELINE.match(path.read_text(encoding="utf-8").split("\n", 1)[0])
    assert match, f"{path} must start with the yaml-language-server modeline"
    return (path.parent / match.group(1)).resolve()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder that looks like a journeyflow project: the schema in schemas/."""
    monkeypatch.chdir(tmp_path)
    assert jf("schema").exit_code == 0
    return tmp_path


def test_the_starter_passes_strict_validation_and_its_test(project: Path) -> None:
    result = jf("new", "trial-onboarding")
    assert result.exit_code == 0, result.output
    written = project / "journeys" / "trial-onboarding.yaml"
    assert written.is_file()

    validated = jf("validate", "--strict", str(written))
    assert validated.exit_code == 0, validated.output
    assert "0 errors, 0 warnings" in validated.output

    tested = jf("test", "--strict", str(written))
    assert tested.exit_code == 0, tested.output
    assert "1 passed, 0 failed" in tested.output

    loaded = load_file(written)
    assert loaded.journey.journey == "trial-onboarding"
    assert len(loaded.journey.tests) == 1


def test_the_modeline_names_the_projects_schema_relatively(project: Path) -> None:
    assert jf("new", "welcome", "--to", "deep/er/journeys").exit_code == 0
    written = project / "deep" / "er" / "journeys" / "welcome.yaml"
    first = written.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first == "# yaml-language-server: $schema=../../../schemas/journey.schema.json"
    assert modeline_target(written) == (project / "schemas" / "journey.schema.json").resolve()


def test_without_a_schema_the_installed_one_is_written_where_schema_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = jf("new", "welcome", "--to", "flows")
    assert result.exit_code == 0, result.output
    schema = tmp_path / "schemas" / "journey.schema.json"
    assert schema.read_text(encoding="utf-8") == render_schema()
    assert modeline_target(tmp_path / "flows" / "welcome.yaml") == schema.resolve()
    assert "wrote schemas/journey.schema.json" in result.output
    assert jf("schema", "--check").exit_code == 0


def test_an_existing_file_is_never_overwritten(project: Path) -> None:
    target = project / "journeys" / "welcome.yaml"
    target.parent.mkdir()
    target.write_text("journey: mine\n", encoding="utf-8")
    result = jf("new", "welcome")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: journeys/welcome.yaml already exists: choose another name, or remove the file first"
    ]
    assert target.read_text(encoding="utf-8") == "journey: mine\n"


@pytest.mark.parametrize(
    "name", ["Welcome", "two words", "under_score", "-leading", "double--hyphen", "a" * 101]
)
def test_a_name_that_is_not_a_journey_id_is_refused_in_one_line(project: Path, name: str) -> None:
    result = jf("new", "--", name)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    assert not (project / "journeys").exists()


@pytest.mark.parametrize("name", ["2026", "1e3", "null", "true"])
def test_an_id_yaml_would_read_as_a_number_or_null_stays_text(project: Path, name: str) -> None:
    assert jf("new", name).exit_code == 0
    written = project / "journeys" / f"{name}.yaml"
    assert load_file(written).journey.journey == name
    validated = jf("validate", "--strict", str(written))
    assert validated.exit_code == 0, validated.output
