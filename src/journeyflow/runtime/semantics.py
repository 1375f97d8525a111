"""One customer's turn: the journey semantics of JOURNEY_DSL.md, applied to one
customer inside one unit of work.

Order of work for an event, per journey (journeys in id order):
1. exit rules, on every active enrolment the event reaches;
2. entry (with the re-entry rule); the enrolling event is not applied again;
3. the first matching transition of each reached enrolment.
Events emitted by actions are queued and applied after the event that caused
them, at the same time, before the next outside event; timers due at the same
instant fire after events.
"""

from __future__ import annotations

import copy
import hashlib
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from journeyflow.definition import dsl
from journeyflow.definition.cel import Expression, Scope, is_valid_zone
from journeyflow.events import Event
from journeyflow.exceptions import ExpressionError
from journeyflow.runtime.machine import (
    CompiledAction,
    CompiledTransition,
    JourneyMachine,
    choose_branch,
    stable_bucket,
)
from journeyflow.store.records import Effect, EnrolmentRecord, HistoryRecord

if TYPE_CHECKING:
    from journeyflow.runtime.engine import Engine
    from journeyflow.store.base import UnitOfWork

log = structlog.get_logger("journeyflow.runtime.engine")

SEGMENT_ENTERED = "segment_entered"  # internal event: properties.segment = "rfm:champions"
MAX_TIMERS_AT_ONCE = 1000  # timers one customer fires at one instant: only a loop gets there


@dataclass(frozen=True)
class Notification:
    """What listeners (plugin observer hooks) hear about, after commit."""

    kind: str  # "transition" | "enrolment_ended"
    history: HistoryRecord | None = None
    enrolment: EnrolmentRecord | None = None


