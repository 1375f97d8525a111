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

from journeyflow.definition import dsl, testspec

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
        if _validator_function(schema) in (dsl._check_duration, testspec._check_duration):
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


# --- what editors show ---------------------------------------------------------
# yaml-language-server shows a property's own `description` on hover and in
# completion, `patternErrorMessage` instead of a raw regex, and offers
# `defaultSnippets` when completing a value. pydantic puts an optional field's
# description on an `anyOf` branch, where editors never look, and many fields
# carry none; `_editor_hints` fills both in. A description written in `dsl.py`
# (or `testspec.py`) always wins over the ones below, which only fill gaps.

_FIELD_HINTS: dict[str, dict[str, str]] = {
    "Journey": {
        "title": "a human title for reports and diagrams",
        "description": "what the journey is for, in free text",
        "vertical": "the business vertical (an id that a plugin registers), e.g. food-beverage",
        "stages": "the ordered funnel stages that reports count states in",
        "kpis": "names of KPI collectors (plugins) reported for this journey",
        "entry": "how a customer enters: on events (`on`) and/or a segment, with an optional guard",
        "initial": "the state a new enrolment starts in",
        "states": "the states by name; each says what happens on entry and exit and the ways out",
        "exit": "rules checked on every event before transitions, in any state; "
        "the first that matches ends the enrolment",
        "tests": "journey tests, run by `journeyflow test` on a virtual clock",
        "migrations": "how customers enrolled on an older version move to this one",
    },
    "Entry": {
        "when": "CEL guard: only an event for which it is true enrols the customer",
        "reentry": "never: one enrolment ever (per key); after_exit: again once the last ended; "
        "always: an entry event also restarts an active enrolment",
    },
    "State": {
        "stage": "the funnel stage (one of the journey's `stages`) this state counts for",
        "owner": "who in the company is responsible for customers here; tasks default to it",
        "description": "what being in this state means, in free text",
        "touchpoints": "where the customer meets the company here (documentation)",
        "questions": "what the customer asks at this point (documentation)",
        "pain_points": "what can go wrong for the customer here (documentation)",
        "motivations": "why the customer goes on from here (documentation)",
        "customer_actions": "what the customer does at this point (documentation)",
        "kpis": "indicators to watch for this state (documentation)",
        "resources": "what the company needs to serve this state (documentation)",
        "checklist": "questions answered on the way; each answer is kept as a customer attribute",
        "on_enter": "actions run in order each time the state is entered",
        "on_exit": "actions run in order when the state is left",
        "transitions": "the ways out, each with one trigger (on, after, at or split); "
        "the first that matches wins",
        "final": "true: the enrolment completes when it reaches this state",
    },
    "Transition": {
        "to": "the state to go to (left out only with `internal: true`)",
        "actions": "actions run between the old state's on_exit and the new state's on_enter",
    },
    "SplitBranch": {"to": "the state this branch goes to"},
    "ExitRule": {
        "on": "event name(s) that end the enrolment",
        "when": "CEL guard: the rule applies only when it is true",
    },
    "SetAction": {"set": "customer attributes to update; values starting with `=` are CEL"},
    "EmitAction": {
        "emit": "the name of the internal event raised",
        "properties": "the emitted event's properties; values starting with `=` are CEL",
    },
    "TaskAction": {"task": "the to-do: title, owner, description, due"},
    "TaskSpec": {
        "title": "what the person has to do",
        "owner": "who does it; left out: the state's owner",
        "description": "details for the person, free text",
    },
    "ChecklistItem": {
        "field": "the customer attribute the answer is stored in",
        "question": "the question, as asked",
        "options": "the possible answers, when there is a fixed set",
    },
    "Migration": {"from_version": "the older version whose enrolments this moves"},
    "JourneyTest": {
        "name": "what the test shows, as a sentence",
        "start": "the virtual clock's start; left out: the first event's timestamp",
        "steps": "events, clock moves and expectations, in order",
    },
    "EventStep": {"event": "a Segment call: type, userId, event, properties, timestamp..."},
    "IdentifyStepWrapper": {"identify": "an identify call: userId and traits"},
    "IdentifyStep": {
        "userId": "the customer's id",
        "traits": "attributes to set on the customer",
        "timestamp": "when it happens; left out: the virtual now",
        "messageId": "the call's id; a repeated id is ignored",
    },
    "ExpectStep": {"expect": "what must be true of one customer at this point"},
    "Expectation": {
        "customer": "the customer's id (userId)",
        "state": "the state the enrolment is in",
        "stage": "the funnel stage the enrolment is in",
        "status": "active, completed, exited or converted",
        "attributes": "these customer attributes, with these values (others allowed)",
        "in_holdout": "whether the customer is in the holdout group",
        "enrolled": "whether the customer has an enrolment in this journey at all",
    },
    "TaskExpectation": {
        "title": "the task's title",
        "owner": "the task's owner",
        "description": "the task's description",
    },
}

