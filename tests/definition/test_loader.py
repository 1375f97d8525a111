"""The loader: YAML 1.2 text -> Journey, refusing unsafe YAML, errors at file:line:col."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from journeyflow.definition.loader import (
    MAX_BYTES,
    Positions,
    analyse_paths,
    dump_journey,
    journey_files,
    load_file,
    load_paths,
    load_text,
    validate_text,
)
from journeyflow.exceptions import JourneyDefinitionError
from tests.journeys import MINIMAL

ROOT = Path(__file__).resolve().parents[2]


def codes(text: str | bytes) -> list[str]:
    return [p.code for p in validate_text(text)]


def only_error(text: str | bytes) -> tuple[str, int | None, str]:
    problems = validate_text(text, "j.yaml")
    assert len(problems) == 1, problems
    p = problems[0]
    return p.code, p.line, p.message


# --- what loads ------------------------------------------------------------------


def test_minimal_journey_loads_with_its_source_and_hash() -> None:
    loaded = load_text(MINIMAL, "minimal.yaml")
    assert loaded.journey.journey == "minimal"
    assert loaded.path == "minimal.yaml"
    assert loaded.source == MINIMAL
    assert loaded.warnings == []
    assert len(loaded.content_hash) == 64


def test_yaml_12_keeps_on_yes_no_off_as_strings() -> None:
    text = MINIMAL.replace(
        "      - after: 2d\n", "      - on: yes\n        to: done\n      - after: 2d\n"
    )
    loaded = load_text(text.replace("on: [signed_up]", "on: [off, no]"))
    assert loaded.journey.entry.on == ["off", "no"]
    assert loaded.journey.states["welcome"].transitions[0].on == "yes"


def test_modeline_and_inline_schema_are_accepted() -> None:
    text = (
        "# yaml-language-server: $schema=../schemas/journey.schema.json\n"
        "$schema: ../schemas/journey.schema.json\n" + MINIMAL
    )
    assert load_text(text).journey.schema_ == "../schemas/journey.schema.json"


def test_bytes_with_a_bom_load() -> None:
    assert load_text(b"\xef\xbb\xbf" + MINIMAL.encode()).journey.journey == "minimal"


def test_scalars_follow_the_yaml_12_core_schema() -> None:
    text = (
        MINIMAL + "tests:\n  - name: t\n    steps:\n      - event: {a: 0o12, b: 0x1F, "
        "c: 012, d: 1e3, e: .inf, f: 2026-01-01, g: null, h: True, i: '1', j: !!str 5}\n"
    )
    event = load_text(text).journey.tests[0].steps[0].event  # type: ignore[union-attr]
    assert event == {
        "a": 10,
        "b": 31,
        "c": 12,
        "d": 1000.0,
        "e": float("inf"),
        "f": "2026-01-01",
        "g": None,
        "h": True,
        "i": "1",
        "j": "5",
    }


def test_dates_stay_text_but_datetime_fields_parse() -> None:
    text = (
        MINIMAL + "tests:\n  - name: t\n    start: 2026-01-01T10:00:00Z\n    steps:\n"
        "      - advance: 1d\n"
    )
    assert load_text(text).journey.tests[0].start is not None


def test_tabs_inside_quoted_text_are_fine() -> None:
    text = MINIMAL.replace("journey: minimal\n", 'journey: minimal\ndescription: "one\n\ttwo"\n')
    assert load_text(text).journey.description == "one two"


def test_internal_transition_may_omit_to() -> None:
    text = MINIMAL.replace(
        "      - after: 2d\n", "      - on: ping\n        internal: true\n      - after: 2d\n"
    )
    assert load_text(text).journey.states["welcome"].transitions[0].to is None


# --- what is refused ---------------------------------------------------------------


def test_all_errors_come_in_one_exception() -> None:
    text = MINIMAL.replace("version: 1", "version: one").replace("final: true", "fnal: true")
    with pytest.raises(JourneyDefinitionError) as info:
        load_text(text, "j.yaml")
    assert [p.code for p in info.value.problems] == ["JF203", "JF201"]
    assert "j.yaml:2:10: error JF203" in str(info.value)


def test_duplicate_key_names_both_lines() -> None:
    code, line, message = only_error(MINIMAL + "initial: done\n")
    assert (code, line) == ("JF110", 16)
    assert "line 16" in message and "first on line 5" in message


def test_alias_bomb_is_refused_before_expansion() -> None:
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcdefghi", "bcdefghij", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    start = time.perf_counter()
    assert codes("\n".join(levels)) == ["JF108"]
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize(
    "bomb",
    [
        "x: " + "[" * 400_000 + "]" * 400_000,
        "x: " + "{a: " * 200_000,
        "".join("  " * i + "k:\n" for i in range(200)),
    ],
)
def test_nesting_bombs_are_refused_fast(bomb: str) -> None:
    start = time.perf_counter()
    assert codes(bomb) == ["JF109"]
    assert time.perf_counter() - start < 1


def test_too_large_text_and_file(tmp_path: Path) -> None:
    big = MINIMAL + "description: " + "x" * MAX_BYTES + "\n"
    assert codes(big) == ["JF101"]
    path = tmp_path / "big.yaml"
    path.write_text(big)
    with pytest.raises(JourneyDefinitionError) as info:
        load_file(path)
    assert info.value.problems[0].code == "JF101"


def test_unreadable_file_is_a_problem_not_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(JourneyDefinitionError) as info:
        load_file(tmp_path / "missing.yaml")
    assert info.value.problems[0].code == "JF100"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (b"journey: caf\xe9\n", "JF102"),
        ("journey: [\n", "JF103"),
        ("a:\n\tb: 1\n", "JF104"),
        ("", "JF105"),
        ("---\n", "JF105"),
        ("~\n", "JF106"),
        ("a: !!binary aGk=\n", "JF107"),
        ("a: !!set {x}\n", "JF107"),
        ("a: 1\n---\nb: 2\n", "JF111"),
        ("%YAML 1.1\n---\na: 1\n", "JF112"),
        ("? {a: 1}\n: 2\n", "JF113"),
    ],
)
def test_unsafe_or_broken_yaml(text: str | bytes, code: str) -> None:
    assert codes(text) == [code]


def test_unknown_field_suggests_the_right_one() -> None:
    code, line, message = only_error(MINIMAL.replace("    transitions:", "    trasitions:"))
    assert (code, line) == ("JF201", 11)
    assert message == "unknown field 'trasitions' in state 'welcome' — did you mean 'transitions'?"


def test_missing_field_points_at_the_owner() -> None:
    code, line, message = only_error(
        MINIMAL.replace("        template: welcome\n", "").replace(
            "      - send: email\n", "      - task: {}\n"
        )
    )
    assert (code, line) == ("JF202", 9) and "'title'" in message


def test_bad_duration_says_how_to_write_one() -> None:
    code, line, message = only_error(MINIMAL.replace("after: 2d", "after: 120 days"))
    assert (code, line) == ("JF205", 12)
    assert (
        "'120 days' is not a duration: write a number and a unit (30m, 2h, 14d, 2w) "
        "or ISO-8601 (P14D, PT2H)" in message
    )


def test_action_problems_point_at_the_action() -> None:
    code, line, message = only_error(MINIMAL.replace("- send: email", "- sned: email"))
    assert (code, line) == ("JF206", 9) and "did you mean 'send'" in message
    code, line, message = only_error(MINIMAL.replace("template: welcome", "emit: hi"))
    assert (code, line) == ("JF206", 10) and "two actions" in message


def test_strict_makes_warnings_fail() -> None:
    text = MINIMAL.replace("send: email", "send: carrier-pigeon")
    assert load_text(text).warnings[0].code == "JF501"
    with pytest.raises(JourneyDefinitionError):
        load_text(text, strict=True)


# --- positions ---------------------------------------------------------------------


def test_positions_of_values_and_keys() -> None:
    positions = load_text(MINIMAL).positions
    assert isinstance(positions, Positions)
    assert positions.at(("states", "welcome", "transitions", 0, "to")) == (13, 13)
    assert positions.at(("states", "done"), key=True) == (14, 3)
    # a path past the file stops at the deepest node that exists
    assert positions.at(("states", "done", "on_enter", 0)) == (15, 5)


# --- files and folders ---------------------------------------------------------------


def test_journey_files_skip_tests_and_hidden_folders(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yml", "a.test.yaml", "notes.txt", ".git/c.yaml", "sub/d.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(MINIMAL)
    names = [p.relative_to(tmp_path).as_posix() for p in journey_files([tmp_path])]
    assert names == ["a.yaml", "b.yml", "sub/d.yaml"]


def test_load_paths_reports_every_file_and_duplicate_versions(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MINIMAL)
    (tmp_path / "b.yaml").write_text(MINIMAL)
    (tmp_path / "c.yaml").write_text("[]\n")
    (tmp_path / "d.yaml").write_text(MINIMAL.replace("version: 1", "version: 2"))
    with pytest.raises(JourneyDefinitionError) as info:
        load_paths([tmp_path])
    assert [(Path(p.file).name, p.code, p.line) for p in info.value.problems] == [
        ("b.yaml", "JF314", 2),
        ("c.yaml", "JF106", 1),
    ]
    assert "version 1 is also defined in" in info.value.problems[0].message
    (tmp_path / "b.yaml").unlink()
    (tmp_path / "c.yaml").unlink()
    assert [lj.journey.version for lj in load_paths([tmp_path])] == [1, 2]
    results = analyse_paths([tmp_path / "a.yaml"])
    assert results[0].journey is not None and results[0].problems == []


@pytest.mark.parametrize("name", ["crm-reactivation", "crm-post-sale", "crm-birthday"])
def test_project_journeys_dump_back_equal(name: str) -> None:
    # pure-Python YAML reads ~60 KB/s: three journeys cover every construct
    for lj in load_paths([ROOT / "journeys" / f"{name}.yaml"]):
        assert load_text(dump_journey(lj.journey)).journey == lj.journey, lj.path


def test_dump_reads_like_a_hand_written_file() -> None:
    text = dump_journey(load_text(MINIMAL).journey)
    assert text.startswith("journey: minimal\nversion: 1\n")
    assert "final: true" in text and "internal" not in text


def test_a_duration_too_long_for_any_timer_is_a_problem_not_an_overflow() -> None:
    code, line, message = only_error(MINIMAL.replace("after: 2d", "after: 99999999999999999w"))
    assert (code, line) == ("JF205", 12) and "longer than any timer" in message
