"""CEL: compile once when a journey loads, evaluate many times; plus date helpers.

We use the `common-expression-language` package (Rust `cel` crate bindings):
see docs/cel.md for the comparison with the other Python CEL packages. Nothing
here uses `eval`: expressions are data, run by a CEL interpreter.

Names in scope: `customer`, `event`, `state`, `now`. Date helpers work in the
customer's zone (the `timezone` trait, else the journey's, else UTC).

Mistakes are caught as early as they can be: at load, the bounds of
`limits.py`, syntax, unknown names and functions, and literal durations and
timestamps (`cel_literals.py`); at run time, a failure is an ExpressionError
whose message `explain_failure` words for the journey's author (the
expression, what went wrong, the values it read), since it ends up in a
customer's history.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cel

from journeyflow.definition.cel_literals import check_literals
from journeyflow.definition.limits import (
    MAX_COMPREHENSION_COST,
    Shape,
    check_expression,
)
from journeyflow.exceptions import ExpressionError

SCOPE_NAMES = frozenset({"customer", "event", "state", "now"})
NO_COMPREHENSIONS = Shape()

# CEL's standard functions and macros (the ones the interpreter provides);
# anything else must be a journeyflow helper or a plugin's function.
# Only what the interpreter really implements (bench/bench_cel.py's extension
# cases show the others missing): a name allowed here but missing at run time
# would make every guard using it false.
STANDARD_FUNCTIONS = frozenset(
    [
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "matches",
        "has",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "timestamp",
        "duration",
        "dyn",
        "type",
        "exists",
        "all",
        "exists_one",
        "map",
        "filter",
        "getFullYear",
        "getMonth",
        "getDate",
        "getDayOfMonth",
        "getDayOfWeek",
        "getDayOfYear",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    ]
)
HELPER_FUNCTIONS = frozenset(
    {"month_start", "month_end", "next_anniversary", "days_between", "local_time", "days"}
)

# Variables bound by comprehension macros (`xs.exists(x, ...)`) are reported by
# the compiler as references; they are local, not unknown names.
_BOUND = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")


@dataclass(frozen=True)
class Expression:
    """A compiled CEL expression."""

    source: str
    program: Any
    # the scope names it uses: only those are converted into CEL values, which
    # is most of an evaluation's cost (a whole customer is ~2.5 us per string)
    uses: frozenset[str] = SCOPE_NAMES
    # the helper and plugin functions it calls: only those are bound per evaluation
    calls: frozenset[str] | None = None

    # a plain field path (`event.properties.total`): CEL's map selection is a key
    # lookup, so it is done directly: the same result, without building a context
    path: tuple[str, ...] | None = None
    # its comprehensions, to refuse work the interpreter could not be stopped in
    shape: Shape = NO_COMPREHENSIONS

    def evaluate(self, scope: Scope) -> Any:
        """Evaluate; raise ExpressionError for any run-time failure (missing key,
        wrong type). Callers decide what a failure means (a guard counts false)."""
        if self.path is not None:
            return self._select(scope)
        if self.shape.comprehensions:
            self._check_cost(scope)
        try:
            return self.program.execute(scope.context(self.uses, self.calls))
        except Exception as exc:  # the interpreter raises several builtin types
            raise ExpressionError(explain_failure(self.source, exc, scope)) from exc

    def _check_cost(self, scope: Scope) -> None:
        """Refuse before starting when the lists in scope are too long for the
        comprehensions: evaluation runs in the CEL library and cannot be cut."""
        values = [
            getattr(scope, name) for name in ("customer", "event", "state") if name in self.uses
        ]
        items = max(self.shape.literal_items, _largest_collection(values))
        cost = self.shape.cost(items)
        if cost > MAX_COMPREHENSION_COST:
            raise ExpressionError(
                f"{_clip(self.source)!r} not run: its comprehensions over a list of {items} "
                f"items would take about {cost:,} steps, more than {MAX_COMPREHENSION_COST:,}"
            )

    def _select(self, scope: Scope) -> Any:
        assert self.path is not None
        root, *keys = self.path
        value: Any = scope.now if root == "now" else getattr(scope, root)
        walked = root
        for key in keys:
            if not isinstance(value, Mapping) or key not in value:
                failure = KeyError(key) if isinstance(value, Mapping) else TypeError(walked)
                raise ExpressionError(explain_failure(self.source, failure, scope))
            value = value[key]
            walked += f".{key}"
        return _cel_value(value)


_FIELD_PATH = re.compile(r"^\s*(customer|event|state|now)((?:\.[A-Za-z_]\w*)*)\s*$")


def _field_path(source: str) -> tuple[str, ...] | None:
    m = _FIELD_PATH.match(source)
    if m is None or (m.group(1) == "now" and m.group(2)):
        return None
    return (m.group(1), *[k for k in m.group(2).split(".") if k])


def _largest_collection(values: list[Any]) -> int:
    """The length of the longest list or map anywhere in `values` (no recursion:
    data nests at most as deep as events allow, but a stack costs nothing)."""
    largest, stack = 0, list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            largest = max(largest, len(value))
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            largest = max(largest, len(value))
            stack.extend(value)
    return largest


def _clip(source: str) -> str:
    return source if len(source) <= 80 else source[:77] + "..."


def compile_expression(
    source: str,
    *,
    names: frozenset[str] = SCOPE_NAMES,
    functions: frozenset[str] = frozenset(),
) -> Expression:
    """Compile `source`; raise ExpressionError for syntax errors and unknown names,
    and a `cel_literals.CelLiteralError` (JF408, JF409) for a literal duration or
    timestamp that CEL cannot read.

    :param names: the variables the expression may use
    :param functions: extra function names (from plugins) beyond CEL's and ours
    """
    # first, in Python: beyond these bounds the CEL library crashes the process
    shape = check_expression(source)
    try:
        program = cel.compile(source)
    except Exception as exc:
        message = str(exc).split("ERROR: <input>:", 1)[-1].splitlines()[0]
        raise ExpressionError(f"CEL syntax error in {source!r}: {message}") from exc
    refs = program.references()
    bound = set(_BOUND.findall(source))
    unknown_vars = sorted(set(refs["variables"]) - names - bound - _TYPE_NAMES)
    if unknown_vars:
        raise ExpressionError(
            f"unknown name {unknown_vars[0]!r} in {source!r}; "
            f"names in scope are {', '.join(sorted(names))}"
        )
    allowed = STANDARD_FUNCTIONS | HELPER_FUNCTIONS | functions
    unknown_fns = sorted(f for f in refs["functions"] if f[:1].isalpha() and f not in allowed)
    if unknown_fns:
        raise ExpressionError(
            f"unknown function {unknown_fns[0]!r} in {source!r}; journeyflow adds "
            f"{', '.join(sorted(HELPER_FUNCTIONS))} to CEL's standard functions"
        )
    calls = frozenset(refs["functions"]) - STANDARD_FUNCTIONS
    check_literals(source)  # `duration("2d")` would fail at every run: refuse it now
    return Expression(
        source,
        program,
        frozenset(refs["variables"]) & SCOPE_NAMES,
        calls,
        _field_path(source),
        shape,
    )


_TYPE_NAMES = frozenset(
    {
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "bool",
        "list",
        "map",
        "null_type",
        "type",
        "timestamp",
        "duration",
    }
)


# --- the scope an expression runs in -----------------------------------------


@dataclass
class Scope:
    """The values an expression sees. `zone` drives the date helpers."""

    now: datetime
    customer: Mapping[str, Any] | None = None
    event: Mapping[str, Any] | None = None
    state: Mapping[str, Any] | None = None
    zone: str | None = None
    extra_functions: Mapping[str, Callable[..., Any]] | None = None

    def tz(self) -> ZoneInfo | timezone:
        return zone_of(self.zone)

    def context(
        self, uses: frozenset[str] = SCOPE_NAMES, calls: frozenset[str] | None = None
    ) -> cel.Context:
        """A CEL context with the names in `uses` and the functions in `calls`
        (None: every helper and plugin function)."""
        variables: dict[str, Any] = {"now": _cel_value(self.now)}
        for name in ("customer", "event", "state"):
            value = getattr(self, name)
            if value is not None and name in uses:
                variables[name] = _cel_value(value)
        if calls is not None and not calls:
            return cel.Context(variables=variables)
        functions = helpers(self.now, self.tz())
        for name, fn in (self.extra_functions or {}).items():
            functions[name] = _normalised(fn)
        if calls is not None:
            functions = {k: v for k, v in functions.items() if k in calls}
        return cel.Context(variables=variables, functions=functions)


def _cel_value(value: Any) -> Any:
    """What the interpreter accepts: no tuples, and datetimes in UTC (it cannot
    convert a naive one, nor one whose tzinfo is a ZoneInfo)."""
    if isinstance(value, Mapping):
        return {str(k): _cel_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cel_value(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value if value.tzinfo is timezone.utc else value.astimezone(timezone.utc)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value


def _normalised(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A plugin's function whose results pass through the same normalising."""
    return lambda *args: _cel_value(fn(*args))


