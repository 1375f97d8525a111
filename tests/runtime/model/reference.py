"""A small, slow, obviously correct model of what a journey does.

Written from docs/semantics.md and the journey language (`definition/dsl.py`),
independently of the engine: it must not import journeyflow.runtime.semantics,
journeyflow.runtime.engine or journeyflow.runtime.machine. It reuses only the
journey models (`dsl`), the CEL compiler (`definition/cel.py`) and durations.
It keeps everything in plain lists and recomputes what it needs by scanning
them; speed does not matter here.

What it models: track/identify events, entry on events (with guard, re-entry
rule and `key`), exit rules, event transitions with guards, `after:` and `at:`
timers (an `at:` computed once on entry; a time already past fires at once; an
error or a value that is not a timestamp sets no timer and is noted), the
customer's time zone (a valid `timezone` trait, else the journey's, else UTC),
segments (entering one is an internal `segment_entered` event; `entry.segment`;
`customer.segments` in CEL),
internal self-transitions, final states, splits, holdout, and the actions
send/set/vars/emit/task, each with its own `when:`, with emitted events and
their depth limit; the enrolment context: `trigger` (the enrolling event, in
every later state; the event considered, in `entry.when`/`entry.key`),
`enrolment.key|entered_at|vars` and `state.visits` (entries into the current
state over the enrolment's life; an internal transition is none). What it does
not model: versions and migrations. The date helpers themselves come
from `definition/cel.py` (unit-tested there); the model checks when and how the
engine uses them.

Each customer is independent of the others, so the model runs one customer at
a time over that customer's part of the timeline.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from journeyflow.definition import dsl
from journeyflow.definition.cel import (
    SCOPE_NAMES,
    Expression,
    Scope,
    compile_expression,
    is_valid_zone,
)
from journeyflow.definition.durations import parse_duration
from journeyflow.exceptions import ExpressionError

MAX_EMIT_DEPTH = 8  # an outside event has depth 0; an event emitted while handling depth d has d+1


# --- the timeline ------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    customer: str
    name: str
    at: datetime
    properties: dict[str, Any]
    message_id: str

    def to_raw(self) -> dict[str, Any]:
        return {
            "type": "track",
            "userId": self.customer,
            "event": self.name,
            "properties": dict(self.properties),
            "timestamp": self.at.isoformat(),
            "messageId": self.message_id,
        }


@dataclass(frozen=True)
class Identify:
    customer: str
    at: datetime
    traits: dict[str, Any]
    message_id: str

    def to_raw(self) -> dict[str, Any]:
        return {
            "type": "identify",
            "userId": self.customer,
            "traits": dict(self.traits),
            "timestamp": self.at.isoformat(),
            "messageId": self.message_id,
        }


@dataclass(frozen=True)
class AdvanceTo:
    at: datetime


@dataclass(frozen=True)
class Segments:
    """The customer's segments become exactly these (`Engine.set_segments`)."""

    customer: str
    at: datetime
    segments: tuple[str, ...]


Step = Track | Identify | AdvanceTo | Segments


# --- what the model reports ----------------------------------------------------------------


@dataclass
class Enrolment:
    journey: str
    key: str | None
    ordinal: int
    state: str
    entered_at: datetime
    started_at: datetime
    in_holdout: bool
    status: str = "active"
    ended_at: datetime | None = None
    end_reason: str | None = None
    timers: list[tuple[int, datetime]] = field(default_factory=list)  # (transition index, due)
    trigger: dict[str, Any] = field(default_factory=dict)  # the enrolling event, as CEL sees it
    vars: dict[str, Any] = field(default_factory=dict)
    visits: dict[str, int] = field(default_factory=dict)  # state -> entries

    @property
    def ref(self) -> tuple[str, str | None, int]:
        return (self.journey, self.key, self.ordinal)


@dataclass
class Outcome:
    """Everything the model says about one customer."""

    attributes: dict[str, Any] = field(default_factory=dict)
    segments: list[str] = field(default_factory=list)  # sorted
    enrolments: list[Enrolment] = field(default_factory=list)
    # (journey, key, ordinal, kind, from, to, cause, at); kind: enter | transition |
    # internal | exit | complete; cause: event:<name> | timer | split | exit:<name> |
    # re-entry | final
    history: list[tuple[Any, ...]] = field(default_factory=list)
    # (journey, key, ordinal, channel, template, data, status, at): sends and tasks in order
    effects: list[tuple[Any, ...]] = field(default_factory=list)
    # (journey, key, ordinal, state, at): a CEL run-time error or an emit cut off
    errors: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass(frozen=True)
class _Event:
    name: str
    at: datetime
    properties: dict[str, Any]
    traits: dict[str, Any]
    is_identify: bool = False
    is_segment: bool = False  # the internal `segment_entered` event
    is_emitted: bool = False

    @property
    def type(self) -> str:
        if self.is_identify:
            return "identify"
        return "internal" if self.is_segment or self.is_emitted else "track"

    def view(self) -> dict[str, Any]:
        """`event` (and `trigger`) as CEL sees it."""
        return {
            "name": self.name,
            "type": self.type,
            "properties": self.properties,
            "traits": self.traits,
            "timestamp": self.at,
        }


SEGMENT_ENTERED = "segment_entered"


_MAX_FIRES_AT_ONE_INSTANT = 1000


# --- helpers -----------------------------------------------------------------------------


def _zone(attributes: dict[str, Any], j: dsl.Journey) -> str | None:
    """The customer's `timezone` trait when it names a zone, else the journey's."""
    trait = attributes.get("timezone")
    return trait if isinstance(trait, str) and is_valid_zone(trait) else j.timezone


def bucket(*parts: str) -> int:
    """0..99 from sha256 of the parts joined by \\x1f (first 8 bytes, big-endian)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def split_target(branches: list[dsl.SplitBranch], number: int) -> str:
    total = 0
    for branch in branches:
        total += branch.weight
        if number < total:
            return branch.to
    return branches[-1].to


_compiled: dict[str, Expression] = {}
CONTEXT = ("trigger", "enrolment")  # the names the CEL module does not bind itself


def _cel(source: str) -> Expression:
    if source not in _compiled:
        _compiled[source] = compile_expression(source, names=SCOPE_NAMES | set(CONTEXT))
    return _compiled[source]


def _run(source: str, scope: Scope, context: dict[str, Any]) -> Any:
    """Evaluate; an expression reading `trigger` or `enrolment` runs on a
    context that holds every name (no shortcuts: slow and plain)."""
    expression = _cel(source)
    refs = set(expression.program.references()["variables"])
    if not refs & set(CONTEXT):
        return expression.evaluate(scope)
    variables = scope.context(SCOPE_NAMES, None)
    for name, value in context.items():
        if value is not None:
            variables.add_variable(name, _plain(value))
    try:
        return expression.program.execute(variables)
    except Exception as exc:
        raise ExpressionError(str(exc)) from exc


def _as_json(value: Any) -> Any:
    """What an action keeps of a computed value: timestamps as ISO-8601 text,
    durations as CEL's text of whole or decimal seconds, at any depth."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        micros = value // timedelta(microseconds=1)
        sign, micros = ("-", -micros) if micros < 0 else ("", micros)
        whole, part = divmod(micros, 1_000_000)
        return f"{sign}{whole}s" if not part else f"{sign}{whole}.{part:06d}".rstrip("0") + "s"
    if isinstance(value, dict):
        return {str(k): _as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    return value


class _Failed(Exception):
    pass


class Runaway(Exception):
    """A customer's history outgrew `Model.max_rows`: a journey looping on timers
    and emits. The engine bounds such loops with limits of its own (steps per
    turn, timer firings per day: runtime/semantics.py) that this model does not
    describe yet, so the model test leaves such scenarios out."""


# --- the model -----------------------------------------------------------------------------


class Model:
    def __init__(
        self,
        journeys: list[dsl.Journey],
        max_emit_depth: int = MAX_EMIT_DEPTH,
        max_rows: int | None = None,
    ):
        self.max_rows = max_rows
        self.journeys = sorted(journeys, key=lambda j: j.journey)
        self.by_id = {j.journey: j for j in self.journeys}
        self.max_emit_depth = max_emit_depth
        self.outcomes: dict[str, Outcome] = {}
        self.seen: set[str] = set()  # messageIds already applied

    # --- driving -----------------------------------------------------------------

    def run(self, timeline: list[Step]) -> dict[str, Outcome]:
        for step in timeline:
            self.step(step)
        return self.outcomes

    def step(self, step: Step) -> None:
        if isinstance(step, AdvanceTo):
            for cid in sorted(self.outcomes):
                self._fire_timers(cid, self.outcomes[cid], step.at, inclusive=True)
            return
        cid = step.customer
        out = self.outcomes.setdefault(cid, Outcome())
        if isinstance(step, Segments):
            self._set_segments(cid, out, step)
            return
        if step.message_id in self.seen:
            return  # a messageId seen before is ignored
        self.seen.add(step.message_id)
        self._fire_timers(cid, out, step.at, inclusive=False)
        if isinstance(step, Identify):
            event = _Event("identify", step.at, {}, dict(step.traits), is_identify=True)
        else:
            event = _Event(step.name, step.at, dict(step.properties), {})
        self._handle(cid, out, event)
        self._fire_timers(cid, out, step.at, inclusive=True)

    def _set_segments(self, cid: str, out: Outcome, step: Segments) -> None:
        """Segments change at `step.at`: timers due before it fire first; each
        segment entered (in name order) is a `segment_entered` event, which
        enrols in journeys whose `entry.segment` names it and reaches exit
        rules and transitions `on: segment_entered` like any event. No change,
        nothing happens (not even timers: they fire at the next step, at their
        own due times)."""
        after = sorted(set(step.segments))
        if after == out.segments:
            return
        self._fire_timers(cid, out, step.at, inclusive=False)
        entered = [s for s in after if s not in out.segments]
        out.segments = after
        for segment in entered:
            event = _Event(SEGMENT_ENTERED, step.at, {"segment": segment}, {}, is_segment=True)
            self._handle(cid, out, event)
        self._fire_timers(cid, out, step.at, inclusive=True)

    # --- events --------------------------------------------------------------------

    def _handle(self, cid: str, out: Outcome, event: _Event) -> None:
        """Apply one event, then the events it emits (first in, first out)."""
        queue: deque[tuple[_Event, int]] = deque([(event, 0)])
        while queue:
            current, depth = queue.popleft()
            if current.is_identify:
                out.attributes.update(current.traits)
            for journey in self.journeys:  # journey-id order
                self._route(cid, out, journey, current, depth, queue)

    def _route(
        self,
        cid: str,
        out: Outcome,
        j: dsl.Journey,
        event: _Event,
        depth: int,
        queue: deque[tuple[_Event, int]],
    ) -> None:
        mine = [e for e in out.enrolments if e.journey == j.journey]
        keyed = j.entry.key is not None
        key = self._key(cid, out, j, event) if keyed else None
        reached = [e for e in mine if e.status == "active" and (key is None or e.key == key)]

        # 1. exit rules, on every enrolment the event reaches
        for enrolment in reached:
            for rule in j.exit:
                if event.name in rule.on and self._guard(
                    cid, out, j, rule.when, enrolment, event, event.at
                ):
                    status = "converted" if rule.goal else "exited"
                    self._end(out, enrolment, status, f"exit:{event.name}", event.at)
                    break

        # 2. entry
        fresh = None
        if event.is_segment:  # only `entry.segment` enrols on it, never `entry.on`
            enters = j.entry.segment is not None and event.properties["segment"] == j.entry.segment
        else:
            enters = event.name in j.entry.on
        if (
            enters
            and (not keyed or key is not None)
            and self._guard(cid, out, j, j.entry.when, None, event, event.at, entry=True)
        ):
            same = [e for e in mine if e.key == key]
            active = [e for e in same if e.status == "active"]
            if active:
                if j.entry.reentry == "always":
                    for old in active:
                        self._end(out, old, "exited", "re-entry", event.at)
                    fresh = self._enrol(cid, out, j, key, len(same) + 1, event, depth, queue)
            elif not (j.entry.reentry == "never" and same):
                fresh = self._enrol(cid, out, j, key, len(same) + 1, event, depth, queue)

        # 3. the first matching transition of each reached enrolment (oldest first)
        for enrolment in reached:
            if enrolment.status != "active" or enrolment is fresh:
                continue
            state = j.states[enrolment.state]
            for index, transition in enumerate(state.transitions):
                if transition.on == event.name and self._guard(
                    cid, out, j, transition.when, enrolment, event, event.at
                ):
                    self._take(cid, out, j, enrolment, index, event.at, event, depth, queue)
                    break

    def _key(self, cid: str, out: Outcome, j: dsl.Journey, event: _Event) -> str | None:
        assert j.entry.key is not None
        try:
            value = self._eval(cid, out, j, j.entry.key, None, event, event.at, entry=True)
        except _Failed:
            return None
        return None if value is None else str(value)

    # --- timers --------------------------------------------------------------------

    def _fire_timers(self, cid: str, out: Outcome, until: datetime, *, inclusive: bool) -> None:
        """Fire every timer due before `until` (or at it, when inclusive), one at a
        time at its own due time, earliest first; ties: journey id, then the older
        enrolment (keyed journeys), then the transition's position in the state."""
        fired_at: dict[datetime, int] = {}
        while True:
            due_now = []
            for age, enrolment in enumerate(out.enrolments):
                if enrolment.status != "active":
                    continue
                for index, due in enrolment.timers:
                    if due < until or (inclusive and due == until):
                        due_now.append((due, enrolment.journey, age, index, enrolment))
            if not due_now:
                break
            due, _, _, index, enrolment = min(due_now, key=lambda t: t[:4])
            fired_at[due] = fired_at.get(due, 0) + 1
            # Timers re-arming at one instant for ever (a time already past that
            # leads back round) are outside what the model covers: the
            # strategies must not draw them. Fail loudly rather than hang.
            assert fired_at[due] <= _MAX_FIRES_AT_ONE_INSTANT, f"timers loop at {due}"
            enrolment.timers = [t for t in enrolment.timers if t[0] != index]
            j = self.by_id[enrolment.journey]
            transition = j.states[enrolment.state].transitions[index]
            queue: deque[tuple[_Event, int]] = deque()
            if self._guard(cid, out, j, transition.when, enrolment, None, due):
                self._take(cid, out, j, enrolment, index, due, None, 0, queue)
            self._drain(cid, out, queue)

    def _drain(self, cid: str, out: Outcome, queue: deque[tuple[_Event, int]]) -> None:
        while queue:
            current, depth = queue.popleft()
            for journey in self.journeys:
                self._route(cid, out, journey, current, depth, queue)

    # --- moving ----------------------------------------------------------------------

    def _enrol(
        self,
        cid: str,
        out: Outcome,
        j: dsl.Journey,
        key: str | None,
        ordinal: int,
        event: _Event,
        depth: int,
        queue: deque[tuple[_Event, int]],
    ) -> Enrolment:
        enrolment = Enrolment(
            journey=j.journey,
            key=key,
            ordinal=ordinal,
            state=j.initial,
            entered_at=event.at,
            started_at=event.at,
            in_holdout=bucket(cid, j.journey, "holdout") < j.holdout,
            trigger=event.view(),
        )
        out.enrolments.append(enrolment)
        out.history.append(
            (*enrolment.ref, "enter", None, j.initial, f"event:{event.name}", event.at)
        )
        self._enter(cid, out, j, enrolment, j.initial, event.at, event, depth, queue)
        return enrolment

    def _take(
        self,
        cid: str,
        out: Outcome,
        j: dsl.Journey,
        enrolment: Enrolment,
        index: int,
        at: datetime,
        event: _Event | None,
        depth: int,
        queue: deque[tuple[_Event, int]],
    ) -> None:
        """Apply transition number `index` of the enrolment's state."""
        if self.max_rows is not None and len(out.history) > self.max_rows:
            raise Runaway(cid)
        source = enrolment.state
        transition = j.states[source].transitions[index]
        if transition.on is not None:
            cause = f"event:{transition.on}"
        elif transition.split is not None:
            cause = "split"
        else:
            cause = "timer"
        if transition.split is not None:
            target = split_target(transition.split, bucket(cid, j.journey, source))
        else:
            assert transition.to is not None
            target = transition.to
        if transition.internal and target == source:
            out.history.append((*enrolment.ref, "internal", source, source, cause, at))
            self._actions(cid, out, j, enrolment, transition.actions, at, event, depth, queue)
            return
        self._actions(cid, out, j, enrolment, j.states[source].on_exit, at, event, depth, queue)
        self._actions(cid, out, j, enrolment, transition.actions, at, event, depth, queue)
        out.history.append((*enrolment.ref, "transition", source, target, cause, at))
        self._enter(cid, out, j, enrolment, target, at, event, depth, queue)

    def _enter(
        self,
        cid: str,
        out: Outcome,
        j: dsl.Journey,
        enrolment: Enrolment,
        name: str,
        at: datetime,
        event: _Event | None,
        depth: int,
        queue: deque[tuple[_Event, int]],
    ) -> None:
        state = j.states[name]
        enrolment.state = name
        enrolment.entered_at = at
        enrolment.visits[name] = enrolment.visits.get(name, 0) + 1
        enrolment.timers = []
        for i, t in enumerate(state.transitions):  # computed before on_enter runs
            if t.after is not None:
                enrolment.timers.append((i, at + parse_duration(t.after)))
            elif t.at is not None:
                due = self._at(cid, out, j, t.at, enrolment, event, at)
                if due is not None:
                    enrolment.timers.append((i, due))
        self._actions(cid, out, j, enrolment, state.on_enter, at, event, depth, queue)
        if state.final:
            self._end(out, enrolment, "completed", "final", at)
            return
        for index, transition in enumerate(state.transitions):
            if transition.split is not None:
                self._take(cid, out, j, enrolment, index, at, event, depth, queue)
                return

    def _at(
        self,
        cid: str,
        out: Outcome,
        j: dsl.Journey,
        source: str,
        enrolment: Enrolment,
        event: _Event | None,
        at: datetime,
    ) -> datetime | None:
        """An `at:` timer's due time, or None (error noted): never before `at`."""
        try:
            value = self._eval(cid, out, j, source, enrolment, event, at)
        except _Failed:
            return None
        if not isinstance(value, datetime):
            out.errors.append((*enrolment.ref, enrolment.state, at))
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return max(value, at)

    def _end(
        self, out: Outcome, enrolment: Enrolment, status: str, reason: str, at: datetime
    ) -> None:
        enrolment.status = status
        enrolment.ended_at = at
        enrolment.end_reason = reason
        enrolment.timers = []
        kind = "complete" if status == "completed" else "exit"
        out.history.append((*enrolment.ref, kind, enrolment.state, None, reason, at))

    # --- actions ---------------------------------------------------------------------

    def _actions(
        self,
        cid: str,
        out: Outcome,
        j: dsl.Journey,
        enrolment: Enrolment,
        actions: list[Any],
        at: datetime,
        event: _Event | None,
        depth: int,
        queue: deque[tuple[_Event, int]],
    ) -> None:
        for action in actions:
            if not self._runs(cid, out, j, action, enrolment, event, at):
                continue
            if isinstance(action, dsl.SetAction):
                out.attributes.update(self._values(cid, out, j, action.set, enrolment, event, at))
            elif isinstance(action, dsl.VarsAction):
                enrolment.vars.update(self._values(cid, out, j, action.vars, enrolment, event, at))
            elif isinstance(action, dsl.EmitAction):
                values = self._values(cid, out, j, action.properties, enrolment, event, at)
                if depth + 1 > self.max_emit_depth:
                    out.errors.append((*enrolment.ref, enrolment.state, at))
                else:
                    queue.append((_Event(action.emit, at, values, {}, is_emitted=True), depth + 1))
            elif isinstance(action, dsl.SendAction):
                values = self._values(cid, out, j, action.data, enrolment, event, at)
                out.effects.append(
                    (
                        *enrolment.ref,
                        action.send,
                        action.template,
                        values,
                        "suppressed" if enrolment.in_holdout else "pending",
                        at,
                    )
                )
            else:
                assert isinstance(action, dsl.TaskAction)
                task = action.task
                # the task belongs to the state the enrolment is in when the action runs:
                # the state being left for on_exit and transition actions
                data = {
                    "title": task.title,
                    "owner": task.owner or j.states[enrolment.state].owner,
                    "description": task.description,
                    "due": task.due,
                    "state": enrolment.state,
                }
                out.effects.append(
                    (
                        *enrolment.ref,
                        "task",
                        None,
                        data,
                        "suppressed" if enrolment.in_holdout else "pending",
                        at,
                    )
                )

    def _runs(
        self,
        cid: str,
        out: Outcome,
        j: dsl.Journey,
        action: Any,
        enrolment: Enrolment,
        event: _Event | None,
        at: datetime,
    ) -> bool:
        """An action runs when it has no `when:` or its `when:` is true."""
        return self._guard(cid, out, j, action.when, enrolment, event, at)

    def _values(
        self,
        cid: str,
        out: Outcome,
        j: dsl.Journey,
        raw: dict[str, Any],
        enrolment: Enrolment,
        event: _Event | None,
        at: datetime,
    ) -> dict[str, Any]:
        """Literal values as written; `=expr` strings are CEL (an error leaves the name out)."""
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if isinstance(value, str) and value.startswith("="):
                try:
                    value = self._eval(cid, out, j, value[1:], enrolment, event, at)
                except _Failed:
                    continue
                value = _as_json(value)
            values[name] = value
        return values

    # --- CEL -------------------------------------------------------------------------

    def _guard(
        self,
        cid: str,
        out: Outcome,
        j: dsl.Journey,
        source: str | None,
        enrolment: Enrolment | None,
        event: _Event | None,
        at: datetime,
        entry: bool = False,
    ) -> bool:
        if source is None:
            return True
        try:
            return self._eval(cid, out, j, source, enrolment, event, at, entry) is True
        except _Failed:
            return False

    def _eval(
        self,
        cid: str,
        out: Outcome,
        j: dsl.Journey,
        source: str,
        enrolment: Enrolment | None,
        event: _Event | None,
        at: datetime,
        entry: bool = False,
    ) -> Any:
        """Evaluate CEL; a run-time error is noted on the enrolment (if any) and raised.
        `entry`: an entry guard or key, where `trigger` is the event considered and
        there is no enrolment yet."""
        scope = Scope(
            now=at,
            customer={**out.attributes, "id": cid, "segments": list(out.segments)},
            event=event.view() if event else {},
            state=(
                {
                    "name": enrolment.state,
                    "entered_at": enrolment.entered_at,
                    "visits": enrolment.visits[enrolment.state],
                }
                if enrolment
                else {}
            ),
            zone=_zone(out.attributes, j),
        )
        context: dict[str, Any] = {}
        if entry and event is not None:
            context["trigger"] = event.view()
        elif enrolment is not None:
            context["trigger"] = enrolment.trigger
            context["enrolment"] = {
                "key": enrolment.key,
                "entered_at": enrolment.started_at,
                "vars": enrolment.vars,
            }
        try:
            return _run(source, scope, context)
        except ExpressionError:
            if enrolment is not None:
                out.errors.append((*enrolment.ref, enrolment.state, at))
            raise _Failed from None
