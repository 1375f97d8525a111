"""Checking an incoming event: a raw Segment-style call in, an `Event` or the
reason it is refused out.

`check_event` is the one check every way in goes through — `journeyflow
ingest` (a file or standard input), `Engine.ingest` from Python, an HTTP
endpoint — so they accept and refuse the same events, on SQLite and on
PostgreSQL alike. It is pure (the clock's reading comes in as an argument)
and never raises for anything `raw` holds: a refusal is a value, `Invalid`,
whose `kind` groups it for summaries and whose `reason` says what to fix.
The limits are in `limits.py`; `docs/events.md` lists them with the kinds.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson

from journeyflow.clock import as_utc
from journeyflow.events import limits
from journeyflow.events.model import IDENTIFY, Event
from journeyflow.exceptions import EventError


class Kind(StrEnum):
    """What is wrong, in one word a summary can count by (docs/events.md)."""

    NOT_UTF8 = "not-utf8"  # a line of the file is not UTF-8
    NOT_JSON = "not-json"  # a line is not JSON
    LINE_TOO_LONG = "line-too-long"  # a line longer than limits.MAX_LINE_BYTES
    NOT_AN_OBJECT = "not-an-object"  # the event is a list, a string, a number...
    TYPE = "type"  # 'type' is not track or identify
    CUSTOMER_ID = "customer-id"  # no userId/anonymousId, or not one we can keep
    MESSAGE_ID = "message-id"
    EVENT_NAME = "event-name"
    NOT_AN_OBJECT_FIELD = "field-not-an-object"  # context, properties, traits
    TIMESTAMP = "timestamp"  # not ISO-8601, or outside 1970..2200
    AHEAD_OF_CLOCK = "ahead-of-clock"  # dated further ahead than the clock skew allows
    TOO_DEEP = "too-deep"  # nested past limits.MAX_DEPTH
    TOO_BIG = "too-big"  # larger than limits.MAX_EVENT_BYTES as JSON
    INTEGER_RANGE = "integer-range"  # an integer beyond 64 bits
    NOT_FINITE = "not-finite"  # NaN, Infinity
    BAD_TEXT = "bad-text"  # a NUL character or a lone UTF-16 surrogate
    NOT_JSON_VALUE = "not-json-value"  # a Python value JSON has no form for (API only)
    NOT_STORED = "not-stored"  # the database (or a timer) refused it: see the reason


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why an event is refused: `kind` to count by, `reason` to act on."""

    kind: Kind
    reason: str

    def __str__(self) -> str:
        return self.reason


def check_event(raw: Any, now: datetime, *, max_ahead: timedelta | None = None) -> Event | Invalid:
    """The event `raw` describes, or why it is refused.

    :param now: the engine's clock: an event without a timestamp happens now
    :param max_ahead: refuse events dated further than this after `now`
        (None: any time within the limits)
    """
    if not isinstance(raw, dict):
        return Invalid(Kind.NOT_AN_OBJECT, f"an event must be a JSON object, not {_a(raw)}")
    problem = check_values(raw)
    if problem is not None:
        return problem
    kind = raw.get("type")
    if kind not in ("track", "identify"):
        return Invalid(Kind.TYPE, f"'type' must be 'track' or 'identify', got {_shown(kind)}")
    customer = _customer(raw)
    if isinstance(customer, Invalid):
        return customer
    name = _name(raw) if kind == "track" else IDENTIFY
    if isinstance(name, Invalid):
        return name
    fields = _objects(raw)
    if isinstance(fields, Invalid):
        return fields
    properties, traits = fields
    timestamp = _timestamp(raw.get("timestamp"), now, max_ahead)
    if isinstance(timestamp, Invalid):
        return timestamp
    message_id = _message_id(raw)
    if isinstance(message_id, Invalid):
        return message_id
    return Event(message_id, customer, kind, name, timestamp, properties, traits)


def parse_event(raw: Any, default_time: datetime) -> Event:
    """`check_event`, raising EventError with the reason (for callers that stop
    at the first bad event, such as a journey's own tests)."""
    checked = check_event(raw, default_time)
    if isinstance(checked, Invalid):
        raise EventError(checked.reason)
    return checked


# --- every value, however deep ------------------------------------------------------

# A NUL ends a C string (PostgreSQL refuses it in text); a surrogate on its own
# is no character at all (no UTF-8 encoder takes it). A pair written as two
# \u escapes arrives joined, so any surrogate left in a string is a lone one.
_UNFIT_TEXT = re.compile("[\x00\ud800-\udfff]")


