"""Replaying rejected events: the kept rows whose events now pass.

A rejected event is kept with its raw text (`store/deadletter.py`). Once its
cause is fixed (a clock that was fast has caught up, a journey now accepts
it, the database now takes it), replaying reads the raw text again exactly as
ingest read it, checks it again, and applies the events that pass, in the
order they first came; their rows are removed. The others stay, and the
report says why each still fails. A row whose raw text was cut when kept
cannot be replayed and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from journeyflow.events.lines import read_line
from journeyflow.runtime.engine import Engine
from journeyflow.store.deadletter import MAX_RAW_BYTES, RejectedEvent

PAGE = 500  # rows read, replayed and removed at a time


@dataclass
class ReplayReport:
    found: int = 0  # kept rows replayed (with the ids asked for)
    applied: int = 0
    duplicates: int = 0  # applied before (the same messageId), so removed too
    still_rejected: list[tuple[RejectedEvent, str]] = field(default_factory=list)


Translate = Callable[[Any], Any]
"""What a source's kept JSON becomes before it is checked again (the HTTP
ingest keeps a `page` call as sent; the engine takes it as a track event)."""


def replay_rejected(
    engine: Engine,
    ids: Collection[int] | None = None,
    *,
    translate: Mapping[str, Translate] | None = None,
) -> ReplayReport:
    """Replay the kept rejections with these ids (None: all of them); rows of a
    source named in `translate` go through its function first."""
    report = ReplayReport()
    after = 0
    while True:
        page = engine.store.rejected_events(after=after, limit=PAGE, ids=ids)
        if not page:
            return report
        after = page[-1].id or after
        report.found += len(page)
        whole = []
        for entry in page:
            if entry.raw_truncated:
                report.still_rejected.append(
                    (entry, f"its raw text was cut at {MAX_RAW_BYTES // 1024} KiB when kept")
                )
            else:
                whole.append(entry)
        lines = [_line(e, translate or {}) for e in whole]
        result = engine.ingest(lines, dead_letter=False)
        failed = {r.index: r.reason for r in result.rejected}
        report.applied += result.accepted
        report.duplicates += result.duplicates
        report.still_rejected += [(whole[i], reason) for i, reason in sorted(failed.items())]
        engine.store.forget_rejected(
            [e.id for i, e in enumerate(whole) if i not in failed and e.id is not None]
        )


def _line(entry: RejectedEvent, translate: Mapping[str, Translate]) -> Any:
    line = read_line(entry.raw, entry.line or 1)
    into = translate.get(entry.source)
    if into is None or line.problem is not None:
        return line
    return replace(line, value=into(line.value))
