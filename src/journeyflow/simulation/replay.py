"""Feeding events to an engine on a virtual clock, so timers fire at the times
they would have fired live.

`clock_start` says where the clock starts (the first event); `play` feeds a
long, time-ordered stream in batches (as `journeyflow demo` does), moving the
clock between batches and recomputing segments on their schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from journeyflow.clock import as_utc
from journeyflow.runtime.engine import Engine
from journeyflow.runtime.segments import SegmentSchedule

DEFAULT_START = datetime(2026, 1, 1, tzinfo=timezone.utc)  # when no event says otherwise


def event_times(events: Iterable[Any]) -> list[datetime]:
    """The readable `timestamp`s of Segment-style events, as aware UTC datetimes;
    events without one (or not events at all) are skipped."""
    times: list[datetime] = []
    for event in events:
        if not isinstance(event, dict) or not event.get("timestamp"):
            continue
        try:
            times.append(
                as_utc(datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")))
            )
        except (ValueError, OverflowError):
            continue  # the engine rejects the event, with its reason
    return times


def clock_start(events: Iterable[Any], fallback: datetime | None = None) -> datetime:
    """Where a replay's virtual clock starts: the earliest event time; with no
    readable timestamp, `fallback`, else DEFAULT_START."""
    times = event_times(events)
    if times:
        return min(times)
    return as_utc(fallback) if fallback is not None else DEFAULT_START


def play(
    engine: Engine,
    events: Sequence[dict[str, Any]],
    end: datetime,
    *,
    schedule: SegmentSchedule | None = None,
    on_batch: Callable[[int], None] | None = None,
    batch_size: int = 2000,
) -> None:
    """Ingest time-ordered `events` in batches, then run the clock to `end`.

    After each batch the virtual clock moves to the batch's last event (timers
    due by then fire at their own times). A batch is also cut where
    `schedule`'s next run falls, so segments are recomputed at their time and
    journeys entered on a segment see the customers who joined it.
    `on_batch` is told each batch's size (for a progress bar).
    """
    for chunk, until in _chunks(events, schedule, batch_size):
        engine.ingest(chunk)
        engine.advance_to(until)
        if schedule is not None:
            schedule.tick(until)
        if on_batch is not None:
            on_batch(len(chunk))
    engine.advance_to(end)


def _chunks(
    events: Sequence[dict[str, Any]], schedule: SegmentSchedule | None, size: int
) -> Iterator[tuple[list[dict[str, Any]], datetime]]:
    """Batches of events in time order, cut at the schedule's next run, each with
    the moment the clock moves to after it."""
    chunk: list[dict[str, Any]] = []
    last = datetime.min.replace(tzinfo=timezone.utc)
    for event in events:
        when = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        boundary = schedule.next_at if schedule is not None else None
        if chunk and (len(chunk) >= size or (boundary is not None and when >= boundary)):
            yield chunk, boundary if boundary is not None and when >= boundary else last
            chunk = []
        chunk.append(event)
        last = when
    if chunk:
        yield chunk, last
