"""One customer's turn: the journey semantics (docs/semantics.md), applied to
one customer inside one unit of work.

Order of work for an event, per journey (journeys in id order):
1. exit rules, on every active enrolment the event reaches;
2. entry (with the re-entry rule); the enrolling event is not applied again;
3. the first matching transition of each reached enrolment.
Events emitted by actions are queued and applied after the event that caused
them, at the same time, before the next outside event; timers due at the same
instant fire after events.

Every expression evaluated for an enrolment sees its context (`trigger`, the
event that created it; `enrolment.key|entered_at|vars`; `state.visits`), built
by `_scope`; an action runs only when its `when:` holds (`_action`).

A `CustomerRun` sees the engine only through `Rules` (the compiled journeys,
the CEL functions, the limits) and the store only through its unit of work.

Bounds on one turn (docs/semantics.md, "Loops and bounds"): a journey that
loops must cost a bounded amount of work and memory, whatever it says. One
turn takes at most MAX_STEPS_PER_EVENT steps for an outside event with
everything it causes (enrolments, transitions, emitted events), or
MAX_STEPS_PER_TIMERS for one customer's due timers (timers fired count too);
timers that fire more than TIMER_LOOP_FIRINGS
times within TIMER_LOOP_SPAN for one enrolment are a loop. Either is cut with
an `error` line in the history, and the engine goes on with other customers.
"""

from __future__ import annotations

import copy
import hashlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from journeyflow.definition import dsl
from journeyflow.definition.cel import Expression, is_valid_zone
from journeyflow.events import Event
from journeyflow.exceptions import ExpressionError
from journeyflow.runtime.context import EnrolmentScope, storable, trigger_record
from journeyflow.runtime.machine import (
    CompiledAction,
    CompiledTransition,
    JourneyMachine,
    choose_branch,
    stable_bucket,
)
from journeyflow.store.records import Effect, EnrolmentRecord, HistoryRecord

if TYPE_CHECKING:
    from journeyflow.store.base import UnitOfWork

log = structlog.get_logger("journeyflow.runtime.engine")

SEGMENT_ENTERED = "segment_entered"  # internal event: properties.segment = "rfm:champions"
MAX_TIMERS_AT_ONCE = 1000  # timers one customer fires at one instant: only a loop gets there
# steps one outside event may cause for one customer: enrolments, transitions,
# emitted events. A bundled journey's busiest event takes two; `reentry:
# always` with five emits of its entry event took 5^8 (and hung)
MAX_STEPS_PER_EVENT = 1000
# steps one customer's due timers may take in one turn (timers fired count too):
# the bundled journeys take ten at most; ten years of a daily reminder fits.
# The engine's timer runs pause here and come back; an event waiting for the
# timers cuts here
MAX_STEPS_PER_TIMERS = 10_000
# an enrolment whose timers fire this often within this span is in a timer loop
# (`after: 1s` back and forth fired 756,000 timers in 42 hours for 5 customers);
# a daily reminder fires once a day, a loop of minutes ~1,000 times
TIMER_LOOP_FIRINGS = 1000
TIMER_LOOP_SPAN = timedelta(days=1)


@dataclass(frozen=True)
class Notification:
    """What listeners (plugin observer hooks, journey-test coverage) hear about,
    after commit.

    `kind` "transition" comes with the history record of an `enter` or a
    `transition`; for a transition taken, `transition_index` is its position
    among the transitions of the state it left (`history.from_state`).
    `kind` "enrolment_ended" comes with the enrolment as it ended.
    """

    kind: str  # "transition" | "enrolment_ended"
    history: HistoryRecord | None = None
    enrolment: EnrolmentRecord | None = None
    transition_index: int | None = None


@dataclass(frozen=True)
class Rules:
    """What a customer's run needs from the engine, and nothing more; the
    engine builds it once, from what it was constructed with."""

    journeys: tuple[JourneyMachine, ...]  # the newest version of each journey, in id order
    machine: Callable[[str, int], JourneyMachine]  # any version, by (journey, version)
    functions: Mapping[str, Callable[..., Any]] | None  # plugins' CEL functions, if any
    max_emit_depth: int  # how many emitted events deep a chain may go


@dataclass(frozen=True, slots=True)
class Step:
    """What one step of work is about: an enrolment under its journey version,
    at a moment, on an event (None: a timer fired) so many emits deep."""

    machine: JourneyMachine
    enrolment: EnrolmentRecord
    at: datetime
    event: Event | None = None
    depth: int = 0


class CustomerRun:
    """One customer's records in a unit of work, and what events, timers and
    segments do to them.

    :param notes: where to put what listeners are told once the unit of work
        commits; None when nobody listens (then nothing is copied for them)
    """

    def __init__(
        self,
        rules: Rules,
        uow: UnitOfWork,
        customer_id: str,
        notes: list[Notification] | None = None,
    ) -> None:
        self.rules = rules
        self.uow = uow
        self.customer = uow.customer(customer_id)
        self.enrolments = uow.enrolments(customer_id)
        self.notes = notes
        self._queue: deque[tuple[Event, int]] = deque()  # (event, emit depth)
        self._splits_in_a_row = 0
        self.steps = 0  # steps taken in the current turn
        self._touched: dict[str, Step] = {}  # enrolment id -> its latest step this turn

    # --- events --------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """Apply an outside event, then every event it causes to be emitted
        (at most MAX_STEPS_PER_EVENT steps in all: beyond, the rest is cut)."""
        self._new_turn()
        self._queue.append((event, 0))
        while self._queue:
            if self.steps > MAX_STEPS_PER_EVENT:
                self._cut_turn(event.timestamp, f"event {event.name!r}", MAX_STEPS_PER_EVENT)
                return
            current, depth = self._queue.popleft()
            if current.type == "identify" or current.traits:
                self.customer.attributes.update(current.traits)
            for machine in self.rules.journeys:
                self._route(machine, current, depth)

    def set_segments(self, segments: list[str], at: datetime) -> None:
        """Record the customer's segments; each one entered is a `segment_entered` event."""
        entered = [s for s in segments if s not in self.customer.segments]
        self.customer.segments = segments
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
            self._check_exits(enrolment, event, depth)
        # 2. entry
        fresh: EnrolmentRecord | None = None
        if (
            self._is_entry(machine, event)
            and (not journey.entry.key or key is not None)
            and self._entry_allowed(machine, event)
        ):
            same = [e for e in mine if e.key == key]
            active = [e for e in same if e.active]
            if active and journey.entry.reentry == "always":
                for old in active:
                    self._end(
                        Step(self._machine(old), old, event.timestamp, event, depth),
                        "exited",
                        "re-entry",
                    )
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
            value = machine.entry_key.evaluate(self._entry_scope(machine, event))
        except ExpressionError:
            return None  # no key on this event: it reaches every enrolment, enrols nobody
        return None if value is None else str(value)

    def _entry_allowed(self, machine: JourneyMachine, event: Event) -> bool:
        """The entry guard (`entry.when`); an error counts as false."""
        if machine.entry_guard is None:
            return True
        try:
            return machine.entry_guard.evaluate(self._entry_scope(machine, event)) is True
        except ExpressionError as exc:
            self._log_error(None, f"guard counted as false: {exc}")
            return False

    def _check_exits(self, enrolment: EnrolmentRecord, event: Event, depth: int) -> None:
        machine = self._machine(enrolment)
        step: Step | None = None
        for rule in machine.exits:
            if event.name not in rule.events:
                continue
            step = step or Step(machine, enrolment, event.timestamp, event, depth)
            if self._guard(rule.guard, step):
                status = "converted" if rule.goal else "exited"
                self._end(step, status, f"exit:{event.name}")
                return

    def _take_event(self, enrolment: EnrolmentRecord, event: Event, depth: int) -> None:
        machine = self._machine(enrolment)
        candidates = machine.candidates(enrolment.state, event.name)
        if not candidates:
            return
        step = Step(machine, enrolment, event.timestamp, event, depth)
        for transition in candidates:
            if self._guard(transition.guard, step):
                self._apply(step, transition)
                return

    # --- timers --------------------------------------------------------------

    def fire_due(self, until: datetime, *, inclusive: bool, pause_at: int | None = None) -> int:
        """Fire this customer's timers due before (or at) `until`, each at its due
        time, earliest first, including timers those transitions start.

        Ties at one instant go as events do: journeys in id order, then the
        customer's enrolments oldest first, then transitions in file order.

        :param pause_at: stop once this many steps are taken, leaving the later
            timers due (the engine commits and calls again: its memory stays
            flat however many are due). None: the turn is cut at
            MAX_STEPS_PER_TIMERS instead (an event is waiting for these timers).
        """
        self._new_turn()
        fired = 0
        instant: datetime | None = None
        at_instant = 0  # timers fired at `instant`: only a loop makes this large
        recent: dict[str, deque[datetime]] = {}  # enrolment id -> its latest due times
        while True:
            over = self.steps > MAX_STEPS_PER_TIMERS
            if over and (self._queue or pause_at is None):
                # emitted events still queued (`_drain` stopped), or an event waits
                # for these timers: cut; when pausing, the timers stay due
                self._cut_turn(
                    until, "timers", MAX_STEPS_PER_TIMERS, timers_until=None if pause_at else until
                )
                return fired
            if pause_at is not None and self.steps >= pause_at:
                return fired
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
            if self._looping(recent, enrolment, due):
                continue
            enrolment.timers = [t for t in enrolment.timers if t[0] != index]
            fired += 1
            self.steps += 1
            machine = self._machine(enrolment)
            compiled = next(t for t in machine.timers_of[enrolment.state] if t.index == index)
            step = Step(machine, enrolment, due)
            if self._guard(compiled.guard, step):
                self._apply(step, compiled)
            self._drain()

    def _break_loop(self, instant: datetime) -> None:
        """Timers that keep re-arming at one instant (`after: 0m` back and forth)
        would never let time move: drop them, and say so in the history."""
        for enrolment in self.enrolments:
            if enrolment.active and any(due <= instant for _, due in enrolment.timers):
                enrolment.timers = [t for t in enrolment.timers if t[1] > instant]
                self._note_error(
                    Step(self._machine(enrolment), enrolment, instant),
                    f"more than {MAX_TIMERS_AT_ONCE} timers fired at one instant: "
                    "a timer loop; its timers were dropped",
                )

    def _looping(
        self, recent: dict[str, deque[datetime]], enrolment: EnrolmentRecord, due: datetime
    ) -> bool:
        """True (and the enrolment's timers dropped) when its timers have fired
        TIMER_LOOP_FIRINGS times within TIMER_LOOP_SPAN: a timer loop. It stays
        in its state and moves again on an event."""
        times = recent.setdefault(enrolment.id, deque(maxlen=TIMER_LOOP_FIRINGS))
        if len(times) == TIMER_LOOP_FIRINGS and due - times[0] < TIMER_LOOP_SPAN:
            enrolment.timers = []
            self._note_error(
                Step(self._machine(enrolment), enrolment, due),
                f"timer loop: its timers fired {TIMER_LOOP_FIRINGS} times since "
                f"{times[0].isoformat()}; they were dropped, and the customer stays in "
                f"{enrolment.state!r} until an event moves them (an `after:` that leads "
                "back round to itself needs a way out)",
            )
            times.clear()
            return True
        times.append(due)
        return False

    def _new_turn(self) -> None:
        self.steps = 0
        self._touched.clear()

    def _cut_turn(
        self, at: datetime, cause: str, limit: int, *, timers_until: datetime | None = None
    ) -> None:
        """More than `limit` steps: drop what is queued (and, for
        timers, what is still due), and say so on every enrolment the turn moved."""
        dropped = len(self._queue)
        self._queue.clear()
        reason = (
            f"stopped after {limit:,} steps caused by {cause}: the journey "
            "loops (events it emits, re-entries or timers keep causing each other); "
            f"{dropped} emitted events were dropped"
        )
        if timers_until is not None:
            reason += " and the timers still due were dropped"
        steps = [s for s in self._touched.values() if s.enrolment.active]
        if not steps and self._touched:  # every one moved has ended: the latest says it
            steps = [list(self._touched.values())[-1]]
        for step in steps:
            enrolment = step.enrolment
            if timers_until is not None:
                enrolment.timers = [t for t in enrolment.timers if t[1] > timers_until]
            self._note_error(Step(step.machine, enrolment, at, step.event, step.depth), reason)
        self._touched.clear()

    def _took(self, step: Step) -> None:
        """Count one step of this turn against its bound."""
        self.steps += 1
        self._touched[step.enrolment.id] = step

    def _drain(self) -> None:
        """Apply the events a timer's actions emitted."""
        while self._queue:
            if self.steps > MAX_STEPS_PER_TIMERS:
                return  # fire_due cuts the turn before its next timer
            current, depth = self._queue.popleft()
            for machine in self.rules.journeys:
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
            trigger=trigger_record(
                event.name, event.type, event.timestamp, event.properties, event.traits
            ),
        )
        self.uow.add_enrolment(enrolment)  # appends to self.enrolments (the same list)
        step = Step(machine, enrolment, at, event, depth)
        self._took(step)
        self._moved(step, self._history(step, "enter", None, j.initial, f"event:{event.name}"))
        self._enter(step, j.initial, 0)
        return enrolment

    def _apply(self, step: Step, transition: CompiledTransition) -> None:
        """Take a transition: the source state's on_exit actions, the
        transition's own, then enter the target (an internal one runs only its own)."""
        enrolment, machine = step.enrolment, step.machine
        source = enrolment.state
        enrolment.seq += 1
        self._took(step)
        cause = transition.describe()
        if transition.is_internal:
            record = self._history(step, "transition", source, source, cause, "internal")
            self._moved(step, record, transition.index)
            self._actions(step, transition.actions, 0)
            return
        target = transition.to
        assert target is not None
        index = self._actions(step, machine.on_exit[source], 0)
        index = self._actions(step, transition.actions, index)
        self._moved(
            step, self._history(step, "transition", source, target, cause), transition.index
        )
        self._enter(step, target, index)

    def _enter(self, step: Step, state: str, index: int) -> None:
        """Enter `state`: set its timers, run its on_enter actions (numbered from
        `index`), then end the enrolment in a final state or follow a split."""
        enrolment, machine = step.enrolment, step.machine
        enrolment.state = state
        enrolment.entered_at = step.at
        # a new map, never changed in place (records.py says why)
        enrolment.visits = {**enrolment.visits, state: enrolment.visits.get(state, 0) + 1}
        enrolment.timers = []
        for timer in machine.timers_of[state]:
            due = self._due(step, timer)
            if due is not None:
                enrolment.timers.append((timer.index, due))
        self._actions(step, machine.on_enter[state], index)
        if not enrolment.active or enrolment.state != state:
            return  # an emitted event moved or ended it meanwhile
        if machine.is_final(state):
            self._end(step, "completed", f"final:{state}")
            return
        split = machine.split_of.get(state)
        if split is not None and split.spec.split is not None:
            if self._splits_in_a_row > len(machine.journey.states):
                # splits leading back to splits for ever: stay, and say so
                self._note_error(step, f"split cycle through {state!r}: stopped here")
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
                self._apply(step, target)
            finally:
                self._splits_in_a_row -= 1

    def _due(self, step: Step, timer: CompiledTransition) -> datetime | None:
        """When a timer of the state just entered (at `step.at`) falls due."""
        at = step.at
        if timer.after is not None:
            return at + timer.after
        assert timer.at is not None
        try:
            value = timer.at.evaluate(self._scope(step))
        except ExpressionError as exc:
            self._note_error(step, f"`at:` set no timer: {exc}")
            return None
        if not isinstance(value, datetime):
            self._note_error(
                step, f"`at: {timer.spec.at}` gave {value!r}, not a timestamp: no timer set"
            )
            return None
        value = value if value.tzinfo else value.replace(tzinfo=at.tzinfo)
        return max(value, at)  # a due time already past on entry fires at once, then

    def _end(self, step: Step, status: str, reason: str) -> None:
        enrolment = step.enrolment
        enrolment.status = status
        enrolment.ended_at = step.at
        enrolment.end_reason = reason
        enrolment.timers = []
        kind = {"completed": "complete", "converted": "exit", "exited": "exit"}[status]
        self._history(step, kind, enrolment.state, None, reason, status)
        if self.notes is not None:
            self.notes.append(Notification("enrolment_ended", enrolment=_as_of_now(enrolment)))

    def migrate(self, enrolment: EnrolmentRecord, target: JourneyMachine, state: str) -> None:
        """Move an enrolment to another version's state: no actions run; the
        state's timers are recomputed from the original entry time."""
        source, version = enrolment.state, enrolment.version
        enrolment.version = target.version
        enrolment.state = state
        enrolment.seq += 1
        if state not in enrolment.visits:  # renamed: its visits carry over
            enrolment.visits = {**enrolment.visits, state: enrolment.visits.get(source, 1)}
        enrolment.timers = []
        step = Step(target, enrolment, enrolment.entered_at)
        for timer in target.timers_of[state]:
            due = self._due(step, timer)
            if due is not None:
                enrolment.timers.append((timer.index, due))
        self._history(step, "migrate", source, state, f"migration:v{version}->v{target.version}")

    # --- actions -------------------------------------------------------------

    def _actions(self, step: Step, actions: tuple[CompiledAction, ...], index: int) -> int:
        """Run actions numbered from `index` (the number keys their effects);
        return the next number."""
        for action in actions:
            self._action(step, action, index)
            index += 1
        return index

    def _action(self, step: Step, action: CompiledAction, index: int) -> None:
        """Run one action, unless its `when:` is false (or errors: noted, as for
        a transition's guard). A skipped action keeps its number: the effect
        keys of the others do not depend on which ran."""
        if action.guard is not None and not self._guard(action.guard, step):
            return
        enrolment = step.enrolment
        spec = action.spec
        values = self._values(step, action)
        if isinstance(spec, dsl.SetAction):
            self.customer.attributes.update(values)
        elif isinstance(spec, dsl.VarsAction):
            if values:  # a new map, never changed in place (records.py says why)
                enrolment.vars = {**enrolment.vars, **values}
        elif isinstance(spec, dsl.EmitAction):
            limit = self.rules.max_emit_depth
            if step.depth + 1 > limit:
                self._note_error(step, f"emit {spec.emit!r} cut off: chain deeper than {limit}")
                return
            key = effect_key(enrolment, index)
            self._took(step)
            self._queue.append(
                (
                    Event(f"emit-{key}", self.customer.id, "internal", spec.emit, step.at, values),
                    step.depth + 1,
                )
            )
        else:
            if isinstance(spec, dsl.SendAction):
                channel, template, data = spec.send, spec.template, values
            else:
                assert isinstance(spec, dsl.TaskAction)
                state = step.machine.journey.states[enrolment.state]
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
                    created_at=step.at,
                    template=template,
                    data=data,
                    seq=enrolment.seq,
                    action=index,
                    status="suppressed" if enrolment.in_holdout else "pending",
                )
            )

    def _values(self, step: Step, action: CompiledAction) -> dict[str, Any]:
        """An action's values, its `=expr` ones evaluated; one that fails is left out."""
        out: dict[str, Any] = {}
        for name, value in action.values.items():
            if isinstance(value, Expression):
                try:
                    value = value.evaluate(self._scope(step))
                except ExpressionError as exc:
                    self._note_error(step, f"{name}: {exc}; left unset")
                    continue
                value = storable(value)
            out[name] = value
        return out

    # --- CEL -----------------------------------------------------------------

    def _guard(self, guard: Expression | None, step: Step) -> bool:
        """A `when:`; none is true, an error counts as false."""
        if guard is None:
            return True
        try:
            return guard.evaluate(self._scope(step)) is True
        except ExpressionError as exc:
            self._note_error(step, f"guard counted as false: {exc}")
            return False

    def _scope(self, step: Step) -> EnrolmentScope:
        """The scope of every expression evaluated for an enrolment: its state,
        and its context (`trigger`, `enrolment`) in every state, timers too."""
        enrolment = step.enrolment
        state = {
            "name": enrolment.state,
            "entered_at": enrolment.entered_at,
            "visits": enrolment.state_visits,
        }
        scope = self._make_scope(step.machine, step.event, step.at, state)
        scope.trigger = enrolment.trigger or {}  # converted if an expression reads it
        scope.enrolment = {
            "key": enrolment.key,
            "entered_at": enrolment.started_at,
            "vars": enrolment.vars,
        }
        return scope

    def _entry_scope(self, machine: JourneyMachine, event: Event) -> EnrolmentScope:
        """The scope of `entry.when` and `entry.key`: no state nor enrolment yet;
        `trigger` is the event being considered."""
        scope = self._make_scope(machine, event, event.timestamp, {})
        scope.trigger = _event_view(event)
        return scope

    def _make_scope(
        self, machine: JourneyMachine, event: Event | None, at: datetime, state: dict[str, Any]
    ) -> EnrolmentScope:
        attrs = self.customer.attributes
        zone = attrs.get("timezone")
        if not (isinstance(zone, str) and is_valid_zone(zone)):
            zone = machine.journey.timezone
        customer = {**attrs, "id": self.customer.id, "segments": list(self.customer.segments)}
        return EnrolmentScope(
            now=at,
            customer=customer,
            event=_event_view(event) if event is not None else {},
            state=state,
            zone=zone,
            extra_functions=self.rules.functions,
        )

    # --- records ---------------------------------------------------------------

    def _machine(self, enrolment: EnrolmentRecord) -> JourneyMachine:
        return self.rules.machine(enrolment.journey, enrolment.version)

    def _history(
        self,
        step: Step,
        kind: str,
        source: str | None,
        target: str | None,
        cause: str,
        detail: str | None = None,
    ) -> HistoryRecord:
        enrolment = step.enrolment
        record = HistoryRecord(
            enrolment.id,
            enrolment.customer_id,
            enrolment.journey,
            enrolment.seq,
            kind,
            source,
            target,
            cause,
            step.at,
            detail,
        )
        self.uow.add_history(record)
        return record

    def _moved(self, step: Step, record: HistoryRecord, index: int | None = None) -> None:
        """Tell listeners about an `enter` or a transition (`index`: the one taken)."""
        if self.notes is None:
            return
        self.notes.append(
            Notification(
                "transition",
                history=record,
                enrolment=_as_of_now(step.enrolment),
                transition_index=index,
            )
        )

    def _note_error(self, step: Step, reason: str) -> None:
        """A run-time error of the journey: logged, and an `error` line in the history."""
        enrolment = step.enrolment
        self._log_error(enrolment.id, reason)
        self._history(step, "error", enrolment.state, enrolment.state, "error", reason)

    def _log_error(self, enrolment_id: str | None, reason: str) -> None:
        log.info(
            "journey run-time error",
            customer=self.customer.id,
            reason=reason,
            enrolment=enrolment_id,
        )


def _event_view(event: Event) -> dict[str, Any]:
    """`event` (and `trigger` in an entry guard) as CEL sees it."""
    return {
        "name": event.name,
        "type": event.type,
        "properties": event.properties,
        "traits": event.traits,
        "timestamp": event.timestamp,
    }


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
