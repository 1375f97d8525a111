"""Records to rows and back: the one place that knows both shapes.

Moments are stored as naive UTC (SQLite has no time zones, PostgreSQL's
`timestamp` neither) and come back aware. JSON columns are written by
`json_text`, on both of the store's paths (SQLAlchemy's and the bulk one).

The enrolment's columns are its record's fields, as `dataclasses.fields`
lists them, plus `next_due_at` (derived, for the due-timer index); how each
column converts follows from its type in `tables.py`. A field added to
`EnrolmentRecord` (and its column to the table) needs nothing here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import fields
from datetime import datetime, timezone
from functools import lru_cache
from operator import attrgetter, itemgetter
from typing import Any, overload

import orjson
from sqlalchemy import Boolean, DateTime

from journeyflow.store import tables as t
from journeyflow.store.records import CustomerRecord, Effect, EnrolmentRecord, HistoryRecord

Convert = Callable[[Any], Any]


@lru_cache(maxsize=1 << 14)  # one event's instant lands in several columns
def naive(moment: datetime | None) -> datetime | None:
    """A moment as stored: naive UTC."""
    if moment is None or moment.tzinfo is None:
        return moment
    if moment.tzinfo is not timezone.utc:
        moment = moment.astimezone(timezone.utc)
    return moment.replace(tzinfo=None)


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    """A moment as read back: UTC, said so."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None else None


_OPTIONS = orjson.OPT_NON_STR_KEYS


def json_text(value: Any, *, sort_keys: bool = False) -> str:
    """JSON for the store's JSON columns (SQLAlchemy's serializer too, so both
    paths write the same): orjson, ~10x faster than json.dumps on our rows.
    Datetimes become ISO 8601 text, like isoformat(); keys become strings."""
    try:
        options = _OPTIONS | orjson.OPT_SORT_KEYS if sort_keys else _OPTIONS
        return orjson.dumps(value, option=options).decode()
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: json copes
        return json.dumps(value, default=_fallback, sort_keys=sort_keys)


