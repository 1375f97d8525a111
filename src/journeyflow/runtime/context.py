"""The enrolment context in CEL: `trigger` and `enrolment`, beside the
`customer`, `event`, `state` and `now` that `definition/cel.py` provides.

A journey that runs once per cart must remember that cart in every later
state, also in states a timer enters (where `event` is empty): `trigger` is
the event that created the enrolment, `enrolment` its key, start and
variables. The CEL module knows the four older names; this module compiles
expressions that may use the two new ones too and builds the scope that
carries them, so only the expressions that read a name pay for converting it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import cel

from journeyflow.definition.cel import Expression, Scope, compile_expression
from journeyflow.definition.scope_names import CONTEXT_NAMES
from journeyflow.definition.scope_names import JOURNEY_NAMES as NAMES


def compile_in_context(source: str, functions: frozenset[str] = frozenset()) -> Expression:
    """Compile `source` with `trigger` and `enrolment` in scope as well."""
    expression = compile_expression(source, names=NAMES, functions=functions)
    used = frozenset(expression.program.references()["variables"]) & CONTEXT_NAMES
    if not used or used <= expression.uses:
        return expression
    return dataclasses.replace(expression, uses=expression.uses | used)


@dataclass
class EnrolmentScope(Scope):
    """A scope that also holds the enrolment context (None: not in scope, as
    `enrolment` in `entry.when`, before there is one).

    `trigger` may be the stored form (`EnrolmentRecord.trigger`, its timestamp
    ISO text): it is converted only for an expression that reads it."""

    trigger: Mapping[str, Any] | None = None
    enrolment: Mapping[str, Any] | None = None

    def context(
        self, uses: frozenset[str] = NAMES, calls: frozenset[str] | None = None
    ) -> cel.Context:
        context = super().context(uses, calls)
        if self.trigger is not None and "trigger" in uses:
            context.add_variable("trigger", _plain(trigger_view(self.trigger)))
        if self.enrolment is not None and "enrolment" in uses:
            context.add_variable("enrolment", _plain(self.enrolment))
        return context


def trigger_view(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """`trigger` as CEL sees it, from the JSON form an enrolment stores
    (`EnrolmentRecord.trigger`): the timestamp a timestamp again. An enrolment
    stored before the context existed has none: an empty map, as `event` in a
    timer."""
    if not record:
        return {}
    view = dict(record)
    stamp = view.get("timestamp")
    if isinstance(stamp, str):
        view["timestamp"] = datetime.fromisoformat(stamp)
    return view


def trigger_record(
    name: str, kind: str, moment: datetime, properties: Mapping[str, Any], traits: Mapping[str, Any]
) -> dict[str, Any]:
    """What an enrolment keeps of the event that created it: plain JSON."""
    return {
        "name": name,
        "type": kind,
        "properties": dict(properties),
        "traits": dict(traits),
        "timestamp": moment.isoformat(),
    }


def _plain(value: Any) -> Any:
    """What the CEL interpreter accepts: lists, string keys, UTC datetimes."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value if value.tzinfo is timezone.utc else value.astimezone(timezone.utc)
    if isinstance(value, date):
        return value.isoformat()
    return value


def storable(value: Any) -> Any:
    """A computed value as actions keep it (`set`, `vars`, send `data`, emit
    `properties`): plain JSON, the same in every store. A timestamp becomes
    ISO-8601 text, a duration CEL's own text (`"5400s"`, which `duration()`
    reads back), also inside lists and maps."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration_text(value)
    if isinstance(value, Mapping):
        return {str(k): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    return value


def _duration_text(value: timedelta) -> str:
    """`5400s`, `0.0015s`, `-90s`: seconds in decimals, as CEL writes durations."""
    if value < timedelta(0):
        return "-" + _duration_text(-value)
    seconds = value.days * 86400 + value.seconds
    if not value.microseconds:
        return f"{seconds}s"
    return f"{seconds}.{value.microseconds:06d}".rstrip("0") + "s"