def _unfit_text(text: str) -> bool:
    # most text is ASCII, which CPython knows without looking: then only a NUL can be wrong
    return "\x00" in text if text.isascii() else _UNFIT_TEXT.search(text) is not None


def check_values(raw: dict[str, Any]) -> Invalid | None:
    """Every key and value in `raw`: text without NUL or lone surrogates,
    integers within 64 bits, finite numbers, nesting and size within the limits.
    Walked with a list, not recursion, so no depth can overflow the walk."""
    todo: list[tuple[dict[str, Any] | list[Any] | tuple[Any, ...], int, tuple[Any, ...]]] = [
        (raw, 1, ())
    ]
    while todo:
        container, depth, path = todo.pop()
        if depth > limits.MAX_DEPTH:
            return Invalid(
                Kind.TOO_DEEP,
                f"{_where(path)} is nested {depth} levels deep; events nest at most "
                f"{limits.MAX_DEPTH} levels of objects and lists",
            )
        is_object = isinstance(container, dict)
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, value in items:
            if is_object:
                if not isinstance(key, str):
                    return Invalid(
                        Kind.NOT_JSON_VALUE, f"{_where(path)} has a key {_shown(key)}: not a string"
                    )
                if _unfit_text(key):
                    return _unfit(path, key, "a key")
            if isinstance(value, str):
                if _unfit_text(value):
                    return _unfit((*path, key), value, "the text")
            elif isinstance(value, (dict, list, tuple)):
                todo.append((value, depth + 1, (*path, key)))
            elif value is None or isinstance(value, bool):
                continue
            elif isinstance(value, int):
                if not limits.MIN_INTEGER <= value <= limits.MAX_INTEGER:
                    return Invalid(
                        Kind.INTEGER_RANGE,
                        f"{_where((*path, key))} is an integer of {_digits(value)} digits, "
                        f"beyond 64 bits ({limits.MIN_INTEGER} .. {limits.MAX_INTEGER}): "
                        "send it as a string",
                    )
            elif isinstance(value, float):
                if not math.isfinite(value):
                    return Invalid(
                        Kind.NOT_FINITE,
                        f"{_where((*path, key))} is {value!r}: numbers must be finite",
                    )
            elif not isinstance(value, (datetime, date)):  # from Python or YAML: ISO text
                return Invalid(
                    Kind.NOT_JSON_VALUE,
                    f"{_where((*path, key))} is a {type(value).__name__}: JSON has no form for it",
                )
    try:
        size = len(orjson.dumps(raw))
    except orjson.JSONEncodeError as exc:  # nothing above lets one through; say so if it does
        return Invalid(Kind.NOT_JSON_VALUE, f"the event cannot be written as JSON: {exc}")
    if size > limits.MAX_EVENT_BYTES:
        return Invalid(
            Kind.TOO_BIG,
            f"the event is {size:,} bytes as JSON; at most {limits.MAX_EVENT_BYTES:,} "
            f"({limits.MAX_EVENT_BYTES // 1024} KiB)",
        )
    return None


def _unfit(path: tuple[Any, ...], text: str, what: str) -> Invalid:
    found = _UNFIT_TEXT.search(text)
    assert found is not None
    char = found.group()
    said = "a NUL character" if char == "\x00" else f"a lone UTF-16 surrogate (\\u{ord(char):04x})"
    return Invalid(
        Kind.BAD_TEXT,
        f"{what} at {_where(path)} holds {said}, which no text in an event may hold",
    )


def _digits(value: int) -> str:
    # str() of a 5,000-digit integer is refused by Python itself: count by bits
    if abs(value) < 10**50:
        return str(len(str(abs(value))))
    return f"about {int(abs(value).bit_length() * math.log10(2)) + 1:,}"


# --- the fields ------------------------------------------------------------------------


def _customer(raw: dict[str, Any]) -> str | Invalid:
    """userId, else anonymousId; an integer id is its decimal text (0 too)."""
    for field in ("userId", "anonymousId"):
        value = raw.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            return Invalid(
                Kind.CUSTOMER_ID, f"'{field}' must be a string or an integer, not {_a(value)}"
            )
        text = str(value)
        if len(text) > limits.MAX_ID_LENGTH:
            return Invalid(
                Kind.CUSTOMER_ID,
                f"'{field}' is {len(text):,} characters long; at most {limits.MAX_ID_LENGTH}",
            )
        return text
    return Invalid(Kind.CUSTOMER_ID, "the event has neither 'userId' nor 'anonymousId'")


