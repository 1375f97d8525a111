"""Rejected events, kept: the dead-letter table's record, its bounds, and the
part of the store that holds it (`DeadLetters`; in memory, `MemoryDeadLetters`;
in SQL, `sql/rejected.py`).

Every event the engine refuses (a bad line, an invalid call, one the database
would not take) is kept with its reason, where it came from, when it came and
its raw text, so it can be read (`journeyflow rejected list`), fixed at the
source and replayed (`journeyflow rejected replay`). The table is bounded:
raw text past `MAX_RAW_BYTES` is cut (and marked so), and past the engine's
row limit the oldest rows go first, the number dropped reported.

Keeping the same rejection twice (a file ingested again after a crash or a
fix) keeps one row: rows are unique by a fingerprint of source, line and raw
bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from journeyflow.events.lines import Line

MAX_RAW_BYTES = 64 * 1024  # of an event's raw text kept; longer is cut and marked
MAX_REASON_CHARS = 2000
DEFAULT_KEEP = 100_000  # rows kept; the oldest go first (Engine(keep_rejected=...))


@dataclass(frozen=True)
class RejectedEvent:
    """One refused event, as kept."""

    source: str  # "api", or the file it was read from ("<stdin>")
    line: int | None  # its line in `source`, for a file
    kind: str  # events.Kind: what is wrong, in one word
    reason: str
    received_at: datetime  # by the engine's clock
    raw: bytes  # as received (a file's line; an API call as JSON), at most MAX_RAW_BYTES
    raw_truncated: bool
    fingerprint: str  # source, line and the whole raw text: the same rejection is kept once
    id: int | None = None  # once kept: its place in arrival order

    @property
    def where(self) -> str:
        return self.source if self.line is None else f"{self.source}:{self.line}"

    def raw_text(self) -> str:
        """The raw bytes as text; bytes that are not UTF-8 shown as \\xNN."""
        return self.raw.decode("utf-8", errors="backslashreplace")


def rejected_event(
    *,
    source: str,
    line: int | None,
    kind: str,
    reason: str,
    received_at: datetime,
    raw: bytes,
) -> RejectedEvent:
    """The row for a refused event: raw text cut to its bound, the reason made
    safe for any database (no NUL, no lone surrogate: both are among the
    reasons an event is refused)."""
    digest = hashlib.sha256()
    for part in (source.encode("utf-8", "backslashreplace"), str(line).encode(), raw):
        digest.update(len(part).to_bytes(8, "big") + part)
    return RejectedEvent(
        source=_safe(source),
        line=line,
        kind=kind,
        reason=_safe(reason)[:MAX_REASON_CHARS],
        received_at=received_at,
        raw=raw[:MAX_RAW_BYTES],
        raw_truncated=len(raw) > MAX_RAW_BYTES,
        fingerprint=digest.hexdigest(),
    )


def raw_bytes(item: Any) -> bytes:
    """What is kept of a refused input: a file's line as read; anything else
    (an API call) as JSON, ASCII-only so any lone surrogate stays an escape.
    A value JSON cannot write (nested past Python's recursion limit, an
    integer of thousands of digits, a cycle) is kept as a note saying so."""
    if isinstance(item, Line):
        return item.text
    try:
        return json.dumps(item, ensure_ascii=True, default=str).encode("ascii")
    except (ValueError, TypeError, RecursionError) as exc:
        return f"<a {type(item).__name__} JSON cannot write: {type(exc).__name__}>".encode()


def _safe(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


class DeadLetters(Protocol):
    """The store's part that keeps rejected events."""

    def keep_rejected(self, entries: Sequence[RejectedEvent], limit: int) -> int:
        """Keep these (one already kept, same fingerprint, is not kept again),
        then drop the oldest rows past `limit`; how many were dropped."""
        ...

    def rejected_events(
        self,
        *,
        after: int = 0,
        limit: int | None = None,
        offset: int = 0,
        ids: Collection[int] | None = None,
    ) -> list[RejectedEvent]:
        """Kept rejections oldest first: those with an id above `after` (a
        cursor), or only `ids`; a page of `limit` from `offset`."""
        ...

    def count_rejected(self) -> int: ...

    def forget_rejected(self, ids: Collection[int]) -> int:
        """Remove these rows (replayed, or purged); how many there were."""
        ...

    def purge_rejected(self, before: datetime | None = None) -> int:
        """Remove the rows received before `before` (None: every row); how many."""
        ...


class MemoryDeadLetters:
    """`DeadLetters` in a dict, for the memory store."""

    def __init__(self) -> None:
        self.rejected: dict[int, RejectedEvent] = {}  # by id, oldest first
        self._fingerprints: set[str] = set()
        self._next_rejected = 1

    def keep_rejected(self, entries: Sequence[RejectedEvent], limit: int) -> int:
        for entry in entries:
            if entry.fingerprint in self._fingerprints:
                continue
            self._fingerprints.add(entry.fingerprint)
            self.rejected[self._next_rejected] = replace(entry, id=self._next_rejected)
            self._next_rejected += 1
        dropped = 0
        while len(self.rejected) > max(limit, 0):
            oldest = next(iter(self.rejected))
            self._fingerprints.discard(self.rejected.pop(oldest).fingerprint)
            dropped += 1
        return dropped

    def rejected_events(
        self,
        *,
        after: int = 0,
        limit: int | None = None,
        offset: int = 0,
        ids: Collection[int] | None = None,
    ) -> list[RejectedEvent]:
        found = [e for i, e in self.rejected.items() if i > after and (ids is None or i in ids)]
        return found[offset : None if limit is None else offset + limit]

    def count_rejected(self) -> int:
        return len(self.rejected)

    def forget_rejected(self, ids: Collection[int]) -> int:
        gone = [self.rejected.pop(i) for i in list(ids) if i in self.rejected]
        for entry in gone:
            self._fingerprints.discard(entry.fingerprint)
        return len(gone)

    def purge_rejected(self, before: datetime | None = None) -> int:
        ids = [i for i, e in self.rejected.items() if before is None or e.received_at < before]
        return self.forget_rejected(ids)
