"""Time, injected: the engine never calls `datetime.now()` itself.

`SystemClock` for a running service; `VirtualClock` for simulation, backtests
and journey tests, where time only moves when told to.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class VirtualClock:
    """A clock that stands still until `set` moves it, never backwards
    (`Engine.advance_to` sets it and fires the timers due on the way)."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        moment = as_utc(moment)
        if moment > self._now:
            self._now = moment


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are read as UTC; aware ones converted to UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