def _fallback(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# --- customers ---------------------------------------------------------------


def customer_record(m: Any) -> CustomerRecord:
    return CustomerRecord(
        m["id"], dict(m["attributes"] or {}), list(m["segments"] or []), aware(m["created_at"])
    )


def customer_row(c: CustomerRecord) -> dict[str, Any]:
    return {
        "id": c.id,
        "attributes": c.attributes,
        "segments": list(c.segments),
        "created_at": naive(c.created_at),
    }


def customer_snapshot(c: CustomerRecord) -> tuple[Any, ...]:
    """What commit compares to find a changed customer. The attributes as JSON
    text: a deep copy, compared in one go (they are changed in place)."""
    return (json_text(c.attributes, sort_keys=True), tuple(c.segments), c.created_at)


# --- enrolments --------------------------------------------------------------

ENROLMENT_FIELDS = tuple(f.name for f in fields(EnrolmentRecord))


def timers_column(timers: Iterable[tuple[int, datetime]]) -> list[list[Any]]:
    return [[i, d.isoformat()] for i, d in timers]


def _timers_field(column: list[list[Any]]) -> list[tuple[int, datetime]]:
    return [(int(i), datetime.fromisoformat(d)) for i, d in column]


def _same(value: Any) -> Any:
    return value


def _to_column(name: str) -> Convert:
    if name == "timers":  # the one list: JSON pairs of (transition index, ISO due)
        return timers_column
    return naive if isinstance(t.enrolments.c[name].type, DateTime) else _same


def _to_field(name: str) -> Convert | None:
    kind = t.enrolments.c[name].type
    if name == "timers":
        return _timers_field
    if isinstance(kind, DateTime):
        return aware
    if isinstance(kind, Boolean):
        return bool  # SQLite hands back 0/1
    return None


# Each field's conversion to its column, by name (what `enrolment_changes`
# sets) and, both ways, by position in ENROLMENT_FIELDS: a whole record or row
# is read with one C call, and only the values that need it are converted.
TO_COLUMN: dict[str, Convert] = {name: _to_column(name) for name in ENROLMENT_FIELDS}
_TO_COLUMN_AT = [(i, c) for i, c in enumerate(TO_COLUMN.values()) if c is not _same]
_FROM_COLUMN_AT = [(i, c) for i, c in enumerate(map(_to_field, ENROLMENT_FIELDS)) if c is not None]
_read_record = attrgetter(*ENROLMENT_FIELDS)
_read_row = itemgetter(*ENROLMENT_FIELDS)


def enrolment_record(m: Any) -> EnrolmentRecord:
    values = list(_read_row(m))
    for i, convert in _FROM_COLUMN_AT:
        values[i] = convert(values[i])
    return EnrolmentRecord(*values)


def next_due_column(e: EnrolmentRecord) -> datetime | None:
    """The earliest pending timer, NULL once ended: what the due-timer index holds."""
    return naive(e.next_due_at) if e.active else None


def enrolment_row(e: EnrolmentRecord) -> dict[str, Any]:
    values = list(_read_record(e))
    for i, convert in _TO_COLUMN_AT:
        values[i] = convert(values[i])
    row = dict(zip(ENROLMENT_FIELDS, values, strict=True))
    row["next_due_at"] = next_due_column(e)
    return row


# What commit compares to find a changed enrolment: every field but the id, the
# timers last and copied (the engine appends to the list in place). A tuple is
# built in ~0.3 us and compared in one go; a row dict took ~5.
SNAPSHOT_FIELDS = (*(n for n in ENROLMENT_FIELDS if n not in ("id", "timers")), "timers")
_snapshot_head = attrgetter(*SNAPSHOT_FIELDS[:-1])


def enrolment_snapshot(e: EnrolmentRecord) -> tuple[Any, ...]:
    return (*_snapshot_head(e), tuple(e.timers))


def enrolment_changes(
    e: EnrolmentRecord, before: tuple[Any, ...], after: tuple[Any, ...]
) -> dict[str, Any]:
    """The UPDATE parameters for the columns that differ from the snapshot (in a
    fixed order, so equal sets of changes share one executemany). The id goes
    by another name than the SET columns, `b_id`."""
    values: dict[str, Any] = {"b_id": e.id}
    for name, old, new in zip(SNAPSHOT_FIELDS, before, after, strict=True):
        if old != new:
            values[name] = TO_COLUMN[name](new)
    if "timers" in values or "status" in values:
        values["next_due_at"] = next_due_column(e)
    return values


# --- history and effects -----------------------------------------------------


def history_record(m: Any) -> HistoryRecord:
    return HistoryRecord(
        m["enrolment_id"],
        m["customer_id"],
        m["journey"],
        m["seq"],
        m["kind"],
        m["from_state"],
        m["to_state"],
        m["cause"],
        aware(m["at"]),
        m["detail"],
    )


def history_row(h: HistoryRecord) -> dict[str, Any]:
    return {
        "enrolment_id": h.enrolment_id,
        "customer_id": h.customer_id,
        "journey": h.journey,
        "seq": h.seq,
        "kind": h.kind,
        "from_state": h.from_state,
        "to_state": h.to_state,
        "cause": h.cause,
        "at": naive(h.at),
        "detail": h.detail,
    }


def effect_record(m: Any) -> Effect:
    return Effect(
        key=m["effect_key"],
        channel=m["channel"],
        customer_id=m["customer_id"],
        journey=m["journey"],
        version=m["version"],
        enrolment_id=m["enrolment_id"],
        created_at=aware(m["created_at"]),
        template=m["template"],
        data=dict(m["data"] or {}),
        status=m["status"],
        attempts=m["attempts"],
        last_error=m["last_error"],
        seq=m["seq"],
        action=m["action"],
        next_attempt_at=aware(m["next_attempt_at"]),
        ordinal=m["ordinal"],
    )


def effect_row(e: Effect) -> dict[str, Any]:
    return {
        "effect_key": e.key,
        "channel": e.channel,
        "customer_id": e.customer_id,
        "journey": e.journey,
        "version": e.version,
        "enrolment_id": e.enrolment_id,
        "created_at": naive(e.created_at),
        "template": e.template,
        "data": e.data,
        "status": e.status,
        "attempts": e.attempts,
        "last_error": e.last_error,
        "seq": e.seq,
        "action": e.action,
        "next_attempt_at": naive(e.next_attempt_at),
        "ordinal": e.ordinal,
    }