def zone_of(name: str | None) -> ZoneInfo | timezone:
    if not name:
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: name too long for a path
        return timezone.utc


def is_valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: name too long for a path
        return False
    return True


# --- date helpers --------------------------------------------------------------


def to_datetime(value: Any, tz: ZoneInfo | timezone = timezone.utc) -> datetime:
    """A timestamp, or an ISO-8601 date/datetime string (traits arrive as strings).
    A date or a naive datetime is read in `tz`."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, date):
        return datetime.combine(value, time(), tz)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            if len(text) == 10:
                return datetime.combine(date.fromisoformat(text), time(), tz)
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an ISO-8601 date or datetime") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    raise TypeError(f"expected a timestamp or an ISO-8601 string, got {type(value).__name__}")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


def month_start(t: Any, tz: ZoneInfo | timezone = timezone.utc) -> datetime:
    local = to_datetime(t, tz).astimezone(tz)
    return _utc(datetime(local.year, local.month, 1, tzinfo=tz))


def month_end(t: Any, tz: ZoneInfo | timezone = timezone.utc) -> datetime:
    """The last day of t's month at 00:00 local time (the time of day month_start has)."""
    local = to_datetime(t, tz).astimezone(tz)
    last = calendar.monthrange(local.year, local.month)[1]
    return _utc(datetime(local.year, local.month, last, tzinfo=tz))


