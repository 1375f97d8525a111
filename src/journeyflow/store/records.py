"""Plain records the engine reads and writes through a unit of work.

They are mutable on purpose: the engine changes them in place during one unit
of work, and the store writes what changed when it commits.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from journeyflow.types import Effect


def effect_order(effect: Effect) -> tuple[datetime, int, str, int, int]:
    """The order effects are listed and claimed in (`tables.OUTBOX_ORDER`,
    for the memory store): time, then the order the engine produced them in."""
    return (effect.created_at, effect.ordinal, effect.enrolment_id, effect.seq, effect.action)


__all__ = ["CustomerRecord", "Effect", "EnrolmentRecord", "HistoryRecord"]


@dataclass
class CustomerRecord:
    id: str
    attributes: dict[str, Any] = field(default_factory=dict)
    segments: list[str] = field(default_factory=list)
    created_at: datetime | None = None


@dataclass
class EnrolmentRecord:
    """One customer's run through one journey version (per key, when keyed).

    Its fields are the `enrolments` table's columns, one for one (the table adds
    `next_due_at`, derived): the SQL store's rows follow from this list.
    """

    id: str  # deterministic: journey/customer/key#ordinal
    customer_id: str
    journey: str
    version: int
    key: str | None
    ordinal: int  # 1 for the first enrolment of (customer, journey, key)
    state: str
    entered_at: datetime
    started_at: datetime
    status: str = "active"  # active | completed | exited | converted
    ended_at: datetime | None = None
    end_reason: str | None = None
    in_holdout: bool = False
    seq: int = 0  # transitions applied so far; part of every effect key
    timers: list[tuple[int, datetime]] = field(default_factory=list)  # (transition index, due)
    # the customer's n-th enrolment (0-based): the order events reach enrolments
    # in, and the tie-break between timers due at the same instant
    position: int = 0
    # The enrolment context (CEL's `trigger`, `enrolment.vars`, `state.visits`).
    # The engine replaces these maps when they change, never changes them in
    # place: the SQL store finds a changed enrolment by comparing its fields
    # with a snapshot that holds the maps it was read with.
    # the event that created the enrolment as JSON (name, type, properties,
    # traits, ISO timestamp); None for enrolments from before it was kept
    trigger: dict[str, Any] | None = None
    vars: dict[str, Any] = field(default_factory=dict)  # the `vars:` action's values
    visits: dict[str, int] = field(default_factory=dict)  # state -> times entered

    @property
    def state_visits(self) -> int:
        """How many times this enrolment has entered its current state (at least 1)."""
        return self.visits.get(self.state) or 1

    def __deepcopy__(self, memo: dict[int, Any]) -> EnrolmentRecord:
        """A copy that changes apart from this record (the memory store keeps
        one per unit of work), made field by field: the generic deepcopy of a
        dataclass cost the memory store a tenth of its speed. `trigger` is
        shared: it is never changed after the enrolment starts."""
        copied = object.__new__(EnrolmentRecord)
        copied.__dict__.update(self.__dict__)
        copied.timers = list(self.timers)  # tuples of an int and a datetime
        copied.vars = copy.deepcopy(self.vars, memo) if self.vars else {}  # JSON, at any depth
        copied.visits = dict(self.visits)
        return copied

    @property
    def next_due_at(self) -> datetime | None:
        return min((due for _, due in self.timers), default=None)

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class HistoryRecord:
    """A line of a customer's history: a transition, an entry, an end, or an error."""

    enrolment_id: str
    customer_id: str
    journey: str
    seq: int
    kind: str  # enter | transition | exit | complete | error | migrate
    from_state: str | None
    to_state: str | None
    cause: str  # "event:order_completed", "timer:after 120d", "split", ...
    at: datetime
    detail: str | None = None
