"""The event, once accepted: what journeys see and what the store keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