def next_anniversary(d: Any, now: datetime, tz: ZoneInfo | timezone = timezone.utc) -> datetime:
    """The next 00:00 local of d's month and day at or after `now` (29 Feb -> 28 Feb)."""
    born = to_datetime(d, tz).astimezone(tz)
    local_now = now.astimezone(tz)
    for year in (local_now.year, local_now.year + 1):
        day = min(born.day, calendar.monthrange(year, born.month)[1])
        candidate = datetime(year, born.month, day, tzinfo=tz)
        if candidate >= local_now.replace(hour=0, minute=0, second=0, microsecond=0):
            return _utc(candidate)
    raise AssertionError("unreachable: next year always qualifies")


def days_between(a: Any, b: Any, tz: ZoneInfo | timezone = timezone.utc) -> int:
    """Whole days from a to b (negative when b is earlier)."""
    delta = to_datetime(b, tz) - to_datetime(a, tz)
    return int(delta.total_seconds() // 86400)


def local_time(t: Any, hhmm: str, tz: ZoneInfo | timezone = timezone.utc) -> datetime:
    """The first moment at or after t when the local clock shows hh:mm."""
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", hhmm) if isinstance(hhmm, str) else None
    if m is None or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"{hhmm!r} is not a time of day: write it as hh:mm, e.g. '09:00'")
    hour, minute = int(m.group(1)), int(m.group(2))
    start = to_datetime(t, tz)
    local = start.astimezone(tz)
    for offset in range(0, 3):
        day = local.date() + timedelta(days=offset)
        candidate = datetime.combine(day, time(hour, minute), tz)
        # a wall time skipped by a DST jump resolves forward through UTC arithmetic
        candidate = _utc(candidate).astimezone(tz)
        if candidate >= start:
            return _utc(candidate)
    raise AssertionError("unreachable: within two days the time recurs")


def helpers(now: datetime, tz: ZoneInfo | timezone) -> dict[str, Callable[..., Any]]:
    """The date helpers bound to one evaluation's `now` and zone."""
    return {
        "month_start": lambda t: month_start(t, tz),
        "month_end": lambda t: month_end(t, tz),
        "next_anniversary": lambda d: next_anniversary(d, now, tz),
        "days_between": lambda a, b: days_between(a, b, tz),
        "local_time": lambda t, hhmm: local_time(t, hhmm, tz),
        "days": lambda n: timedelta(days=int(n)),
    }


# --- run-time failures, in words ---------------------------------------------------
#
# The interpreter's errors are written for the library's developers ("No such
# overload", `Parsing Error: Error { input: "d", code: Char }`, a bare
# KeyError). They end up in a customer's history, read by the journey's
# author, so each is said again in the journey's terms: what went wrong, where
# in the data, the values the expression read, and what to write instead.

# a selection path from a scope name: `event.properties.total`, `customer["a b"]`
_PATH = re.compile(
    r"(?<![\w.\"'])(customer|event|state|trigger|enrolment)"
    r"((?:\s*\.\s*[A-Za-z_]\w*|\[\s*(?:\"[^\"\\]*\"|'[^'\\]*')\s*\])+)"
)
_STEP = re.compile(r"\.\s*([A-Za-z_]\w*)|\[\s*[\"']([^\"']*)[\"']\s*\]")
_FUNCTION_ERROR = re.compile(
    r"Function '(\w+)' error: (.*?)(?:\. Check function arguments.*)?$", re.S
)
_PYTHON_FAILED = re.compile(r"^Python function call failed: \w+: ")
_MAX_SHOWN = 4


def explain_failure(source: str, exc: BaseException, scope: Scope | None = None) -> str:
    """Why evaluating `source` failed, for a journey author: one line naming
    the expression, what went wrong, and the values it read from `scope`."""
    paths = _paths(source)
    reason = _reason(source, exc, scope, paths)
    shown = _values(paths, scope)
    return f"{_clip(source)!r} failed: {reason}" + (f"; {shown}" if shown else "")


def _paths(source: str) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    code = _STRINGS.sub('""', source)
    for m in _PATH.finditer(code):
        steps = tuple(a or b for a, b in _STEP.findall(m.group(2)))
        if code[m.end() :].lstrip().startswith("("):  # `customer.email.endsWith(`: a method
            steps = steps[:-1]
        path = (m.group(1), *steps)
        if path not in found:
            found.append(path)
    return found


# string literals blanked, so a path inside a string is not read as one
_STRINGS = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'")


def _walk(path: tuple[str, ...], scope: Scope | None) -> tuple[bool, Any, int]:
    """(found, value, depth): the value at `path`, or how far the walk got."""
    if scope is None:
        return False, None, 0
    value: Any = getattr(scope, path[0], None)
    if value is None:
        return False, None, 0
    for depth, key in enumerate(path[1:], 1):
        if not isinstance(value, Mapping) or key not in value:
            return False, value, depth
        value = value[key]
    return True, value, len(path)


def _dotted(path: Sequence[str]) -> str:
    return path[0] + "".join(f".{k}" if k.isidentifier() else f"[{k!r}]" for k in path[1:])


