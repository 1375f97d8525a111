"""Incoming events: Segment-style `track` and `identify` calls.

`parse_event` turns a raw dict into an `Event` or raises `EventError` with a
reason a person can act on. A missing `messageId` is derived from the event's
content, so re-ingesting the same file is idempotent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from journeyflow.clock import as_utc
from journeyflow.exceptions import EventError

IDENTIFY = "identify"  # the event name journeys use for identify calls


@dataclass(frozen=True)
class Event:
    """One event, normalised. `name` is the track event's name, or "identify"."""

    message_id: str
    customer_id: str
    type: str  # "track" | "identify" | "internal" (emitted by a journey)
    name: str
    timestamp: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)

    def to_raw(self) -> dict[str, Any]:
        """The Segment-style call this event came from (stored; replayed by backtests)."""
        raw: dict[str, Any] = {
            "type": self.type,
            "messageId": self.message_id,
            "userId": self.customer_id,
            "timestamp": self.timestamp.isoformat(),
        }
        if self.type == "identify":
            raw["traits"] = self.traits
        else:
            raw["event"] = self.name
            raw["properties"] = self.properties
        return raw

    def payload(self) -> dict[str, Any]:
        """What is stored (and what CEL sees as `event`)."""
        return {
            "type": self.type,
            "name": self.name,
            "properties": self.properties,
            "traits": self.traits,
            "timestamp": self.timestamp.isoformat(),
        }


def parse_event(raw: Any, default_time: datetime) -> Event:
    """Validate a Segment-style call; raise EventError saying what is wrong."""
    if not isinstance(raw, dict):
        raise EventError(f"an event must be a JSON object, not {type(raw).__name__}")
    kind = raw.get("type")
    if kind not in ("track", "identify"):
        raise EventError(f"'type' must be 'track' or 'identify', got {kind!r}")
    customer = raw.get("userId") or raw.get("anonymousId")
    if customer is None or (isinstance(customer, str) and not customer.strip()):
        raise EventError("the event has neither 'userId' nor 'anonymousId'")
    if isinstance(customer, (int, float)) and not isinstance(customer, bool):
        customer = str(customer)
    if not isinstance(customer, str):
        raise EventError(f"'userId' must be a string, got {type(customer).__name__}")
    if kind == "track":
        name = raw.get("event")
        if not isinstance(name, str) or not name.strip():
            raise EventError("a track call needs a non-empty string 'event'")
        if name == IDENTIFY:
            raise EventError("'identify' is reserved for identify calls; rename the track event")
    else:
        name = IDENTIFY
    properties = raw.get("properties") or {}
    traits = raw.get("traits") or (raw.get("context") or {}).get("traits") or {}
    if not isinstance(properties, dict):
        raise EventError("'properties' must be an object")
    if not isinstance(traits, dict):
        raise EventError("'traits' must be an object")
    timestamp = _parse_time(raw.get("timestamp"), default_time)
    message_id = raw.get("messageId")
    if message_id is None:
        message_id = (
            "derived-"
            + hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:32]
        )
    elif not isinstance(message_id, str) or not message_id:
        raise EventError("'messageId' must be a non-empty string")
    return Event(message_id, customer, kind, name, timestamp, properties, traits)


def _parse_time(value: Any, default: datetime) -> datetime:
    if value is None:
        return as_utc(default)
    if isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str):
        raise EventError(f"'timestamp' must be an ISO-8601 string, got {value!r}")
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise EventError(
            f"'timestamp' {value!r} is not ISO-8601 (e.g. 2026-01-01T10:00:00Z)"
        ) from None