_PATTERN_MESSAGES = {
    DURATION_PATTERN: "not a duration: write a number and a unit (30m, 2h, 14d, 2w) "
    "or ISO-8601 (P14D, PT2H)",
    dsl.SLUG: "not a journey id: lowercase letters and digits, words joined by single "
    "hyphens (e.g. abandoned-cart)",
    dsl.STATE_NAME: "not a state name: a letter or _ first, then letters, digits, _ or - "
    "(e.g. waiting_for_order)",
    DATETIME_PATTERN: "not a date or date-time: write ISO-8601, e.g. 2026-01-01 or "
    "2026-01-01T10:00:00Z",
}

_SNIPPETS: dict[str, list[dict[str, Any]]] = {
    "State": [
        {
            "label": "state: a send, then a timer",
            "description": "a state that sends a message on entry and moves on after a while",
            "body": {
                "description": "${1:what being here means}",
                "on_enter": [{"send": "${2:email}", "template": "${3:template-name}"}],
                "transitions": [
                    {"on": "${4:event_name}", "to": "${5:next_state}"},
                    {"after": "${6:3d}", "to": "${7:other_state}"},
                ],
            },
        },
        {
            "label": "state: final",
            "description": "the enrolment completes here",
            "body": {"final": True},
        },
    ],
    "Transition": [
        {
            "label": "on an event",
            "description": "leave when the customer does something",
            "body": {"on": "${1:event_name}", "to": "${2:state}"},
        },
        {
            "label": "after a while",
            "description": "a timer counted from entering the state",
            "body": {"after": "${1:2d}", "to": "${2:state}"},
        },
        {
            "label": "at a computed time",
            "description": "a timer at a moment CEL computes on entry",
            "body": {"at": '${1:local_time(now + days(1), "09:00")}', "to": "${2:state}"},
        },
        {
            "label": "split",
            "description": "weighted branches (an A/B test), taken at once on entry",
            "body": {
                "split": [
                    {"to": "${1:variant_a}", "weight": 50},
                    {"to": "${2:variant_b}", "weight": 50},
                ]
            },
        },
    ],
}


def _says_already(meaning: str, form: str) -> bool:
    """True when a field's own words already cover its type's description."""
    return form in meaning or (form == "a CEL expression" and "CEL" in meaning)


def _editor_hints(schema: dict[str, Any]) -> None:
    """Descriptions on every property, plain-words pattern errors and snippets,
    where yaml-language-server shows them (see `_FIELD_HINTS` above); a
    description holding `code` is given as Markdown too, so hover renders it."""
    defs: dict[str, Any] = schema["$defs"]
    models = {"Journey": schema, **defs}
    for model_name, model in models.items():
        hints = _FIELD_HINTS.get(model_name, {})
        for name, prop in model.get("properties", {}).items():
            # Hover shows the matching anyOf branch's description, not the
            # property's: say both on the property (what the field is for,
            # then its format) and leave the branch without one.
            branches = [b for b in prop.get("anyOf", []) if "description" in b]
            form = branches[0].pop("description") if branches else None
            ref = prop.get("$ref", "").rpartition("/")[2]
            meaning = prop.get("description") or hints.get(name)
            if meaning and form and not _says_already(meaning, form):
                prop["description"] = f"{meaning} — {form}"
            elif meaning or form or ref in defs:
                prop["description"] = meaning or form or defs[ref].get("description")
    for name, snippets in _SNIPPETS.items():
        defs[name]["defaultSnippets"] = snippets

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            pattern = node.get("pattern")
            message = _PATTERN_MESSAGES.get(pattern) if isinstance(pattern, str) else None
            if message:
                node["patternErrorMessage"] = message
            described = node.get("description")
            if isinstance(described, str) and "`" in described:
                # hover is Markdown: a plain description's backticks show escaped
                node["markdownDescription"] = described
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)


def journey_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a journey file, as a dict."""
    generated = dsl.Journey.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_JourneySchemaGenerator
    )
    _contract_rules(generated)
    _editor_hints(generated)
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
