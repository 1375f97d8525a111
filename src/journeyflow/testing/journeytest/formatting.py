"""The text of the failure reports: moments, values, enrolments, transitions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from journeyflow.clock import as_utc
from journeyflow.definition import dsl

if TYPE_CHECKING:
    from journeyflow.store.records import EnrolmentRecord


def fmt_time(moment: datetime) -> str:
    moment = as_utc(moment)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def show_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())


def describe_enrolment(e: EnrolmentRecord | None) -> str:
    if e is None:
        return "none"
    text = f"{e.id}: state {e.state}, status {e.status}, entered {fmt_time(e.entered_at)}"
    if e.ended_at is not None:
        text += f", ended {fmt_time(e.ended_at)} ({e.end_reason})"
    if e.in_holdout:
        text += ", in holdout"
    return text


def trigger(spec: dsl.Transition) -> str:
    if spec.on is not None:
        return f"on {spec.on}" + (" (internal)" if spec.internal else "")
    if spec.after is not None:
        return f"after {spec.after}"
    if spec.at is not None:
        return f"at {spec.at}"
    if spec.split is not None:
        return "split " + "/".join(f"{b.to}:{b.weight}" for b in spec.split)
    return "?"
