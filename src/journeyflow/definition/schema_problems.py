"""pydantic's ValidationError -> problems at file:line:col, in words an author reads.

One job: pydantic reports an error at a `loc` in the data (with union tags and
`[key]` markers); this turns each into a `Problem` at the line of the YAML
node it is about (via `yaml_reader.Positions`), naming the thing the way the
file does ("transition 2 of state 'active'") and, for a misspelt field, the
field that was probably meant.

Error codes (stable; `docs/errors.md` explains each with an example):

    JF201  unknown field (with a "did you mean")
    JF202  missing field
    JF203  a value of the wrong type
    JF204  a value out of range, not matching its pattern, or not one of a set
    JF205  a bad duration
    JF206  an action that is not exactly one of send, set, vars, emit, task
    JF207  a test step that is not exactly one of event, identify, advance,
           advance_to, replay, expect
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from journeyflow.definition import dsl
from journeyflow.definition.dsl import Journey
from journeyflow.definition.yaml_reader import Positions, kind_of
from journeyflow.exceptions import Problem

# in the order messages list them
_ACTION_KINDS = ("send", "set", "vars", "emit", "task")
_STEP_KINDS = ("event", "identify", "advance", "advance_to", "replay", "expect")
_ACTION_TAGS = set(_ACTION_KINDS)
_STEP_TAGS = set(_STEP_KINDS)
_EXPECTED = {
    "int": "a whole number (no quotes)",
    "bool": "true or false",
    "string": "text (put it in quotes)",
    "list": "a list: `[a, b]` or one `- item` per line",
    "dict": "a mapping of `key: value` lines",
    "model": "a mapping of `key: value` lines",
    "datetime": "a date-time such as 2026-01-01T10:00:00Z",
    "float": "a number",
}
_PATTERN_HINTS = {
    dsl.SLUG: "use lowercase letters, digits and single dashes, e.g. crm-reactivation",
    dsl.STATE_NAME: "a state name starts with a letter or `_` and holds letters, digits, "
    "`_` and `-`",
}
_DURATION_FIELDS = {"after", "due", "advance"}


def problems_from(
    exc: ValidationError, data: dict[str, Any], positions: Positions, filename: str
) -> list[Problem]:
    problems = []
    seen: set[tuple[str, tuple[Any, ...]]] = set()
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = _yaml_path(loc)
        code, message = _describe(err, loc, path, data)
        if (code, path) in seen:  # union members may report the same spot twice
            continue
        seen.add((code, path))
        if err["type"] == "missing":
            line, col = positions.owner(path[:-1])
        elif err["type"] == "extra_forbidden" or loc[-1:] == ("[key]",):
            line, col = positions.at(path, key=True)
        else:
            line, col = positions.at(path)
        problems.append(Problem(code, message, filename, line, col))
    return problems


def _yaml_path(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """A pydantic `loc` without union tags and `[key]` markers: a path in the YAML."""
    out: list[str | int] = []
    for i, element in enumerate(loc):
        if element == "[key]":
            continue
        prev = loc[i - 1] if i else None
        tags = (
            _ACTION_TAGS
            if i >= 2 and loc[i - 2] in ("on_enter", "on_exit", "actions")
            else _STEP_TAGS
            if i >= 2 and loc[i - 2] == "steps"
            else set()
        )
        if isinstance(prev, int) and element in tags:
            continue
        out.append(element)
    return tuple(out)


def _describe(
    err: Any, loc: tuple[Any, ...], path: tuple[str | int, ...], data: dict[str, Any]
) -> tuple[str, str]:
    kind: str = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        name = str(path[-1])
        allowed = _fields_at(loc[:-1])
        where = _where(path[:-1], data)
        owner = next((t for t in sorted(_ACTION_TAGS) if t in allowed), None)
        if name in _ACTION_TAGS and owner is not None:
            return "JF206", (
                f"{where} does two things ({owner!r} and {name!r}): an action "
                "does exactly one; write them as two actions"
            )
        guess = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
        hint = (
            f" — did you mean {guess[0]!r}?"
            if guess
            else (f"; allowed here: {', '.join(sorted(allowed))}" if allowed else "")
        )
        return "JF201", f"unknown field {name!r} in {where}{hint}"
    if kind == "missing":
        name = str(path[-1])
        return "JF202", f"{_where(path[:-1], data)} is missing {name!r}: add `{name}: ...`"
    if kind in ("action_kind", "step_kind"):
        return _kind_problem(kind, value, path, data)
    subject = _subject(path, data)
    if kind == "value_error" and path and path[-1] in _DURATION_FIELDS:
        reason = str(err["msg"]).removeprefix("Value error, ")
        return "JF205", f"{subject}: {reason}"
    family = kind.split("_")[0]
    if kind.endswith(("_type", "_parsing", "_from_float")) and family in _EXPECTED:
        return "JF203", f"{subject} should be {_EXPECTED[family]}, not {kind_of(value)}"
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        noun = {dsl.SLUG: "journey id", dsl.STATE_NAME: "state name"}.get(pattern, "value")
        hint = _PATTERN_HINTS.get(pattern, f"it must match {pattern}")
        if loc[-1:] == ("[key]",) or path == ("journey",):
            return "JF204", f"{value!r} is not a valid {noun}: {hint}"
        return "JF204", f"{value!r} is not a valid {noun} ({subject}): {hint}"
    if kind == "literal_error":
        return "JF204", f"{subject} should be one of {ctx.get('expected')}, not {kind_of(value)}"
    if kind in ("too_short", "string_too_short"):
        return "JF204", f"{subject} must not be empty"
    msg = str(err["msg"]).replace("Input should be", "should be")
    return "JF204", f"{subject} {msg}, not {kind_of(value)}" if msg.startswith(
        "should"
    ) else f"{subject}: {msg}"


def _kind_problem(
    kind: str, value: Any, path: tuple[str | int, ...], data: dict[str, Any]
) -> tuple[str, str]:
    tags = _ACTION_KINDS if kind == "action_kind" else _STEP_KINDS
    what = "an action" if kind == "action_kind" else "a test step"
    code = "JF206" if kind == "action_kind" else "JF207"
    keys = [str(k) for k in value] if isinstance(value, dict) else []
    present = [k for k in keys if k in tags]
    if len(present) > 1:
        found = f"it has {' and '.join(map(repr, present))}; write one per item"
    elif keys:
        guesses = [g for k in keys for g in difflib.get_close_matches(k, tags, n=1)]
        found = f"found {', '.join(map(repr, keys))}" + (
            f" — did you mean {guesses[0]!r}?" if guesses else ""
        )
    else:
        found = f"found {kind_of(value)}"
    return code, (f"{_where(path, data)}: {what} needs exactly one of {', '.join(tags)}; {found}")


def _fields_at(loc: tuple[Any, ...]) -> set[str]:
    """Field names allowed at `loc`, found by walking the model types along it."""
    tp: Any = Journey
    for element in loc:
        tp = _step_type(tp, element)
        if tp is None:
            return set()
    model = _model_in(tp)
    if model is None:
        return set()
    return {f.alias or name for name, f in model.model_fields.items()}


def _step_type(tp: Any, element: Any) -> Any:
    tp = _strip(tp)
    model = _model_in(tp) if not isinstance(element, int) else None
    if model is not None and isinstance(element, str):
        for name, f in model.model_fields.items():
            if element in (name, f.alias):
                return f.annotation
        return None
    origin = get_origin(tp)
    if origin is Union or (origin is not None and str(origin) == "types.UnionType"):
        for member in get_args(tp):
            tag = next((m for m in getattr(member, "__metadata__", ()) if hasattr(m, "tag")), None)
            if tag is not None and tag.tag == element:
                return member.__origin__
        inner = [m for m in get_args(tp) if m is not type(None)]
        return _step_type(inner[0], element) if len(inner) == 1 else None
    args = get_args(tp)
    if origin is list and isinstance(element, int):
        return args[0]
    if origin is dict:
        return args[1]
    return None


def _strip(tp: Any) -> Any:
    while hasattr(tp, "__metadata__"):
        tp = tp.__origin__
    return tp


def _model_in(tp: Any) -> type[BaseModel] | None:
    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    members = [_strip(m) for m in get_args(tp) if m is not type(None)]
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    return models[0] if len(models) == 1 and len(members) == 1 else None


def _where(path: Sequence[str | int], data: dict[str, Any]) -> str:
    """A human name for the thing at `path`: "transition 2 of state 'active'"."""
    p = list(path)
    if not p:
        return "the journey"
    head, rest = p[0], p[1:]
    if head == "states" and rest:
        state = f"state {rest[0]!r}"
        more = rest[1:]
        if len(more) >= 2 and more[0] == "transitions" and isinstance(more[1], int):
            base = f"transition {more[1] + 1} of {state}"
            tail = more[2:]
            if len(tail) >= 2 and tail[0] == "split" and isinstance(tail[1], int):
                return _tail(f"split branch {tail[1] + 1} of {base}", tail[2:])
            if len(tail) >= 2 and tail[0] == "actions" and isinstance(tail[1], int):
                return _tail(f"action {tail[1] + 1} of {base}", tail[2:])
            return _tail(base, tail)
        if len(more) >= 2 and more[0] in ("on_enter", "on_exit") and isinstance(more[1], int):
            return _tail(f"action {more[1] + 1} of {more[0]} of {state}", more[2:])
        if len(more) >= 2 and more[0] == "checklist" and isinstance(more[1], int):
            return _tail(f"checklist item {more[1] + 1} of {state}", more[2:])
        return _tail(state, more)
    if head in ("exit", "migrations") and rest and isinstance(rest[0], int):
        noun = "exit rule" if head == "exit" else "migration"
        return _tail(f"{noun} {rest[0] + 1}", rest[1:])
    if head == "tests" and rest and isinstance(rest[0], int):
        test = _test_name(data, rest[0])
        more = rest[1:]
        if len(more) >= 2 and more[0] == "steps" and isinstance(more[1], int):
            return _tail(f"step {more[1] + 1} of {test}", more[2:])
        return _tail(test, more)
    return _tail(str(head), rest)


def _tail(base: str, rest: Sequence[str | int]) -> str:
    if not rest:
        return base
    dotted = "".join(f"[{r}]" if isinstance(r, int) else f".{r}" for r in rest).lstrip(".")
    return f"{dotted!s} of {base}" if base != "the journey" else dotted


def _test_name(data: dict[str, Any], index: int) -> str:
    tests = data.get("tests")
    if isinstance(tests, list) and index < len(tests) and isinstance(tests[index], dict):
        name = tests[index].get("name")
        if isinstance(name, str):
            return f"test {name!r}"
    return f"test {index + 1}"


def _subject(path: Sequence[str | int], data: dict[str, Any]) -> str:
    """ "'to' in transition 1 of state 'a'" — the field and where it is."""
    if not path:
        return "the journey"
    *owner, last = path
    if isinstance(last, int):
        return f"item {last + 1} of {_subject(owner, data)}"
    if not owner:
        return f"{last!r}"
    if owner[0] == "states" and len(owner) == 1:
        return f"state {last!r}"
    return f"{last!r} in {_where(owner, data)}"