class CustomerRun:
    def __init__(self, engine: Engine, uow: UnitOfWork, customer_id: str) -> None:
        self.engine = engine
        self.uow = uow
        self.customer = uow.customer(customer_id)
        self.enrolments = uow.enrolments(customer_id)
        self.notifications: list[Notification] = []
        self._queue: deque[tuple[Event, int]] = deque()
        self._splits_in_a_row = 0

    # --- events --------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """Apply an outside event, then every event it causes to be emitted."""
        self.uow.touch(self.customer)
        self._queue.append((event, 0))
        while self._queue:
            current, depth = self._queue.popleft()
            if current.type == "identify" or current.traits:
                self.customer.attributes.update(current.traits)
            for machine in sorted(self.engine.current.values(), key=lambda m: m.id):
                self._route(machine, current, depth)

    def set_segments(self, segments: list[str], at: datetime) -> None:
        entered = [s for s in segments if s not in self.customer.segments]
        self.customer.segments = segments
        self.uow.touch(self.customer)
        for segment in entered:
            digest = hashlib.sha256(f"{self.customer.id}|{segment}|{at.isoformat()}".encode())
            self.handle(
                Event(
                    f"segment-{digest.hexdigest()[:24]}",
                    self.customer.id,
                    "internal",
                    SEGMENT_ENTERED,
                    at,
                    {"segment": segment},
                )
            )

    def _route(self, machine: JourneyMachine, event: Event, depth: int) -> None:
        journey = machine.journey
        mine = [e for e in self.enrolments if e.journey == machine.id]
        key = self._entry_key(machine, event) if journey.entry.key else None
        reached = [e for e in mine if e.active and (key is None or e.key == key)]
        # 1. exit rules, before anything else
        for enrolment in reached:
            self._check_exits(enrolment, event)
        # 2. entry
        fresh: EnrolmentRecord | None = None
        if (
            self._is_entry(machine, event)
            and (not journey.entry.key or key is not None)
            and self._guard(machine.entry_guard, None, event, event.timestamp, machine)
        ):
            same = [e for e in mine if e.key == key]
            active = [e for e in same if e.active]
            if active and journey.entry.reentry == "always":
                for old in active:
                    self._end(old, "exited", "re-entry", event.timestamp)
                fresh = self._enrol(machine, key, len(same) + 1, event, depth)
            elif not active and not (journey.entry.reentry == "never" and same):
                fresh = self._enrol(machine, key, len(same) + 1, event, depth)
        # 3. transitions of the enrolments the event reached
        for enrolment in reached:
            if enrolment.active and enrolment is not fresh:
                self._take_event(enrolment, event, depth)

    def _is_entry(self, machine: JourneyMachine, event: Event) -> bool:
        entry = machine.journey.entry
        if event.name == SEGMENT_ENTERED and event.type == "internal":
            return entry.segment is not None and event.properties.get("segment") == entry.segment
        return event.name in entry.on

    def _entry_key(self, machine: JourneyMachine, event: Event) -> str | None:
        assert machine.entry_key is not None
        try:
            value = machine.entry_key.evaluate(self._scope(machine, None, event, event.timestamp))
        except ExpressionError:
            return None  # no key on this event: it reaches every enrolment, enrols nobody
        return None if value is None else str(value)

    def _check_exits(self, enrolment: EnrolmentRecord, event: Event) -> None:
        machine = self._machine(enrolment)
        for rule in machine.exits:
            if event.name in rule.events and self._guard(
                rule.guard, enrolment, event, event.timestamp, machine
            ):
                status = "converted" if rule.goal else "exited"
                self._end(enrolment, status, f"exit:{event.name}", event.timestamp)
                return

    def _take_event(self, enrolment: EnrolmentRecord, event: Event, depth: int) -> None:
        machine = self._machine(enrolment)
        for transition in machine.candidates(enrolment.state, event.name):
            if self._guard(transition.guard, enrolment, event, event.timestamp, machine):
                self._apply(enrolment, machine, transition, event.timestamp, event, depth)
                return

    # --- timers --------------------------------------------------------------

    def fire_due(self, until: datetime, *, inclusive: bool) -> int:
        """Fire this customer's timers due before (or at) `until`, each at its due
        time, earliest first, including timers those transitions start.

        Ties at one instant go as events do: journeys in id order, then the
        customer's enrolments oldest first, then transitions in file order.
        """
        fired = 0
        instant: datetime | None = None
        at_instant = 0  # timers fired at `instant`: only a loop makes this large
        while True:
            best: tuple[datetime, str, int, int, EnrolmentRecord] | None = None
            for enrolment in self.enrolments:
                if not enrolment.active:
                    continue
                for index, due in enrolment.timers:
                    rank = (due, enrolment.journey, enrolment.position, index)
                    if (due < until or (inclusive and due == until)) and (
                        best is None or rank < best[:4]
                    ):
                        best = (*rank, enrolment)
            if best is None:
                return fired
            due, _, _, index, enrolment = best
            at_instant = at_instant + 1 if due == instant else 1
            instant = due
            if at_instant > MAX_TIMERS_AT_ONCE:
                self._break_loop(due)
                continue
            enrolment.timers = [t for t in enrolment.timers if t[0] != index]
            self.uow.touch(enrolment)
            fired += 1
            machine = self._machine(enrolment)
            compiled = next(t for t in machine.timers_of[enrolment.state] if t.index == index)
            if self._guard(compiled.guard, enrolment, None, due, machine):
                self.uow.touch(self.customer)
                self._apply(enrolment, machine, compiled, due, None, 0)
            self._drain(due)

    def _break_loop(self, instant: datetime) -> None:
        """Timers that keep re-arming at one instant (`after: 0m` back and forth)
        would never let time move: drop them, and say so in the history."""
        for enrolment in self.enrolments:
            if enrolment.active and any(due <= instant for _, due in enrolment.timers):
                enrolment.timers = [t for t in enrolment.timers if t[1] > instant]
                self.uow.touch(enrolment)
                self._note_error(
                    enrolment,
                    instant,
                    f"more than {MAX_TIMERS_AT_ONCE} timers fired at one instant: "
                    "a timer loop; its timers were dropped",
                )

    def _drain(self, at: datetime) -> None:
        while self._queue:
            current, depth = self._queue.popleft()
            for machine in sorted(self.engine.current.values(), key=lambda m: m.id):
                self._route(machine, current, depth)

    # --- moving --------------------------------------------------------------

    def _enrol(
        self, machine: JourneyMachine, key: str | None, ordinal: int, event: Event, depth: int
    ) -> EnrolmentRecord:
        j = machine.journey
        cid = self.customer.id
        rid = (
            f"{j.journey}:{cid}:{ordinal}" if key is None else f"{j.journey}:{cid}:{key}:{ordinal}"
        )
        at = event.timestamp
        enrolment = EnrolmentRecord(
            id=rid,
            customer_id=cid,
            journey=j.journey,
            version=j.version,
            key=key,
            ordinal=ordinal,
            state=j.initial,
            entered_at=at,
            started_at=at,
            in_holdout=j.holdout > 0 and stable_bucket(cid, j.journey, "holdout") < j.holdout,
            position=len(self.enrolments),
        )
        self.uow.add_enrolment(enrolment)  # appends to self.enrolments (the same list)
        self._history(enrolment, "enter", None, j.initial, f"event:{event.name}", at)
        self._enter(enrolment, machine, j.initial, at, event, depth, 0)
        return enrolment

    def _apply(
        self,
        enrolment: EnrolmentRecord,
        machine: JourneyMachine,
        transition: CompiledTransition,
        at: datetime,
        event: Event | None,
        depth: int,
    ) -> None:
        source = enrolment.state
        enrolment.seq += 1
        self.uow.touch(enrolment)
        cause = transition.describe()
        if transition.is_internal:
            self._history(enrolment, "transition", source, source, cause, at, "internal")
            self._actions(enrolment, machine, transition.actions, 0, at, event, depth)
            return
        target = transition.to
        assert target is not None
        index = self._actions(enrolment, machine, machine.on_exit[source], 0, at, event, depth)
        index = self._actions(enrolment, machine, transition.actions, index, at, event, depth)
        self._history(enrolment, "transition", source, target, cause, at)
        self._enter(enrolment, machine, target, at, event, depth, index)

    def _enter(
        self,
        enrolment: EnrolmentRecord,
        machine: JourneyMachine,
        state: str,
        at: datetime,
        event: Event | None,
        depth: int,
        index: int,
    ) -> None:
        enrolment.state = state
        enrolment.entered_at = at
        enrolment.timers = []
        for timer in machine.timers_of[state]:
            due = self._due(timer, enrolment, machine, event, at)
            if due is not None:
                enrolment.timers.append((timer.index, due))
        self._actions(enrolment, machine, machine.on_enter[state], index, at, event, depth)
        if not enrolment.active or enrolment.state != state:
            return  # an emitted event moved or ended it meanwhile
        if machine.is_final(state):
            self._end(enrolment, "completed", f"final:{state}", at)
            return
        split = machine.split_of.get(state)
        if split is not None and split.spec.split is not None:
            if self._splits_in_a_row > len(machine.journey.states):
                # splits leading back to splits for ever: stay, and say so
                self._note_error(enrolment, at, f"split cycle through {state!r}: stopped here")
                return
            self._splits_in_a_row += 1
            bucket = stable_bucket(enrolment.customer_id, machine.id, state)
            branch = choose_branch(split.spec.split, bucket)
            target = CompiledTransition(
                state,
                split.index,
                split.spec.model_copy(update={"to": branch, "split": None, "after": None}),
                None,
                None,
                None,
                split.actions,  # a split's own actions run like any transition's
            )
            try:
                self._apply(enrolment, machine, target, at, event, depth)
            finally:
                self._splits_in_a_row -= 1

    def _due(
        self,
        timer: CompiledTransition,
        enrolment: EnrolmentRecord,
        machine: JourneyMachine,
        event: Event | None,
        at: datetime,
    ) -> datetime | None:
        if timer.after is not None:
            return at + timer.after
        assert timer.at is not None
        try:
            value = timer.at.evaluate(self._scope(machine, enrolment, event, at))
        except ExpressionError as exc:
            self._note_error(enrolment, at, f"`at:` set no timer: {exc}")
            return None
        if not isinstance(value, datetime):
            self._note_error(
                enrolment,
                at,
                f"`at: {timer.spec.at}` gave {value!r}, not a timestamp: no timer set",
            )
            return None
        value = value if value.tzinfo else value.replace(tzinfo=at.tzinfo)
        return max(value, at)  # a due time already past on entry fires at once, then

    def _end(self, enrolment: EnrolmentRecord, status: str, reason: str, at: datetime) -> None:
        enrolment.status = status
        enrolment.ended_at = at
        enrolment.end_reason = reason
        enrolment.timers = []
        self.uow.touch(enrolment)
        kind = {"completed": "complete", "converted": "exit", "exited": "exit"}[status]
        self._history(enrolment, kind, enrolment.state, None, reason, at, status)
        self.notifications.append(Notification("enrolment_ended", enrolment=_as_of_now(enrolment)))

    def migrate(self, enrolment: EnrolmentRecord, target: JourneyMachine, state: str) -> None:
        """Move an enrolment to another version's state: no actions run; the
        state's timers are recomputed from the original entry time."""
        source, version = enrolment.state, enrolment.version
        enrolment.version = target.version
        enrolment.state = state
        enrolment.seq += 1
        enrolment.timers = []
        for timer in target.timers_of[state]:
            due = self._due(timer, enrolment, target, None, enrolment.entered_at)
            if due is not None:
                enrolment.timers.append((timer.index, due))
        self.uow.touch(enrolment)
        self._history(
            enrolment,
            "migrate",
            source,
            state,
            f"migration:v{version}->v{target.version}",
            enrolment.entered_at,
        )

    # --- actions -------------------------------------------------------------

    def _actions(
        self,
        enrolment: EnrolmentRecord,
        machine: JourneyMachine,
        actions: tuple[CompiledAction, ...],
        index: int,
        at: datetime,
        event: Event | None,
        depth: int,
    ) -> int:
        for action in actions:
            self._action(enrolment, machine, action, index, at, event, depth)
            index += 1
        return index

    def _action(
        self,
        enrolment: EnrolmentRecord,
        machine: JourneyMachine,
        action: CompiledAction,
        index: int,
        at: datetime,
        event: Event | None,
        depth: int,
    ) -> None:
        spec = action.spec
        values = self._values(action, enrolment, machine, event, at)
        if isinstance(spec, dsl.SetAction):
            self.customer.attributes.update(values)
            self.uow.touch(self.customer)
        elif isinstance(spec, dsl.EmitAction):
            if depth + 1 > self.engine.max_emit_depth:
                self._note_error(
                    enrolment,
                    at,
                    f"emit {spec.emit!r} cut off: chain deeper than {self.engine.max_emit_depth}",
                )
                return
            key = effect_key(enrolment, index)
            self._queue.append(
                (
                    Event(f"emit-{key}", self.customer.id, "internal", spec.emit, at, values),
                    depth + 1,
                )
            )
        else:
            if isinstance(spec, dsl.SendAction):
                channel, template, data = spec.send, spec.template, values
            else:
                assert isinstance(spec, dsl.TaskAction)
                state = machine.journey.states[enrolment.state]
                channel, template = "task", None
                data = {
                    "title": spec.task.title,
                    "owner": spec.task.owner or state.owner,
                    "description": spec.task.description,
                    "due": spec.task.due,
                    "state": enrolment.state,
                }
            self.uow.add_effect(
                Effect(
                    key=effect_key(enrolment, index),
                    channel=channel,
                    customer_id=self.customer.id,
                    journey=enrolment.journey,
                    version=enrolment.version,
                    enrolment_id=enrolment.id,
                    created_at=at,
                    template=template,
                    data=data,
                    seq=enrolment.seq,
                    action=index,
                    status="suppressed" if enrolment.in_holdout else "pending",
                )
            )

    def _values(
        self,
        action: CompiledAction,
        enrolment: EnrolmentRecord,
        machine: JourneyMachine,
        event: Event | None,
        at: datetime,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in action.values.items():
            if isinstance(value, Expression):
                try:
                    value = value.evaluate(self._scope(machine, enrolment, event, at))
                except ExpressionError as exc:
                    self._note_error(enrolment, at, f"{name}: {exc}; left unset")
                    continue
                if isinstance(value, datetime):
                    value = value.isoformat()
            out[name] = value
        return out

    # --- CEL -----------------------------------------------------------------

    def _guard(
        self,
        guard: Expression | None,
        enrolment: EnrolmentRecord | None,
        event: Event | None,
        at: datetime,
        machine: JourneyMachine,
    ) -> bool:
        if guard is None:
            return True
        try:
            return guard.evaluate(self._scope(machine, enrolment, event, at)) is True
        except ExpressionError as exc:
            self._note_error(enrolment, at, f"guard counted as false: {exc}")
            return False

    def _scope(
        self,
        machine: JourneyMachine,
        enrolment: EnrolmentRecord | None,
        event: Event | None,
        at: datetime,
    ) -> Scope:
        attrs = self.customer.attributes
        zone = attrs.get("timezone")
        if not (isinstance(zone, str) and is_valid_zone(zone)):
            zone = machine.journey.timezone
        customer = {**attrs, "id": self.customer.id, "segments": list(self.customer.segments)}
        event_view = (
            {
                "name": event.name,
                "properties": event.properties,
                "traits": event.traits,
                "timestamp": event.timestamp,
            }
            if event is not None
            else {}
        )
        state = (
            {"name": enrolment.state, "entered_at": enrolment.entered_at}
            if enrolment is not None
            else {}
        )
        return Scope(
            now=at,
            customer=customer,
            event=event_view,
            state=state,
            zone=zone,
            extra_functions=self.engine.functions or None,
        )

    # --- records ---------------------------------------------------------------

    def _machine(self, enrolment: EnrolmentRecord) -> JourneyMachine:
        return self.engine.machine(enrolment.journey, enrolment.version)

    def _history(
        self,
        enrolment: EnrolmentRecord,
        kind: str,
        source: str | None,
        target: str | None,
        cause: str,
        at: datetime,
        detail: str | None = None,
    ) -> None:
        record = HistoryRecord(
            enrolment.id,
            enrolment.customer_id,
            enrolment.journey,
            enrolment.seq,
            kind,
            source,
            target,
            cause,
            at,
            detail,
        )
        self.uow.add_history(record)
        if kind in ("enter", "transition"):
            self.notifications.append(
                Notification("transition", history=record, enrolment=_as_of_now(enrolment))
            )

    def _note_error(self, enrolment: EnrolmentRecord | None, at: datetime, reason: str) -> None:
        log.info(
            "journey run-time error",
            customer=self.customer.id,
            reason=reason,
            enrolment=enrolment.id if enrolment else None,
        )
        if enrolment is not None:
            self._history(enrolment, "error", enrolment.state, enrolment.state, "error", at, reason)


def effect_key(enrolment: EnrolmentRecord, index: int) -> str:
    """Deterministic: journey, version, customer, enrolment, transition sequence,
    action index. Re-running the same events yields the same keys."""
    parts = (
        enrolment.journey,
        str(enrolment.version),
        enrolment.customer_id,
        enrolment.id,
        str(enrolment.seq),
        str(index),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def _as_of_now(enrolment: EnrolmentRecord) -> EnrolmentRecord:
    """A copy for listeners: the record itself changes on with later events (and
    the SQL store keeps it between units of work)."""
    copied = copy.copy(enrolment)
    copied.timers = list(enrolment.timers)
    return copied
