"""What every unit of work does the same way: hand out the records it loaded,
collect what the engine adds until commit, and end as a context manager.

A store's unit of work subclasses `LoadedRecords`, fills `_customers` and
`_enrolments` in its own `load` (from a dict, a cache, or SQL), writes
`_events`, `_history` and `_effects` in its own `commit`, and sets `_ended`
in its `commit` and `rollback`, so that leaving a `with` block does not end
it a second time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from types import TracebackType
from typing import Self

from journeyflow.events import Event
from journeyflow.store.records import CustomerRecord, Effect, EnrolmentRecord, HistoryRecord

_ordinal_lock = threading.Lock()
_last_ordinal = 0


def next_ordinal() -> int:
    """A number larger than every one this process handed out before, close to
    the wall clock in nanoseconds, so effects produced at one instant sort in
    the order they were produced, also across units of work and (as far as
    hosts' clocks agree) processes."""
    global _last_ordinal
    with _ordinal_lock:
        _last_ordinal = max(_last_ordinal + 1, time.time_ns())
        return _last_ordinal


class LoadedRecords:
    def __init__(self) -> None:
        self._customers: dict[str, CustomerRecord] = {}
        self._enrolments: dict[str, list[EnrolmentRecord]] = {}
        self._events: list[Event] = []
        self._history: list[HistoryRecord] = []
        self._effects: list[Effect] = []
        self._ended = False  # committed or rolled back

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._ended:
            return
        if exc_type is not None:
            self.rollback()
            return
        try:
            self.commit()
        except BaseException:
            self.rollback()  # what commit left behind (the SQL store's is already undone)
            raise

    def load(self, customer_ids: Iterable[str]) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def rollback(self) -> None:
        raise NotImplementedError

    def customer(self, customer_id: str) -> CustomerRecord:
        if customer_id not in self._customers:
            self.load([customer_id])
        return self._customers[customer_id]

    def enrolments(self, customer_id: str) -> list[EnrolmentRecord]:
        if customer_id not in self._enrolments:
            self.load([customer_id])
        return self._enrolments[customer_id]

    def add_enrolment(self, enrolment: EnrolmentRecord) -> None:
        listing = self.enrolments(enrolment.customer_id)
        if not any(e is enrolment for e in listing):
            listing.append(enrolment)

    def add_event(self, event: Event) -> None:
        self._events.append(event)

    def add_history(self, record: HistoryRecord) -> None:
        self._history.append(record)

    def add_effect(self, effect: Effect) -> None:
        if effect.ordinal == 0:
            effect = replace(effect, ordinal=next_ordinal())
        self._effects.append(effect)

    def _worth_storing(self, record: CustomerRecord, with_events: set[str]) -> bool:
        """Whether a customer not stored before is stored on commit: one that
        was only looked up (a timer check, a segment recompute that left it
        outside every segment) is not; one with an event, an enrolment, a trait
        or a segment is. Both stores decide it here, so they agree."""
        return bool(
            record.id in with_events
            or self._enrolments[record.id]
            or record.attributes
            or record.segments
        )
