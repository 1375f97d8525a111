"""Segment calls as they arrive over HTTP, made into the events the engine
takes: one function per step, each a pure function of the call.

A request is a batch (`/v1/batch`: `{"batch": [...], "sentAt", "context",
"integrations", "writeKey"}`) or one call (`/v1/track` and the others, whose
path gives the type). Each call in it is prepared on its own (`prepare`):

1. the batch's `context` and `integrations` merged in, the call's own keys
   winning;
2. `page`, `screen`, `group` and `alias` made track events the journeys can
   route on (`MAPPED`), since the engine takes only `track` and `identify`
   (docs/http-ingest.md lists what each becomes);
3. its clock corrected as Segment corrects it: a client's clock may be off,
   so when the request says when it was sent (`sentAt`), the timestamp is
   moved by the difference between our clock and the client's
   (`receivedAt - sentAt`), the client's own kept as `originalTimestamp`;
   a call without a timestamp happened when it was received;
4. a missing `messageId` derived from the call's content, so a client's
   retry of it is still a duplicate;
5. checked by `events.check_event`, the one check every way in uses.

Nothing here raises for anything a client sends: a call is an `Event` with
the dict to keep, or `Invalid` with the reason.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from journeyflow.events import Event, Invalid, Kind, check_event

SINGLE_TYPES = ("track", "identify", "page", "screen", "group", "alias")

# what a call the engine has no type for becomes: a track event of this name
MAPPED = {
    "page": "page_viewed",
    "screen": "screen_viewed",
    "group": "group_joined",
    "alias": "user_aliased",
}


@dataclass(frozen=True)
class Envelope:
    """What a request says about all its calls."""

    received_at: datetime  # by our clock
    sent_at: datetime | None  # by the client's clock
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    path_type: str | None = None  # /v1/track and the like: the type every call has


@dataclass(frozen=True)
class Limits:
    max_event_bytes: int
    max_clock_skew: timedelta | None


def prepare(
    call: Any, envelope: Envelope, limits: Limits
) -> tuple[Event, dict[str, Any]] | Invalid:
    """The event `call` describes with the dict to keep for it, or why it is refused."""
    if not isinstance(call, dict):
        return Invalid(Kind.NOT_AN_OBJECT, f"an event must be a JSON object, not {_a(call)}")
    size = _size(call)
    if size is not None and size > limits.max_event_bytes:
        return Invalid(
            Kind.TOO_BIG,
            f"the event is {size:,} bytes as JSON; at most {limits.max_event_bytes:,}",
        )
    raw = merged(call, envelope)
    if envelope.path_type is not None:
        raw["type"] = envelope.path_type
    mapped = as_track(raw)
    if isinstance(mapped, Invalid):
        return mapped
    raw = mapped
    if raw.get("messageId") is None:
        derived = derived_message_id(call, envelope.path_type)
        if derived is not None:
            raw["messageId"] = derived
    corrected(raw, envelope)
    checked = check_event(raw, envelope.received_at, max_ahead=limits.max_clock_skew)
    if isinstance(checked, Invalid):
        return checked
    return checked, raw


def kept_form(call: Any, envelope: Envelope) -> Any:
    """What the dead-letter table keeps of a refused call: the call with the
    batch's context merged in, the type its path gave it, and no write key —
    what the check read, so that `journeyflow rejected replay` (through
    `replay_form`) reads it the same way."""
    if not isinstance(call, dict):
        return call
    raw = merged(call, envelope)
    if envelope.path_type is not None:
        raw["type"] = envelope.path_type
    return raw


def replay_form(raw: Any) -> Any:
    """A kept call as the engine takes it (a page call as its track event);
    one that cannot be mapped is handed on as kept, for the check to refuse
    again with its reason."""
    if not isinstance(raw, dict):
        return raw
    mapped = as_track(raw)
    return raw if isinstance(mapped, Invalid) else mapped


def merged(call: dict[str, Any], envelope: Envelope) -> dict[str, Any]:
    """The call with the batch's context and integrations under its own."""
    raw = {k: v for k, v in call.items() if k != "writeKey"}  # a secret is not kept
    for field, shared in (("context", envelope.context), ("integrations", envelope.integrations)):
        if not shared:
            continue
        own = raw.get(field)
        if own is None:
            raw[field] = dict(shared)
        elif isinstance(own, dict):
            raw[field] = {**shared, **own}
        # anything else is left for check_event to refuse (context) or kept as sent
    return raw


def as_track(raw: dict[str, Any]) -> dict[str, Any] | Invalid:
    """A page, screen, group or alias call as the track event journeys see;
    track, identify and anything else as they are (check_event judges them)."""
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in MAPPED:
        return raw
    properties = raw.get("properties")
    if properties is not None and not isinstance(properties, dict):
        return Invalid(
            Kind.NOT_AN_OBJECT_FIELD, f"'properties' must be an object, not {_a(properties)}"
        )
    props: dict[str, Any] = dict(properties or {})
    track = {k: v for k, v in raw.items() if k not in ("traits", "properties")}
    track["type"] = "track"
    track["event"] = MAPPED[kind]
    if kind in ("page", "screen"):
        for field in ("name", "category"):
            if raw.get(field) is not None:
                props.setdefault(field, raw[field])
        if "traits" in raw:  # a page call has none of the user's; keep any as sent
            track["traits"] = raw["traits"]
    elif kind == "group":
        if raw.get("groupId") is not None:
            props["groupId"] = raw["groupId"]
        if raw.get("traits") is not None:  # the group's traits, not the user's
            props["traits"] = raw["traits"]
    else:  # alias: the customer is userId; previousId is who they were
        if raw.get("previousId") is not None:
            props["previousId"] = raw["previousId"]
    track["properties"] = props
    return track


def corrected(raw: dict[str, Any], envelope: Envelope) -> None:
    """Set `receivedAt`, and move `timestamp` by the client's clock error
    (Segment's rule: receivedAt - (sentAt - timestamp)); a timestamp that is
    not a date is left for check_event to refuse."""
    received = envelope.received_at
    raw["receivedAt"] = received.isoformat()
    if raw.get("timestamp") is None:
        raw["timestamp"] = received.isoformat()
        return
    if envelope.sent_at is None:
        return
    original = parse_time(raw["timestamp"])
    if original is None:
        return
    try:
        moved = original + (received - envelope.sent_at)
    except OverflowError:  # check_event refuses such a date anyway
        return
    raw["originalTimestamp"] = raw["timestamp"]
    raw["timestamp"] = moved.isoformat()


def parse_time(value: Any) -> datetime | None:
    """An ISO-8601 moment (naive is UTC), or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment
    except (ValueError, OverflowError):
        return None


def derived_message_id(call: dict[str, Any], path_type: str | None) -> str | None:
    """A messageId from the call's content as sent: a retry of the same call
    gets the same one. None for a call JSON cannot write back (nested too
    deep): check_event refuses it for that."""
    try:
        text = json.dumps([path_type, call], sort_keys=True, default=str, ensure_ascii=True)
    except (ValueError, TypeError, RecursionError):
        return None
    return "http-" + hashlib.sha256(text.encode("ascii")).hexdigest()[:32]


def _size(call: dict[str, Any]) -> int | None:
    """The call's size as JSON; None when orjson cannot write it (a value
    check_event refuses with a reason of its own)."""
    try:
        return len(orjson.dumps(call))
    except orjson.JSONEncodeError:
        return None


def _a(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else f"a {type(value).__name__}"
