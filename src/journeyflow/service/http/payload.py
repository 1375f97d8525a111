"""A request body's JSON: the calls it carries and what it says about all of
them (`calls.Envelope`), or a `400` saying what is wrong with it.

The JSON is read as `journeyflow ingest` reads a line (`events.lines`): an
integer of too many digits or a NaN is refused with the reason rather than
turned into a float, text that is not UTF-8 likewise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from journeyflow.events.lines import read_line
from journeyflow.service.http.calls import Envelope, parse_time
from journeyflow.service.http.responses import Refusal

# calls one batch may hold: the clients send 100 (Segment) to a few thousand
# (RudderStack's 4 MB); past this a body of tiny items would cost the server
# far more in parsed objects and per-call answers than its bytes suggest
MAX_CALLS = 10_000


@dataclass(frozen=True)
class Payload:
    calls: list[Any]
    envelope: Envelope
    write_key: Any  # the body's writeKey, if any (checked by the caller)


def read_payload(body: bytes, path_type: str | None, received_at: datetime) -> Payload:
    """The calls in `body`: the `batch` list of `/v1/batch`, or the one call of
    a single-call path (`path_type`)."""
    line = read_line(body)
    if line.problem is not None:  # its reason speaks of a line: this is a body
        reason = line.problem.reason.replace("the line", "the body", 1)
        raise Refusal(400, "invalid-json", reason)
    document = line.value
    if not isinstance(document, dict):
        raise Refusal(400, "not-an-object", "the body must be a JSON object")
    sent_at = _sent_at(document.get("sentAt"))
    if path_type is not None:  # the body is the call itself
        envelope = Envelope(received_at=received_at, sent_at=sent_at, path_type=path_type)
        call = {k: v for k, v in document.items() if k != "writeKey"}  # no secret kept
        return Payload([call], envelope, document.get("writeKey"))
    calls = document.get("batch")
    if not isinstance(calls, list):
        raise Refusal(400, "bad-batch", "'batch' must be a list of calls")
    if len(calls) > MAX_CALLS:
        raise Refusal(
            413,
            "too-many-calls",
            f"the batch holds {len(calls):,} calls; at most {MAX_CALLS:,}: send smaller batches",
        )
    envelope = Envelope(
        received_at=received_at,
        sent_at=sent_at,
        context=_object(document, "context"),
        integrations=_object(document, "integrations"),
    )
    return Payload(calls, envelope, document.get("writeKey"))


def _sent_at(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = parse_time(value)
    if moment is None:
        raise Refusal(400, "bad-sent-at", "'sentAt' must be an ISO-8601 date and time")
    return moment


def _object(document: dict[str, Any], field: str) -> dict[str, Any] | None:
    value = document.get(field)
    if value is not None and not isinstance(value, dict):
        raise Refusal(400, f"bad-{field}", f"the batch's '{field}' must be an object")
    return value
