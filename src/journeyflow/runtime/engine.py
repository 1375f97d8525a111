"""The engine: moves customers through journeys on events and timers.

Customer state lives in the store; the engine keeps only compiled journeys.
Work happens in units of work (a batch of events, or a batch of customers with
due timers), each committed atomically with its history and outbox rows, so a
crash loses at most an uncommitted batch and a re-run applies it exactly once
(events are deduplicated by messageId). One customer's events are applied one
at a time, in arrival order; `semantics.py` holds the per-customer semantics,
which see the engine only through its `Rules`. After each commit, listeners
hear what happened (`Notification`: transitions taken, enrolments ended).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

import structlog

from journeyflow.clock import Clock, SystemClock, VirtualClock, as_utc
from journeyflow.definition.loader import LoadedJourney, load_text
from journeyflow.events import Event, Invalid, Kind, check_event
from journeyflow.events.limits import DEFAULT_CLOCK_SKEW
from journeyflow.events.lines import Line
from journeyflow.exceptions import JourneyVersionError
from journeyflow.runtime.gcpause import gc_paused
from journeyflow.runtime.machine import JourneyMachine
from journeyflow.runtime.semantics import MAX_STEPS_PER_TIMERS, CustomerRun, Notification, Rules
from journeyflow.store import MemoryStore, Store, driver_reason
from journeyflow.store.deadletter import DEFAULT_KEEP, raw_bytes, rejected_event
from journeyflow.store.faults import stops_everything
from journeyflow.store.records import CustomerRecord, Effect, EnrolmentRecord, HistoryRecord

log = structlog.get_logger("journeyflow.runtime.engine")


@dataclass
class Rejected:
    index: int  # 0-based position in the input
    reason: str
    raw: Any = None  # the input as given (a file's `Line` only until it is kept)
    kind: str = ""  # events.Kind: what is wrong, in one word
    line: int | None = None  # the line of the file it came from


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    dropped: int = 0  # the oldest kept rejections dropped to hold the table to its limit

    def merge(self, other: IngestReport) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.extend(other.rejected)
        self.dropped += other.dropped

    def rejected_by_kind(self) -> dict[str, int]:
        """How many were rejected for each kind of reason, most first."""
        return dict(Counter(r.kind for r in self.rejected).most_common())


Listener = Callable[[Notification], None]
"""Called with each notification after its unit of work commits; an exception
it raises is logged and never stops the engine."""


class Engine:
    """Runs loaded journeys against a store on a clock.

    :param journeys: loaded journey files (`loader.load_paths`); the newest
        version of each takes new enrolments
    :param store: where customers stand (default: a fresh in-memory store)
    :param clock: the time source (default: the system clock)
    :param batch_size: events (or customers with due timers) per transaction
    :param functions: extra CEL functions (the plugins' ones), by name
    :param listeners: told of every transition taken and enrolment ended, after
        commit (`Listener`; the plugins' observer hooks, journey-test coverage)
    :param max_emit_depth: how long a chain of emitted events may grow
    :param pause_gc: pause Python's cyclic garbage collector during each unit of
        work (`gcpause.py`: about a fifth of the time per event)
    :param max_clock_skew: refuse events dated further than this ahead of the
        clock (None: no limit); a `VirtualClock` is never held to it, since
        there the events are what time follows (docs/semantics.md)
    :param keep_rejected: how many rejected events the store keeps (the oldest
        go first)
    """

    def __init__(
        self,
        journeys: Sequence[LoadedJourney],
        store: Store | None = None,
        clock: Clock | None = None,
        *,
        batch_size: int = 1000,
        functions: dict[str, Callable[..., Any]] | None = None,
        listeners: Sequence[Listener] = (),
        max_emit_depth: int = 8,
        pause_gc: bool = True,
        max_clock_skew: timedelta | None = DEFAULT_CLOCK_SKEW,
        keep_rejected: int = DEFAULT_KEEP,
    ) -> None:
        self.store: Store = store if store is not None else MemoryStore()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.batch_size = batch_size
        self.functions = dict(functions or {})
        self.listeners = list(listeners)
        self.pause_gc = pause_gc
        self.max_clock_skew = max_clock_skew
        self.keep_rejected = keep_rejected
        self._machines: dict[tuple[str, int], JourneyMachine] = {}
        self.current: dict[str, JourneyMachine] = {}
        for loaded in sorted(journeys, key=lambda lj: (lj.journey.journey, lj.journey.version)):
            self._register(loaded)
        self.rules = Rules(
            journeys=tuple(self.current[name] for name in sorted(self.current)),
            machine=self.machine,
            functions=self.functions or None,
            max_emit_depth=max_emit_depth,
        )

    @property
    def max_emit_depth(self) -> int:
        return self.rules.max_emit_depth

    # --- journeys and versions ---------------------------------------------

    def _register(self, loaded: LoadedJourney) -> None:
        j = loaded.journey
        stored = self.store.journey_version(j.journey, j.version)
        if stored is not None and stored[0] != loaded.content_hash:
            raise JourneyVersionError(
                f"{loaded.path}: journey {j.journey!r} version {j.version} changed "
                f"(stored content {stored[0][:12]}, this file {loaded.content_hash[:12]}) "
                f"without a version bump; set `version: {j.version + 1}` and, if customers "
                "are in flight, add a `migrations:` entry"
            )
        if stored is None:
            self.store.save_journey_version(
                j.journey, j.version, loaded.content_hash, loaded.source
            )
        machine = JourneyMachine(j, loaded.content_hash, frozenset(self.functions))
        self._machines[(j.journey, j.version)] = machine
        if j.journey not in self.current or self.current[j.journey].version < j.version:
            self.current[j.journey] = machine

    def machine(self, journey: str, version: int) -> JourneyMachine:
        """The compiled journey version; older versions come from the store."""
        found = self._machines.get((journey, version))
        if found is None:
            stored = self.store.journey_version(journey, version)
            if stored is None:
                raise JourneyVersionError(f"journey {journey!r} version {version} is unknown")
            loaded = load_text(stored[1], f"<stored {journey} v{version}>")
            found = JourneyMachine(loaded.journey, stored[0], frozenset(self.functions))
            self._machines[(journey, version)] = found
        return found

    # --- ingest ------------------------------------------------------------

    def ingest(
        self,
        raws: Iterable[Any],
        *,
        source: str = "api",
        on_batch: Callable[[int], None] | None = None,
        dead_letter: bool = True,
    ) -> IngestReport:
        """Apply Segment-style events in order: raw dicts, or a file's `Line`s.

        Each event is accepted or rejected on its own (`events.check_event`),
        never stopping the others; repeated messageIds are ignored. An event
        the store still cannot take is found and rejected, the rest of its
        batch applied (`_apply_isolating`). Rejected events are kept in the
        store's dead-letter table with their reason, `source` and line,
        unless `dead_letter` is false (a replay of rows kept already).
        """
        report = IngestReport()
        offset = 0
        for chunk in _chunks(raws, self.batch_size):
            with gc_paused(self.pause_gc):
                report.merge(self._ingest_chunk(chunk, offset, source, dead_letter))
            offset += len(chunk)
            if on_batch is not None:
                on_batch(len(chunk))
        return report

    def _ingest_chunk(
        self, chunk: list[Any], offset: int, source: str, dead_letter: bool
    ) -> IngestReport:
        report = IngestReport()
        valid: list[tuple[int, Any, Event]] = []
        now = self.clock.now()
        max_ahead = self._max_ahead()
        for i, item in enumerate(chunk, offset):
            checked = _check(item, now, max_ahead)
            if isinstance(checked, Invalid):
                report.rejected.append(_rejected(i, item, checked.kind, checked.reason))
            else:
                valid.append((i, item, checked))
        self._apply_isolating(valid, report)
        report.rejected.sort(key=lambda r: r.index)
        for rejected in report.rejected:
            log.info("event rejected", index=rejected.index, reason=rejected.reason)
        if dead_letter and report.rejected:
            entries = [
                rejected_event(
                    source=source,
                    line=r.line,
                    kind=r.kind,
                    reason=r.reason,
                    received_at=now,
                    raw=raw_bytes(r.raw),
                )
                for r in report.rejected
            ]
            report.dropped = self.store.keep_rejected(entries, self.keep_rejected)
            if report.dropped:
                log.warning(
                    "oldest rejected events dropped",
                    dropped=report.dropped,
                    kept=self.keep_rejected,
                )
            for rejected in report.rejected:
                if isinstance(rejected.raw, Line):
                    rejected.raw = None  # kept in the table; a file's lines go with their batch
        return report

    def _max_ahead(self) -> timedelta | None:
        """How far ahead of the clock an event may be dated. A virtual clock is
        moved by whoever runs it (simulations, backtests, journey tests) after
        the events it is fed, so it cannot say an event is early."""
        return None if isinstance(self.clock, VirtualClock) else self.max_clock_skew

    def _apply_isolating(self, valid: list[tuple[int, Any, Event]], report: IngestReport) -> None:
        """Apply the events in one unit of work; should it fail for something one
        event can cause (a value the database refuses, a timer that cannot be
        set), apply each half on its own, down to the event at fault, which is
        rejected with the reason. Left half first, so order is kept. A failure
        any batch would meet (`store.faults`) is raised: nothing of this batch
        is committed, and a re-run applies it."""
        parts = [valid]
        while parts:
            part = parts.pop()
            if not part:
                continue
            try:
                report.merge(self._apply([event for _, _, event in part]))
            except Exception as exc:
                if stops_everything(exc):
                    raise
                if len(part) > 1:
                    middle = len(part) // 2
                    parts += [part[middle:], part[:middle]]
                    continue
                index, item, _ = part[0]
                reason = f"the event could not be applied: {_failure(exc)}"
                # a warning in one line; the traceback (for a bug of ours) at debug level
                log.warning("event not stored", index=index, error=_failure(exc))
                log.debug("event not stored: where it failed", index=index, exc_info=True)
                report.rejected.append(_rejected(index, item, Kind.NOT_STORED, reason))

    def _apply(self, events: list[Event]) -> IngestReport:
        """One unit of work: the events' customers moved, the events stored."""
        report = IngestReport()
        notes = self._notes()
        with self.store.unit_of_work() as uow:
            # load (and so claim) the customers first, then ask which messages
            # are stored: a process that held them meanwhile has committed its own
            uow.load(dict.fromkeys(e.customer_id for e in events))
            seen = uow.seen_messages([e.message_id for e in events])
            for event in events:
                if event.message_id in seen:
                    report.duplicates += 1
                    continue
                seen.add(event.message_id)
                run = CustomerRun(self.rules, uow, event.customer_id, notes)
                run.fire_due(event.timestamp, inclusive=False)
                run.handle(event)
                run.fire_due(event.timestamp, inclusive=True)
                uow.add_event(event)
                report.accepted += 1
        self._notify(notes)
        return report

    # --- timers ------------------------------------------------------------

    def advance_to(self, moment: datetime) -> int:
        """Move a virtual clock to `moment` and fire every timer due by then, each
        at its own due time; with a real clock, fire what is due now."""
        moment = as_utc(moment)
        if isinstance(self.clock, VirtualClock):
            self.clock.set(moment)
        fired = 0
        while True:
            with gc_paused(self.pause_gc):
                batch = self._fire_due_batch(moment)
            if batch is None:
                break
            fired += batch
        return fired

    def _fire_due_batch(self, moment: datetime) -> int | None:
        """One unit of work of due timers; None when nothing is due.

        A unit takes at most about MAX_STEPS_PER_TIMERS steps (twice that at
        worst): a customer with more timers due pauses there, and the customers
        after it wait for the next unit; what is still due stays due, so
        `advance_to` comes back for it. Memory stays flat however short a
        journey's timers are."""
        fired = 0
        steps = 0
        notes = self._notes()
        with self.store.unit_of_work() as uow:
            due = uow.due_customers(moment, self.batch_size)
            if not due:
                uow.rollback()
                return None
            uow.load(due)
            for cid in due:
                if steps >= MAX_STEPS_PER_TIMERS:
                    break
                run = CustomerRun(self.rules, uow, cid, notes)
                fired += run.fire_due(moment, inclusive=True, pause_at=MAX_STEPS_PER_TIMERS)
                steps += run.steps
        self._notify(notes)
        return fired

    def run_due(self) -> int:
        """Fire the timers due at the clock's now."""
        return self.advance_to(self.clock.now())

    # --- segments ----------------------------------------------------------

    def set_segments(
        self, customer_id: str, segments: Iterable[str], at: datetime | None = None
    ) -> None:
        """Record a customer's segments; entering one is an event journeys enter on."""
        wanted = set(segments)
        self.replace_segments({customer_id: wanted}, owned=("",), at=at)

    def replace_segments(
        self,
        desired: Mapping[str, set[str]],
        *,
        owned: tuple[str, ...],
        at: datetime | None = None,
    ) -> dict[str, tuple[list[str], list[str]]]:
        """Set, for many customers in one unit of work, the segments whose names
        start with one of `owned` (a segmenter's `rfm:`), keeping the others;
        entering a segment is an event journeys enter on.

        :return: customer -> (segments before, segments after)
        """
        at = as_utc(at) if at is not None else self.clock.now()
        with gc_paused(self.pause_gc):
            return self._replace_segments(desired, owned, at)

    def _replace_segments(
        self, desired: Mapping[str, set[str]], owned: tuple[str, ...], at: datetime
    ) -> dict[str, tuple[list[str], list[str]]]:
        changes: dict[str, tuple[list[str], list[str]]] = {}
        notes = self._notes()
        with self.store.unit_of_work() as uow:
            uow.load(desired)
            for customer_id, wanted in desired.items():
                run = CustomerRun(self.rules, uow, customer_id, notes)
                before = list(run.customer.segments)
                kept = [s for s in before if not s.startswith(owned)]
                after = sorted(set(kept) | set(wanted))
                if after != sorted(before):
                    run.fire_due(at, inclusive=False)
                    run.set_segments(after, at)
                    run.fire_due(at, inclusive=True)
                    changes[customer_id] = (before, after)
        self._notify(notes)
        return changes

    # --- internals ---------------------------------------------------------

    def _notes(self) -> list[Notification] | None:
        """Where one unit of work's runs put what listeners are told; None when
        nobody listens, so nothing is copied for them."""
        return [] if self.listeners else None

    def _notify(self, notes: list[Notification] | None) -> None:
        for note in notes or ():
            for listener in self.listeners:
                try:
                    listener(note)
                except Exception:  # a listener must never stop the engine
                    log.exception("listener failed", listener=repr(listener))

    # --- queries -----------------------------------------------------------

    def customer(self, customer_id: str) -> CustomerRecord | None:
        return self.store.get_customer(customer_id)

    def enrolments(
        self, customer_id: str | None = None, journey: str | None = None
    ) -> list[EnrolmentRecord]:
        return self.store.get_enrolments(customer_id, journey)

    def history(
        self, customer_id: str | None = None, journey: str | None = None
    ) -> list[HistoryRecord]:
        return self.store.get_history(customer_id, journey)

    def effects(self, customer_id: str | None = None, status: str | None = None) -> list[Effect]:
        return self.store.get_effects(customer_id, status)

    def pending_effects(self, customer_id: str | None = None) -> list[Effect]:
        return self.store.get_effects(customer_id, "pending")


def _check(item: Any, now: datetime, max_ahead: timedelta | None) -> Event | Invalid:
    """An input's event, or why it has none: a file's line may have failed to
    read before there was anything to check."""
    if isinstance(item, Line):
        if item.problem is not None:
            return item.problem
        item = item.value
    return check_event(item, now, max_ahead=max_ahead)


def _rejected(index: int, item: Any, kind: str, reason: str) -> Rejected:
    return Rejected(index, reason, item, kind, item.number if isinstance(item, Line) else None)


def _failure(exc: Exception) -> str:
    """An error in one line: the database driver's own words when it has them."""
    return f"{type(getattr(exc, 'orig', None) or exc).__name__}: {driver_reason(exc)}"


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk
