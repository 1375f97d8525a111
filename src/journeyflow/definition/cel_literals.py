"""Literal durations and timestamps inside CEL, checked when a journey loads.

`duration("2d")` compiles (it is a call with a string), then fails every time
it runs: CEL durations count hours, minutes and seconds, not days. Before
this check such a mistake passed `validate` and every test, and surfaced only
as a history row in Rust's words (`Parsing Error: Error { input: "d", code:
Char }`). A literal's value is known at load, so it is checked there, by the
CEL library itself (what it accepts at run time is what passes), and refused
with the fix: `duration("48h")`.

Only literal arguments are checked (`duration("2d")`, `timestamp('2026-13-01')`);
a value computed at run time (`duration(customer.grace)`) fails at run time,
where `cel.py` words the failure. Codes, reported by `checks.py` at the
expression's line (`docs/errors.md`):

    JF408  a `duration("...")` literal CEL cannot read
    JF409  a `timestamp("...")` literal CEL cannot read
"""

from __future__ import annotations

import calendar
import re
from datetime import timedelta
from typing import Any

import cel

from journeyflow.definition.durations import parse_duration
from journeyflow.definition.limits import ExpressionLimitError, tokens
from journeyflow.exceptions import DurationError

CEL_UNITS = "h, m, s, ms, us or ns"
EXAMPLE_TIMESTAMP = "2026-01-01T10:00:00Z"
_CALLS = {"duration": "JF408", "timestamp": "JF409"}
_DATE_TIME = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*"
    r"(Z|z|[+-]\d{2}:?\d{2})?\s*$"
)


class CelLiteralError(ExpressionLimitError):
    """A literal argument of `duration()` or `timestamp()` that CEL cannot read;
    `code` is JF408 or JF409."""


def check_literals(source: str) -> None:
    """Raise CelLiteralError for the first `duration("...")` or
    `timestamp("...")` whose literal CEL cannot read. Call it only on an
    expression within `limits.check_expression`'s bounds."""
    if "duration" not in source and "timestamp" not in source:
        return  # most expressions: no second pass over the tokens
    window: list[tuple[str, str]] = [("", "")]
    for token in tokens(source):
        window = [*window[-4:], token]
        if len(window) < 5:
            continue
        (_, before), (k1, name), (_, opener), (k3, literal), (_, closer) = window
        if (
            k1 == "name"
            and name in _CALLS
            and before != "."  # a method (`x.duration(...)`) is not the standard function
            and opener == "("
            and k3 in ("str", "raw")
            and closer == ")"
            and not literal.lstrip("rR").startswith(("b", "B"))  # bytes: a type error anyway
        ):
            _check_call(name, literal)


def _check_call(function: str, literal: str) -> None:
    try:
        cel.compile(f"{function}({literal})").execute(cel.Context())
        return
    except Exception:  # the library raises RuntimeError (and others) for a bad argument
        pass
    value = _text(literal)
    if function == "duration":
        raise CelLiteralError(_CALLS[function], _duration_message(literal, value))
    raise CelLiteralError(_CALLS[function], _timestamp_message(literal, value))


def _text(literal: str) -> str:
    """The string a CEL string literal holds (the library reads the escapes)."""
    try:
        value: Any = cel.compile(literal).execute(cel.Context())
    except Exception:
        return literal.strip("'\"")
    return value if isinstance(value, str) else literal.strip("'\"")


def _accepted(function: str, value: str) -> bool:
    try:
        cel.compile(f"{function}({_quoted(value)})").execute(cel.Context())
    except Exception:
        return False
    return True


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _as_cel_duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if span != timedelta(seconds=seconds):
        return f"{int(span / timedelta(milliseconds=1))}ms"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _duration_message(literal: str, value: str) -> str:
    head = f"duration({literal}) is not a CEL duration"
    try:
        span = parse_duration(value)  # a journeyflow duration (`2d`, `2w`, `P2D`)
    except (DurationError, OverflowError, ValueError):
        span = None
    if span is not None:
        fix = f'duration("{_as_cel_duration(span)}")'
        days = span / timedelta(days=1)
        also = f" (or days({int(days)}))" if days == int(days) and days >= 1 else ""
        return (
            f"{head}: CEL durations are written in {CEL_UNITS}, not days or weeks "
            f"(those are for `after:`); write {fix}{also}"
        )
    squeezed = value.replace(" ", "").lower()
    if squeezed != value and _accepted("duration", squeezed):
        return (
            f'{head}: write duration("{squeezed}") '
            "(a number and a unit in lowercase, with no space)"
        )
    return (
        f'{head}: write a number and a unit, {CEL_UNITS}, e.g. duration("48h") or duration("1h30m")'
    )


def _timestamp_message(literal: str, value: str) -> str:
    head = f"timestamp({literal}) is not a CEL timestamp"
    m = _DATE_TIME.match(value)
    if m is None:
        return (
            f"{head}: write an RFC 3339 date-time, a date, `T`, a time and `Z` or an "
            f'offset: timestamp("{EXAMPLE_TIMESTAMP}")'
        )
    year, month, day = (int(m.group(i)) for i in (1, 2, 3))
    hour, minute, second = (int(m.group(i) or 0) for i in (4, 5, 6))
    if not 1 <= month <= 12:
        return f"{head}: there is no month {month} (months run 01 to 12)"
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return f"{head}: {year}-{month:02d} has {days} days, not {day}"
    if hour > 23 or minute > 59 or second > 60:
        return f"{head}: {hour:02d}:{minute:02d}:{second:02d} is not a time of day (00:00 to 23:59)"
    date_part = f"{year:04d}-{month:02d}-{day:02d}"
    time_part = f"{hour:02d}:{minute:02d}:{second:02d}"
    zone = m.group(7) or "Z"
    fix = f'timestamp("{date_part}T{time_part}{zone}")'
    if m.group(4) is None:
        return f"{head}: a timestamp needs a time and a zone, not just a date: write {fix}"
    if m.group(7) is None:
        return f"{head}: a timestamp needs a zone (`Z` for UTC, or an offset): write {fix}"
    return f"{head}: write {fix}"
