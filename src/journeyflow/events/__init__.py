"""Incoming events: Segment-style `track` and `identify` calls.

* `model.py`: `Event`, an event once accepted;
* `limits.py`: the limits every event is held to (lengths, depth, size,
  integers, dates, clock skew), the same on every database;
* `validation.py`: `check_event`, a raw dict in, an `Event` or the reason it
  is refused (`Invalid`) out: every way in uses it; `parse_event` raises
  `EventError` instead;
* `lines.py`: reading JSON lines, each line on its own.

A missing `messageId` is derived from the event's content, so re-ingesting
the same file is idempotent. `docs/events.md` is the reference for people.
"""

from __future__ import annotations

from journeyflow.events.model import IDENTIFY, Event
from journeyflow.events.validation import Invalid, Kind, check_event, parse_event

__all__ = ["IDENTIFY", "Event", "Invalid", "Kind", "check_event", "parse_event"]
