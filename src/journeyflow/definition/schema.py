"""The JSON Schema of a journey file, generated from the `dsl` models.

Editors (the yaml-language-server comment at the top of a journey) and CI
(`check-jsonschema`) use this schema, so it must accept every file the loader
accepts and reject what it can cheaply tell is wrong. It is generated, never
written by hand, so it cannot drift from `dsl.py`; the committed copy is
checked by a test and by `journeyflow schema --check`.

pydantic's generator gets a few things wrong for this contract, and
`_JourneySchemaGenerator` corrects them at the source instead of patching the
output by path:

- `on: order_completed` is accepted as well as a list (a `BeforeValidator`
  that pydantic cannot see through), so such fields become "string or list";
- durations are checked by a Python function, so the schema gets a pattern
  that matches what `parse_duration` accepts;
- datetimes accept what pydantic accepts (a date, a naive date-time), not
  only RFC 3339, so test steps like `start: 2026-01-01` stay valid;
- a mapping whose keys have a pattern (state names) rejects other keys.

A few rules of the contract that pydantic leaves to the static checks but a
schema can state (one trigger per transition, an entry with `on` or
`segment`) are added in `_contract_rules`, so editors flag them as you type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from journeyflow.definition import dsl

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# A URN, not a URL: the project has no web home yet, and a URL that does not
# resolve is worse for editors than an identifier that never claims to.
SCHEMA_ID = "urn:journeyflow:schema:journey:v1"
TITLE = "journeyflow journey"
DESCRIPTION = (
    "A customer journey declared as a YAML state machine (journeyflow contract v1). "
    "Generated from journeyflow.definition.dsl by `journeyflow schema`; do not edit by hand."
)
DEFAULT_SCHEMA_PATH = Path("schemas") / "journey.schema.json"

# What `durations.parse_duration` accepts, as an ECMA-262 regex: `14d`-style or
# ISO-8601 without years/months, with at least one component (`P`, `PT`,
# `P1DT` are refused there too). Kept in step by tests/definition/test_schema.py.
DURATION_PATTERN = (
    r"^\s*(?:\d+\s*[smhdw]|P(?=\d|T\d)(?:\d+W)?(?:\d+D)?"
    r"(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?)\s*$"
)
# ISO-8601 dates and date-times as pydantic parses them (`T` or a space,
# seconds and zone optional).
DATETIME_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:[Zz]|[+-]\d{2}:?\d{2})?)?$"
)


class _JourneySchemaGenerator(GenerateJsonSchema):
    """pydantic's generator, taught what dsl.py's validators accept."""

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        inner = super().function_before_schema(schema)
        if _validator_function(schema) is dsl._as_list and inner.get("type") == "array":
            # `on: x` is short for `on: [x]`
            return {"anyOf": [dict(inner.get("items", {})), inner]}
        return inner

    def function_after_schema(
        self, schema: core_schema.AfterValidatorFunctionSchema
    ) -> JsonSchemaValue:
        inner = super().function_after_schema(schema)
        if _validator_function(schema) is dsl._check_duration:
            inner = {**inner, "pattern": DURATION_PATTERN}
        return inner

    def datetime_schema(self, schema: core_schema.DatetimeSchema) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": DATETIME_PATTERN,
            "description": "ISO-8601 date or date-time, e.g. 2026-01-01T10:00:00Z",
        }

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        result = super().dict_schema(schema)
        if "patternProperties" in result and "additionalProperties" not in result:
            # pydantic refuses a key that misses the pattern; so should the schema
            result["additionalProperties"] = False
        return result


def _validator_function(schema: Any) -> Any:
    """The plain function behind a pydantic function-validator core schema."""
    function = schema.get("function", {})
    return function.get("function") if isinstance(function, dict) else None


def _contract_rules(schema: dict[str, Any]) -> None:
    """Add rules of the contract that pydantic leaves to the static checks."""
    defs = schema["$defs"]
    defs["Transition"]["oneOf"] = [
        {"required": [trigger]} for trigger in ("on", "after", "at", "split")
    ]
    defs["Transition"]["$comment"] = "exactly one trigger: on, after, at or split"
    defs["Entry"]["anyOf"] = [{"required": ["on"]}, {"required": ["segment"]}]
    # pydantic titles the alias "$Schema"; say what the inline key is for
    schema["properties"]["$schema"]["title"] = "Schema"


def journey_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a journey file, as a dict."""
    generated = dsl.Journey.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_JourneySchemaGenerator
    )
    _contract_rules(generated)
    # The identifying keys first, for people reading the file; the rest in
    # pydantic's stable order (sorted keys, properties in field order).
    head = {"$schema": DIALECT, "$id": SCHEMA_ID, "title": TITLE, "description": DESCRIPTION}
    return {**head, **{k: v for k, v in generated.items() if k not in head}}


def render_schema() -> str:
    """The schema as the text committed to `schemas/journey.schema.json`."""
    return json.dumps(journey_schema(), indent=2, ensure_ascii=False) + "\n"


def schema_differs(path: str | Path) -> bool:
    """True when the file at `path` is missing or not the current schema."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8") != render_schema()
    except FileNotFoundError:
        return True


def write_schema(path: str | Path) -> Path:
    """Write the current schema to `path` (creating folders); return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_schema(), encoding="utf-8", newline="\n")
    return p
