"""What editors show from the journey schema: a description on every property
(not on an `anyOf` branch, where yaml-language-server never looks), patterns
explained in words, and snippets that are themselves valid journey parts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from journeyflow.definition import dsl
from journeyflow.definition.schema import DURATION_PATTERN, journey_schema

SCHEMA = journey_schema()
PLACEHOLDER = re.compile(r"\$\{\d+:([^}]*)\}")


def properties(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    yield from (("Journey", name, p) for name, p in schema["properties"].items())
    for model, node in schema["$defs"].items():
        yield from ((model, name, p) for name, p in node.get("properties", {}).items())


def nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from nodes(value)


def filled(body: Any) -> Any:
    """A snippet body with each `${n:default}` replaced by its default."""
    if isinstance(body, dict):
        return {PLACEHOLDER.sub(r"\1", k): filled(v) for k, v in body.items()}
    if isinstance(body, list):
        return [filled(v) for v in body]
    return PLACEHOLDER.sub(r"\1", body) if isinstance(body, str) else body


def part_validator(model: str) -> Draft202012Validator:
    """A validator of one part of a journey (a state, a transition)."""
    return Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{model}"})


def test_every_property_carries_its_own_description() -> None:
    found = list(properties(SCHEMA))
    assert len(found) > 100
    missing = [f"{model}.{name}" for model, name, p in found if not p.get("description")]
    assert missing == []


def test_an_optional_fields_description_is_lifted_from_its_anyof_branch() -> None:
    after = SCHEMA["$defs"]["Transition"]["properties"]["after"]
    # what the field is for, then the format its type gives (hover shows one only)
    assert after["description"].startswith("timer, counted from entering the state — ")
    assert "`14d`" in after["description"]
    on_branches = [
        f"{model}.{name}"
        for model, name, p in properties(SCHEMA)
        if any("description" in branch for branch in p.get("anyOf", []))
    ]
    assert on_branches == []
    # the hand-written descriptions of dsl.py win over the gap-fillers
    assert SCHEMA["properties"]["journey"]["description"] == "id: lowercase slug, unique"
    assert "responsible" in SCHEMA["$defs"]["State"]["properties"]["owner"]["description"]


@pytest.mark.parametrize("pattern", [DURATION_PATTERN, dsl.SLUG, dsl.STATE_NAME])
def test_every_duration_and_id_pattern_is_explained_in_words(pattern: str) -> None:
    carrying = [n for n in nodes(SCHEMA) if n.get("pattern") == pattern]
    assert carrying, f"no property has the pattern {pattern}"
    for node in carrying:
        message = node.get("patternErrorMessage", "")
        assert message.startswith("not a "), node
        assert "^" not in message and "\\" not in message


@pytest.mark.parametrize("model", ["State", "Transition"])
def test_snippets_are_offered_and_are_valid_once_filled_in(model: str) -> None:
    snippets = SCHEMA["$defs"][model]["defaultSnippets"]
    assert len(snippets) >= 2
    validator = part_validator(model)
    for snippet in snippets:
        assert snippet["label"] and snippet["description"]
        errors = [e.message for e in validator.iter_errors(filled(snippet["body"]))]
        assert errors == [], snippet["label"]


def test_a_bad_duration_still_fails_validation() -> None:
    validator = part_validator("Transition")
    assert not validator.is_valid({"after": "2 days", "to": "x"})
    assert validator.is_valid({"after": "2d", "to": "x"})
