"""The JSON Schema and the located errors know v1.1's action and test step."""

from __future__ import annotations

import json
from pathlib import Path

from journeyflow.definition.loader import analyse_file

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "journey.schema.json"


def _find(node: object, key: str) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    if isinstance(node, dict):
        if key in node.get("properties", {}):
            found.append(node["properties"][key])
        for value in node.values():
            found += _find(value, key)
    elif isinstance(node, list):
        for value in node:
            found += _find(value, key)
    return found


def test_a_test_steps_advance_carries_the_duration_pattern_editors_check() -> None:
    advance = _find(json.loads(SCHEMA.read_text()), "advance")
    assert advance and all("pattern" in json.dumps(a) for a in advance)


def test_an_action_doing_nothing_known_names_vars_among_the_kinds(tmp_path: Path) -> None:
    path = tmp_path / "j.yaml"
    path.write_text(
        "journey: j\nversion: 1\nentry: {on: [a]}\ninitial: s\n"
        "states:\n  s:\n    on_enter:\n      - sned: email\n    final: true\n"
    )
    problems = [p for p in analyse_file(path).problems if p.code == "JF206"]
    assert problems and "send, set, vars, emit, task" in problems[0].message