def _reason(
    source: str, exc: BaseException, scope: Scope | None, paths: list[tuple[str, ...]]
) -> str:
    text = str(exc)
    if isinstance(exc, KeyError) or "No such overload" in text or isinstance(exc, TypeError):
        missing = _missing(paths, scope)
        if missing is not None:
            return missing
    if isinstance(exc, TypeError):
        if "Unsupported operation" in text:
            op = text.split("Unsupported operation:", 1)[1].split(".", 1)[0].strip()
            return (
                f"CEL does not mix types ({op}): convert one side with int(), double() or string()"
            )
        return (
            "the values have types this operation does not take, and CEL never converts "
            "one type into another: convert with int(), double(), string() or timestamp()"
        )
    if isinstance(exc, KeyError):
        return f"there is no key {text} in the map it reads"
    if isinstance(exc, ZeroDivisionError):
        return "a division by zero"
    if isinstance(exc, IndexError):
        return f"a list index past the end of the list ({text})"
    if isinstance(exc, OverflowError):
        return "a whole number beyond 64 bits (the largest is 9223372036854775807)"
    m = _FUNCTION_ERROR.match(text)
    if m is not None:
        return _function_reason(m.group(1), _PYTHON_FAILED.sub("", m.group(2)).strip())
    if text.startswith("Undefined variable or function:"):
        name = text.split("'")[1] if text.count("'") >= 2 else "?"
        if name in STANDARD_FUNCTIONS:
            return f"{name}() does not take a value of that type"
        return f"{name!r} is not set here"
    first = text.splitlines()[0] if text else type(exc).__name__
    return first.split(". Check ")[0]


def _missing(paths: list[tuple[str, ...]], scope: Scope | None) -> str | None:
    """The first path that does not lead to a value, said plainly."""
    for path in paths:
        found, value, depth = _walk(path, scope)
        if found or depth == 0:
            continue
        parent, key = _dotted(path[:depth]), path[depth]
        if not isinstance(value, Mapping):
            return f"{parent} is {_kind(value)}, not a map, so it has no field `{key}`"
        if path[0] == "event" and not value and depth == 1:
            hint = (
                "; `trigger` is the event that started the enrolment"
                if scope is not None and hasattr(scope, "trigger")
                else ""
            )
            return (
                "there is no event here: a timer moved the customer (or the state was "
                f"entered without one), so `event` is empty{hint}"
            )
        keys = sorted(map(str, value))
        has = (
            f" (it has {', '.join(keys[:8])}{', ...' if len(keys) > 8 else ''})"
            if keys
            else " (it is empty)"
        )
        return (
            f"{parent} has no `{key}`{has}; test for it first with "
            f"has({_dotted(path[: depth + 1])})"
        )
    return None


def _function_reason(function: str, detail: str) -> str:
    if function == "duration":
        return (
            "duration() cannot read its text: a CEL duration is a number and a unit, "
            'h, m, s, ms, us or ns (e.g. "48h", "1h30m"), not days'
        )
    if function == "timestamp":
        return (
            "timestamp() cannot read its text: it takes an RFC 3339 date-time such as "
            '"2026-01-01T10:00:00Z" (the date helpers also take a date alone)'
        )
    if function in ("int", "uint", "double"):
        return f"{function}() cannot read its text as a number"
    if function == "matches":
        return "matches() was given a regular expression that does not compile"
    return f"{function}() failed: {detail}"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (true/false)"
    if isinstance(value, str):
        return f"{_short_repr(value)} (text)"
    if isinstance(value, int):
        return f"{value} (a whole number)"
    if isinstance(value, float):
        return f"{value} (a number with decimals)"
    if isinstance(value, datetime):
        return f"{value.isoformat()} (a timestamp)"
    if isinstance(value, Mapping):
        return f"a map of {len(value)} key(s)"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item(s)"
    if value is None:
        return "null"
    return type(value).__name__


def _short_repr(text: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "..."
    return '"' + shown.replace('"', '\\"') + '"'


def _values(paths: list[tuple[str, ...]], scope: Scope | None) -> str:
    """`customer.total = "12,50" (text), ...`: what the expression read."""
    out = []
    for path in paths:
        found, value, _ = _walk(path, scope)
        if found:
            out.append(f"{_dotted(path)} = {_kind(value)}")
        if len(out) == _MAX_SHOWN:
            break
    return "it read " + ", ".join(out) if out else ""
