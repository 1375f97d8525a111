"""`replay: FILE`: every event of a JSON-lines file, applied exactly as that
many `event:` steps would be.

A recorded clickstream has tens of thousands of events: written as YAML steps
it would make a test file too big to read safely (and slow: three quarters of
a run went to parsing YAML). So the events live in a data file (`.jsonl`, or
`.jsonl.gz`), one Segment call per line, and are streamed: read a line at a
time with orjson (`events.lines`, the reader `journeyflow ingest` uses), never
held whole, each checked by `events.check_event` as any way in checks it.

"Exactly as event steps": each event moves the virtual clock to its
timestamp, firing the timers due before it; it is then applied, then the
timers due at its very instant (events before timers). Applying the events a
thousand at a time gives the same result, because a timer only ever moves its
own customer and the engine fires a customer's due timers before applying
that customer's next event (`Engine._apply`): each customer sees the same
moves at the same instants. The file must be in time order (tests only move
time forward); a line that is not an event stops the test with its line
number and the reason.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from journeyflow.clock import VirtualClock
from journeyflow.events import Invalid, check_event
from journeyflow.events.lines import read_lines
from journeyflow.testing.journeytest.collecting import JourneyTestError
from journeyflow.testing.journeytest.formatting import fmt_time
from journeyflow.testing.journeytest.timeline import Timeline

if TYPE_CHECKING:
    from journeyflow.runtime.engine import Engine

BATCH = 10_000  # events per call into the engine (one unit of work each)
_TICK = timedelta(microseconds=1)


@contextmanager
def open_replay(folder: Path, name: str) -> Iterator[IO[bytes]]:
    """The file `name` (relative to `folder`) as bytes, gunzipped for `.gz`;
    a file that cannot be opened or decompressed is a test error."""
    path = folder / name
    try:
        raw = path.open("rb")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise JourneyTestError(f"replay {name}: cannot open {path.as_posix()}: {reason}") from None
    stream: IO[bytes] = (
        cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")) if name.endswith(".gz") else raw
    )
    try:
        yield stream
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise JourneyTestError(f"replay {name}: cannot read the file: {exc}") from None
    finally:
        stream.close()
        raw.close()


def first_timestamp(folder: Path, name: str) -> datetime | None:
    """The first event's timestamp, where a test starts its clock (None when
    the file, or its first event, has none: the step itself says why)."""
    try:
        with open_replay(folder, name) as stream:
            for line in read_lines(stream):
                value = line.value
                if not isinstance(value, dict) or "timestamp" not in value:
                    return None
                raw = {"type": "track", **value}
                checked = check_event(raw, datetime.now(UTC))
                return None if isinstance(checked, Invalid) else checked.timestamp
    except JourneyTestError:
        pass
    return None


def replay_events(
    engine: Engine,
    clock: VirtualClock,
    stream: IO[bytes],
    name: str,
    message_prefix: str,
    timeline: Timeline,
) -> int:
    """Apply every event of `stream`; return how many. A line without a
    `messageId` gets `<message_prefix>-<line>`, as an event step gets its own."""
    batch: list[dict[str, Any]] = []
    numbers: list[int] = []  # the line of each event of the batch
    now = clock.now()
    applied = 0

    def flush(until: datetime) -> None:
        """Apply the batch, then fire the timers due up to `until` (its last
        event's instant) that no later event of their customer fired."""
        if not batch:
            return
        first = datetime.fromisoformat(batch[0]["timestamp"])
        if first > clock.now():
            engine.advance_to(first - _TICK)  # timers due before the first event
            clock.set(first)
        report = engine.ingest(batch, dead_letter=False)
        if report.rejected:
            bad = report.rejected[0]
            raise JourneyTestError(
                f"{name}:{numbers[bad.index]}: the engine rejected the event: {bad.reason}"
            )
        engine.advance_to(until)
        batch.clear()
        numbers.clear()

    for line in read_lines(stream):
        where = f"{name}:{line.number}"
        if line.problem is not None:
            raise JourneyTestError(f"{where}: {line.problem.reason}")
        raw = line.value
        if isinstance(raw, dict):
            if "event" in raw:
                raw.setdefault("type", "track")
            raw.setdefault("messageId", f"{message_prefix}-{line.number}")
        event = check_event(raw, now)
        if isinstance(event, Invalid):
            raise JourneyTestError(f"{where}: the event is not valid: {event.reason}")
        if event.timestamp < now:
            raise JourneyTestError(
                f"{where}: the event's timestamp {fmt_time(event.timestamp)} is before the "
                f"virtual now {fmt_time(now)}: a replayed file must be in time order, and "
                "start at or after the steps before it"
            )
        now = event.timestamp
        raw["timestamp"] = now.isoformat()
        batch.append(raw)
        numbers.append(line.number)
        timeline.event(now, event.customer_id, event.name)
        applied += 1
        if len(batch) >= BATCH:
            flush(now)
    flush(now)
    return applied