def _name(raw: dict[str, Any]) -> str | Invalid:
    name = raw.get("event")
    if not isinstance(name, str) or not name.strip():
        return Invalid(Kind.EVENT_NAME, "a track call needs a non-empty string 'event'")
    if name == IDENTIFY:
        return Invalid(
            Kind.EVENT_NAME, "'identify' is reserved for identify calls; rename the track event"
        )
    if len(name) > limits.MAX_NAME_LENGTH:
        return Invalid(
            Kind.EVENT_NAME,
            f"'event' is {len(name):,} characters long; at most {limits.MAX_NAME_LENGTH}",
        )
    return name


def _objects(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | Invalid:
    """(properties, traits): each an object or absent; traits may come in
    `context.traits`, as Segment's track calls carry them."""
    context = raw.get("context")
    if context is not None and not isinstance(context, dict):
        return Invalid(Kind.NOT_AN_OBJECT_FIELD, f"'context' must be an object, not {_a(context)}")
    found: dict[str, dict[str, Any] | None] = {}
    for field, value in (
        ("properties", raw.get("properties")),
        ("traits", raw.get("traits")),
        ("context.traits", (context or {}).get("traits")),
    ):
        if value is not None and not isinstance(value, dict):
            return Invalid(
                Kind.NOT_AN_OBJECT_FIELD, f"'{field}' must be an object, not {_a(value)}"
            )
        found[field] = value
    return found["properties"] or {}, found["traits"] or found["context.traits"] or {}


def _timestamp(value: Any, now: datetime, max_ahead: timedelta | None) -> datetime | Invalid:
    if value is None:
        return as_utc(now)
    try:
        if isinstance(value, datetime):
            moment = as_utc(value)
        elif isinstance(value, str):
            moment = as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
        else:
            return Invalid(
                Kind.TIMESTAMP, f"'timestamp' must be an ISO-8601 string, got {_shown(value)}"
            )
    except ValueError:
        return Invalid(
            Kind.TIMESTAMP,
            f"'timestamp' {_shown(value)} is not ISO-8601 (e.g. 2026-01-01T10:00:00Z)",
        )
    except OverflowError:  # 0001-01-01T00:00:00+05:00 is before the first moment there is
        moment = None
    if moment is None or not limits.EARLIEST <= moment <= limits.LATEST:
        return Invalid(
            Kind.TIMESTAMP,
            f"'timestamp' {_shown(value)} is outside the years "
            f"{limits.EARLIEST.year}..{limits.LATEST.year} (UTC) events may be dated in",
        )
    if max_ahead is not None and moment - as_utc(now) > max_ahead:
        return Invalid(
            Kind.AHEAD_OF_CLOCK,
            f"'timestamp' {moment.isoformat()} is {span(moment - as_utc(now))} ahead of the "
            f"engine's clock ({as_utc(now).isoformat(timespec='seconds')}); events may be at "
            f"most {span(max_ahead)} ahead: check the date, or the sender's clock",
        )
    return moment


def _message_id(raw: dict[str, Any]) -> str | Invalid:
    """The messageId; without one, a digest of the content, so ingesting the
    same file twice still applies each event once."""
    message_id = raw.get("messageId")
    if message_id is None:
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode())
        return "derived-" + digest.hexdigest()[:32]
    if not isinstance(message_id, str) or not message_id:
        return Invalid(Kind.MESSAGE_ID, "'messageId' must be a non-empty string")
    if len(message_id) > limits.MAX_ID_LENGTH:
        return Invalid(
            Kind.MESSAGE_ID,
            f"'messageId' is {len(message_id):,} characters long; at most {limits.MAX_ID_LENGTH}",
        )
    return message_id


# --- wording -------------------------------------------------------------------------


def span(delta: timedelta) -> str:
    """A duration the way a person says it: '36 years', '2 days', '5 minutes'."""
    seconds = int(delta.total_seconds())
    for unit, size in (
        ("year", 365 * 86400),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if seconds >= size:
            count = seconds // size
            return f"{count:,} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _a(value: Any) -> str:
    """What JSON would call the value: 'a string', 'a list', 'true'..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _shown(value: Any, width: int = 60) -> str:
    """A value in a reason: repr (so NULs and surrogates come out escaped), cut short."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**50:
        return "a very large integer"
    text = repr(value) if not isinstance(value, (dict, list, tuple)) else _a(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _where(path: tuple[Any, ...], width: int = 80) -> str:
    """`properties.items[2].sku`, cut short; the event itself is 'the event'."""
    if not path:
        return "the event"
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            shown = part if re.fullmatch(r"[A-Za-z0-9_\-$@]{1,40}", part) else repr(part[:40])
            text += f".{shown}" if text else shown
        if len(text) > width:
            return "'" + text[: width - 1] + "…'"
    return f"'{text}'"
