"""Static checks of a journey that pydantic accepted: its graph, its CEL, its names.

pydantic checks each value on its own; these checks need the whole journey
(a `to:` must name a state defined elsewhere) and point at the offending line
through `yaml_reader.Positions`. An error refuses the journey; a warning is
printed and the journey runs (`validate --strict` fails on warnings too).

Codes (stable; `docs/errors.md` has an example for each):

    errors
    JF301  a transition (or split branch) to an undefined state
    JF302  `initial` is not a state
    JF303  a state unreachable from `initial` (transitions of every kind and
           migration targets are edges; exit rules are not)
    JF304  a trap: a non-final state with no transitions
    JF305  a transition with no trigger, or more than one (on, after, at, split)
    JF306  `to` missing on a transition (allowed only with `internal: true`:
           the transition stays in its state), or `to` next to `split`
    JF307  split weights not positive, or not summing to 100
    JF308  a split state that holds other transitions too
    JF309  an entry with neither `on` nor `segment`
    JF310  `timezone` is not an IANA zone
    JF311  a state's `stage` is not one of the journey's `stages`
    JF312  a migration to an undefined state
    JF313  a test `expect` naming a state (or stage) that does not exist
    JF314  two files define the same journey id and version (`loader.analyse_paths`)
    JF315  split states whose branches lead back round to each other (a customer
           whose branches close the loop would split for ever)
    JF208  a duration longer than 3650 days (`after:`, a task's `due:`, a
           test's `advance:`): datetime arithmetic from an event time overflows
    JF209  a journey id, state name or channel name longer than 100 characters
           (the width of the store's columns)
    JF401  CEL that does not compile
    JF402  CEL naming an unknown variable
    JF403  CEL calling an unknown function (a warning when no plugin registry
           is given: a plugin may provide it)
    JF404  CEL longer than 4096 characters       (the bounds are `limits.py`'s,
    JF405  CEL nested more than 64 levels deep    checked before the CEL library
    JF406  a CEL list or map literal of more      sees the text: beyond them it
           than 256 items                         crashes or hangs the process)
    JF407  CEL comprehensions nested more than 2 deep
    names that plugins register — warnings without a registry (only names
    outside the first-party channels and the built-in verticals), errors with one:
    JF501  channel        JF502  segment        JF503  KPI        JF504  vertical
    warnings
    JF601  a state that waits for events with no timer (customers may wait for ever)
    JF602  a transition that never fires: an earlier one on the same event has
           no `when`, or an exit rule without `when` ends the enrolment on it first
    JF603  a send that never leads anywhere: in `on_exit` of a final state (never
           exited, so never sent), or on entering a state whose every way out is
           pre-empted by an exit rule (the customer can never move on). Sends on
           entering a final state are a normal goodbye and are not flagged.
    JF604  a final state with transitions (they never fire)
    JF605  `internal: true` on a transition to another state (ignored by the engine)
    JF606  `event` read where it is empty: in a state a timer can enter (its
           on_enter, its `at:`, its split's actions) or in a timer's own guard,
           actions and the on_exit they run; `trigger.` is the enrolling event
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import available_timezones

from journeyflow.definition import dsl
from journeyflow.definition.cel import compile_expression, is_valid_zone
from journeyflow.definition.durations import format_duration, parse_duration
from journeyflow.definition.limits import MAX_DURATION, MAX_NAME_CHARS, ExpressionLimitError
from journeyflow.definition.scope_names import FIELDS, JOURNEY_NAMES, field_reads, unknown_field
from journeyflow.exceptions import ExpressionError, Problem

if TYPE_CHECKING:
    from journeyflow.definition.yaml_reader import Positions

FIRST_PARTY_CHANNELS = frozenset({"console", "email", "webhook", "sms", "task"})
# the ids the built-in plugin registers (plugin/builtin/verticals.py), known without a registry
BUILTIN_VERTICALS = frozenset(
    {
        "food-beverage",
        "real-estate-architecture",
        "fashion-beauty",
        "business-services",
        "industry-agribusiness",
        "culture-leisure",
        "sport-health",
        "commerce-retail",
        "consulting-advisory",
        "communication-technology",
    }
)

Path_ = tuple[str | int, ...]
ENTRY_NAMES = JOURNEY_NAMES - {"enrolment"}  # entry.when, entry.key: no enrolment yet


@dataclass(frozen=True)
class KnownNames:
    """What the installed plugins register. With it, an unknown channel,
    segment, KPI or vertical is an error naming the ones that exist.
    A segment is known when `segmenter:segment` or just `segmenter` is listed."""

    channels: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    kpis: frozenset[str] = frozenset()
    verticals: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()  # extra CEL functions


def check_journey(
    journey: dsl.Journey,
    positions: Positions | None = None,
    *,
    known: KnownNames | None = None,
    filename: str = "<string>",
) -> list[Problem]:
    """Every static-check error and warning of a journey, in file order."""
    checker = _Checker(journey, positions, known, filename)
    checker.run()
    return sorted(checker.problems, key=lambda p: (p.line or 0, p.column or 0))


def _did_you_mean(name: str, options: Any) -> str:
    guess = difflib.get_close_matches(name, sorted(options), n=1, cutoff=0.6)
    return f" — did you mean {guess[0]!r}?" if guess else ""


def _listing(options: Any) -> str:
    names = sorted(options)
    return ", ".join(names) if names else "none"


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _is_zone(name: str) -> bool:
    if name in _zones():
        return True
    try:
        return is_valid_zone(name)
    except OSError:  # a name longer than a file name can be: not a zone
        return False


def _path_back(branches: dict[str, list[tuple[int, int, str]]], start: str, goal: str) -> list[str]:
    """The shortest walk along split branches from `start` to `goal` (both
    included); `goal` must be reachable."""
    came_from: dict[str, str | None] = {start: None}
    queue = [start]
    for name in queue:  # breadth first: the list grows while we walk it
        if name == goal:
            break
        for _, _, to in branches.get(name, ()):
            if to not in came_from:
                came_from[to] = name
                queue.append(to)
    walk: list[str] = []
    node: str | None = goal
    while node is not None:
        walk.append(node)
        node = came_from[node]
    return walk[::-1]


class _Checker:
    def __init__(
        self,
        journey: dsl.Journey,
        positions: Positions | None,
        known: KnownNames | None,
        filename: str,
    ) -> None:
        self.j = journey
        self.pos = positions
        self.known = known
        self.filename = filename
        self.problems: list[Problem] = []
        self._eventless_seen: set[tuple[str, Path_]] = set()

    def report(
        self, code: str, message: str, path: Path_, *, key: bool = False, severity: str = "error"
    ) -> None:
        line, col = self.pos.at(path, key=key) if self.pos is not None else (None, None)
        self.problems.append(Problem(code, message, self.filename, line, col, severity))

    def warn(self, code: str, message: str, path: Path_, *, key: bool = False) -> None:
        self.report(code, message, path, key=key, severity="warning")

    def run(self) -> None:
        self.check_journey_fields()
        self.check_sizes()
        for name, state in self.j.states.items():
            self.check_state(name, state)
        self.check_reachability()
        self.check_split_cycles()
        self.check_migrations_and_tests()
        self.check_expressions()
        self.check_names()
        self.check_shadowed()

    # --- journey-level fields --------------------------------------------------

    def check_journey_fields(self) -> None:
        j = self.j
        if j.initial not in j.states:
            self.report(
                "JF302",
                f"initial state {j.initial!r} is not a state"
                f"{_did_you_mean(j.initial, j.states)} (states: {_listing(j.states)})",
                ("initial",),
            )
        if not j.entry.on and j.entry.segment is None:
            self.report(
                "JF309",
                "entry has neither `on` nor `segment`: nobody would ever "
                "enrol; add `on: [event_name]` or `segment: segmenter:name`",
                ("entry",),
                key=True,
            )
        if j.timezone is not None and not _is_zone(j.timezone):
            self.report(
                "JF310",
                f"timezone {j.timezone!r} is not an IANA time zone"
                f"{_did_you_mean(j.timezone, _zones())} (write e.g. "
                "America/Sao_Paulo, Europe/Kyiv or UTC)",
                ("timezone",),
            )

    # --- sizes the store and datetime arithmetic can hold (limits.py) -------------

    def check_sizes(self) -> None:
        names: list[tuple[str, str, Path_, bool]] = [
            ("journey id", self.j.journey, ("journey",), False)
        ]
        names += [("state name", n, ("states", n), True) for n in self.j.states]
        names += [("channel name", c, path, False) for c, path in self._channels()]
        for what, name, path, key in names:
            if len(name) > MAX_NAME_CHARS:
                self.report(
                    "JF209",
                    f"the {what} {name[:20]!r}... is {len(name)} characters long, more than "
                    f"{MAX_NAME_CHARS} (the store's column width): shorten it",
                    path,
                    key=key,
                )
        for text, path in self._durations():
            if parse_duration(text) > MAX_DURATION:
                self.report(
                    "JF208",
                    f"the duration {text!r} is longer than {format_duration(MAX_DURATION)} "
                    "(10 years): no timer needs to wait longer, and a date that far "
                    "ahead overflows; use a shorter duration, or an `at:` timer",
                    path,
                )

    def _durations(self) -> Iterator[tuple[str, Path_]]:
        for name, state in self.j.states.items():
            for i, t in enumerate(state.transitions):
                if t.after is not None:
                    yield t.after, ("states", name, "transitions", i, "after")
                for a, action in enumerate(t.actions):
                    if isinstance(action, dsl.TaskAction) and action.task.due is not None:
                        yield (
                            action.task.due,
                            ("states", name, "transitions", i, "actions", a, "task", "due"),
                        )
            for kind in ("on_enter", "on_exit"):
                for a, action in enumerate(getattr(state, kind)):
                    if isinstance(action, dsl.TaskAction) and action.task.due is not None:
                        yield action.task.due, ("states", name, kind, a, "task", "due")
        for ti, test in enumerate(self.j.tests):
            for si, step in enumerate(test.steps):
                if isinstance(step, dsl.AdvanceStep):
                    yield step.advance, ("tests", ti, "steps", si, "advance")

    # --- one state -------------------------------------------------------------

    def check_state(self, name: str, state: dsl.State) -> None:
        base: Path_ = ("states", name)
        if self.j.stages and state.stage is not None and state.stage not in self.j.stages:
            self.report(
                "JF311",
                f"stage {state.stage!r} of state {name!r} is not one of the "
                f"journey's stages ({_listing(self.j.stages)})"
                f"{_did_you_mean(state.stage, self.j.stages)}",
                (*base, "stage"),
            )
        if state.final:
            if state.transitions:
                self.warn(
                    "JF604",
                    f"final state {name!r} has transitions: the enrolment "
                    "completes on entering it, so they never fire; remove them or "
                    "`final: true`",
                    (*base, "transitions"),
                    key=True,
                )
            for i, action in enumerate(state.on_exit):
                if isinstance(action, dsl.SendAction):
                    self.warn(
                        "JF603",
                        f"send in on_exit of final state {name!r} never "
                        "happens: a final state is never exited; move it to on_enter",
                        (*base, "on_exit", i),
                    )
            return
        if not state.transitions:
            self.report(
                "JF304",
                f"state {name!r} is a trap: it is not final and has no "
                "transitions, so its customers stay for ever; add a transition or "
                "`final: true`",
                base,
                key=True,
            )
            return
        splits = [t for t in state.transitions if t.split is not None]
        if splits and len(state.transitions) > 1:
            self.report(
                "JF308",
                f"split state {name!r} holds other transitions: a split "
                "leaves at once on entry, so the others never fire; move them to "
                "another state",
                (*base, "transitions"),
                key=True,
            )
        for i, t in enumerate(state.transitions):
            self.check_transition(name, i, t)
        events = ", ".join(dict.fromkeys(t.on for t in state.transitions if t.on))
        if events and not any(t.after or t.at or t.split for t in state.transitions):
            self.warn(
                "JF601",
                f"state {name!r} waits for events ({events}) with no timer: "
                "its customers may wait for ever — often intended (waiting for a "
                "contract); add an `after:` transition to move them on",
                base,
                key=True,
            )

    def check_transition(self, state: str, index: int, t: dsl.Transition) -> None:
        path: Path_ = ("states", state, "transitions", index)
        where = f"transition {index + 1} of state {state!r}"
        triggers = t.triggers
        if not triggers:
            self.report(
                "JF305",
                f"{where} has no trigger: give it one of `on: event`, "
                "`after: 14d`, `at: <CEL time>` or `split:`",
                path,
            )
        elif len(triggers) > 1:
            both = " and ".join(f"`{x}`" for x in triggers)
            self.report(
                "JF305",
                f"{where} has {len(triggers)} triggers ({both}): a "
                "transition has exactly one; write one transition per trigger",
                (*path, triggers[1]),
                key=True,
            )
        if t.split is None and t.to is None and not t.internal:
            self.report(
                "JF306",
                f"{where} has no `to`: add `to: <state>` (or "
                "`internal: true` to stay without leaving)",
                path,
            )
        if t.split is not None and t.to is not None:
            self.report(
                "JF306",
                f"{where} has both `split` and `to`: the branches say where to go; remove `to`",
                (*path, "to"),
                key=True,
            )
        for target, tpath in self._targets(t, path):
            if target not in self.j.states:
                self.report(
                    "JF301",
                    f"{where} goes to undefined state {target!r}"
                    f"{_did_you_mean(target, self.j.states)} (states: "
                    f"{_listing(self.j.states)})",
                    tpath,
                )
        if t.split is not None:
            for b, branch in enumerate(t.split):
                if branch.weight <= 0:
                    self.report(
                        "JF307",
                        f"split branch {b + 1} of {where} has weight "
                        f"{branch.weight}: weights are positive whole percentages",
                        (*path, "split", b, "weight"),
                    )
            total = sum(b.weight for b in t.split)
            if total != 100:
                self.report(
                    "JF307",
                    f"split weights of {where} sum to {total}, not 100: "
                    "make the percentages add up to 100",
                    (*path, "split"),
                    key=True,
                )
        if t.internal and t.to is not None and t.to != state:
            self.warn(
                "JF605",
                f"{where} is `internal` but goes to {t.to!r}: only a "
                "self-transition can be internal, so the flag is ignored; remove it",
                (*path, "internal"),
                key=True,
            )

    @staticmethod
    def _targets(t: dsl.Transition, path: Path_) -> Iterator[tuple[str, Path_]]:
        if t.split is not None:
            for b, branch in enumerate(t.split):
                yield branch.to, (*path, "split", b, "to")
        elif t.to is not None:
            yield t.to, (*path, "to")

    # --- the graph -------------------------------------------------------------

    def check_split_cycles(self) -> None:
        # Each customer's branch at a split state is fixed (a hash of customer,
        # journey and state), so if splits lead back to a split already passed,
        # the customers whose branches close that loop would go round it for
        # ever: the engine stops them at run time with an error in their
        # history; here the author hears of it before anyone enrols.
        branches: dict[str, list[tuple[int, int, str]]] = {}
        for name, state in self.j.states.items():
            for i, t in enumerate(state.transitions):
                for b, branch in enumerate(t.split or ()):
                    branches.setdefault(name, []).append((i, b, branch.to))
        reach: dict[str, set[str]] = {}
        for start in branches:
            seen: set[str] = set()
            todo = [to for _, _, to in branches[start]]
            while todo:
                name = todo.pop()
                if name in branches and name not in seen:
                    seen.add(name)
                    todo.extend(to for _, _, to in branches[name])
            reach[start] = seen
        reported: set[frozenset[str]] = set()
        for name in branches:  # file order: report each loop at its first state
            if name not in reach[name]:
                continue
            loop = frozenset(m for m in reach[name] if name in reach[m])
            if loop in reported:
                continue
            reported.add(loop)
            i, b, to = next(x for x in branches[name] if x[2] in loop)
            circle = " -> ".join(repr(m) for m in [name, *_path_back(branches, to, name)])
            self.report(
                "JF315",
                f"split states lead round in a loop ({circle}): a customer "
                "whose branches close it would split for ever; send a branch to a "
                "state that waits for an event or a timer",
                ("states", name, "transitions", i, "split", b, "to"),
            )

    def check_reachability(self) -> None:
        if self.j.initial not in self.j.states:
            return  # JF302 said it; every state would look unreachable
        roots = {self.j.initial} | {
            target for m in self.j.migrations for target in m.states.values()
        }
        seen: set[str] = set()
        todo = [r for r in roots if r in self.j.states]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for t in self.j.states[name].transitions:
                todo.extend(x for x in t.targets if x in self.j.states)
        for name in self.j.states:
            if name not in seen:
                self.report(
                    "JF303",
                    f"state {name!r} is unreachable from initial state "
                    f"{self.j.initial!r}: no transition leads to it; add one or "
                    "remove the state",
                    ("states", name),
                    key=True,
                )

    def check_migrations_and_tests(self) -> None:
        for m, migration in enumerate(self.j.migrations):
            for old, new in migration.states.items():
                if new not in self.j.states:
                    self.report(
                        "JF312",
                        f"migration from version {migration.from_version} "
                        f"moves {old!r} to undefined state {new!r}"
                        f"{_did_you_mean(new, self.j.states)}",
                        ("migrations", m, "states", old),
                    )
        for ti, test in enumerate(self.j.tests):
            for si, step in enumerate(test.steps):
                if not isinstance(step, dsl.ExpectStep):
                    continue
                path: Path_ = ("tests", ti, "steps", si, "expect")
                exp = step.expect
                if exp.state is not None and exp.state not in self.j.states:
                    self.report(
                        "JF313",
                        f"step {si + 1} of test {test.name!r} expects state "
                        f"{exp.state!r}, which does not exist"
                        f"{_did_you_mean(exp.state, self.j.states)} (states: "
                        f"{_listing(self.j.states)})",
                        (*path, "state"),
                    )
                if exp.stage is not None and exp.stage not in self._stages():
                    self.report(
                        "JF313",
                        f"step {si + 1} of test {test.name!r} expects stage "
                        f"{exp.stage!r}, which no state has"
                        f"{_did_you_mean(exp.stage, self._stages())} (stages: "
                        f"{_listing(self._stages())})",
                        (*path, "stage"),
                    )

    def _stages(self) -> set[str]:
        return set(self.j.stages) | {s.stage for s in self.j.states.values() if s.stage}

    # --- CEL -------------------------------------------------------------------

    def check_expressions(self) -> None:
        for source, path in self._expressions():
            entry = path[0] == "entry"  # no enrolment yet: `enrolment` is not in scope
            self.check_cel(source, path, ENTRY_NAMES if entry else JOURNEY_NAMES)
        self.check_eventless()

    def _expressions(self) -> Iterator[tuple[str, Path_]]:
        j = self.j
        for fname in ("when", "key"):
            value = getattr(j.entry, fname)
            if value is not None:
                yield value, ("entry", fname)
        for i, rule in enumerate(j.exit):
            if rule.when is not None:
                yield rule.when, ("exit", i, "when")
        for name, state in j.states.items():
            base: Path_ = ("states", name)
            for kind in ("on_enter", "on_exit"):
                for a, action in enumerate(getattr(state, kind)):
                    yield from _action_values(action, (*base, kind, a))
            for i, t in enumerate(state.transitions):
                tpath: Path_ = (*base, "transitions", i)
                for fname in ("when", "at"):
                    value = getattr(t, fname)
                    if value is not None:
                        yield value, (*tpath, fname)
                for a, action in enumerate(t.actions):
                    yield from _action_values(action, (*tpath, "actions", a))

    def check_cel(self, source: str, path: Path_, names: frozenset[str] = JOURNEY_NAMES) -> None:
        functions = self.known.functions if self.known else frozenset()
        try:
            compile_expression(source, names=names, functions=functions)
            unknown = unknown_field(source)
            if unknown is not None:
                root, name = unknown
                raise ExpressionError(
                    f"unknown name '{root}.{name}' in {source!r}: {root} has "
                    f"{', '.join(FIELDS[root])}{_did_you_mean(name, FIELDS[root])}"
                )
        except ExpressionLimitError as exc:
            self.report(exc.code, str(exc), path)
        except ExpressionError as exc:
            text = str(exc)
            if text.startswith("unknown name"):
                found = re.match(r"unknown name '([^'.]*)'", text)
                hint = _did_you_mean(found.group(1), names) if found else ""
                if found and found.group(1) == "enrolment" and "enrolment" not in names:
                    hint = ": there is no enrolment yet when entry.when and entry.key run"
                self.report("JF402", text + hint, path)
            elif text.startswith("unknown function"):
                if self.known is None:
                    self.warn("JF403", f"{text}; fine if a plugin provides it", path)
                else:
                    self.report(
                        "JF403", f"{text}; plugins add: {_listing(self.known.functions)}", path
                    )
            else:
                self.report("JF401", text + ": fix the expression (see docs/cel.md)", path)

    def check_eventless(self) -> None:
        """JF606: `event` read where it is empty. A timer's transition runs with
        no event: its guard and actions, the on_exit of the state it leaves,
        and everything the state it enters evaluates on entry (on_enter, `at:`,
        a split's actions, and so on through splits)."""
        states = self.j.states
        entered_by: dict[str, str] = {}  # state -> how a timer enters it
        queue: list[str] = []
        for name, state in states.items():
            for t in state.transitions:
                if (t.after or t.at) and t.to in states and not (t.internal and t.to == name):
                    how = f"`after: {t.after}`" if t.after else f"`at: {t.at}`"
                    if t.to not in entered_by:
                        entered_by[t.to] = f"{how} from {name!r}"
                        queue.append(t.to)
        for name in queue:  # through splits, at once on entry: still no event
            for t in states[name].transitions:
                for branch in t.split or []:
                    if branch.to in states and branch.to not in entered_by:
                        entered_by[branch.to] = f"a split of {name!r}, {entered_by[name]}"
                        queue.append(branch.to)
        for name, state in states.items():
            base: Path_ = ("states", name)
            for i, t in enumerate(state.transitions):
                if not (t.after or t.at):
                    continue
                tpath: Path_ = (*base, "transitions", i)
                timer = f"the timer of transition {i + 1} of state {name!r}"
                run: list[tuple[str, Path_]] = []
                if t.when is not None:
                    run.append((t.when, (*tpath, "when")))
                for a, action in enumerate(t.actions):
                    run += _action_values(action, (*tpath, "actions", a))
                if not (t.internal and t.to in (None, name)):  # an internal one stays
                    for a, action in enumerate(state.on_exit):
                        run += _action_values(action, (*base, "on_exit", a))
                for source, path in run:
                    self._eventless(source, path, f"{timer} runs it with no event")
            if name not in entered_by:
                continue
            why = f"state {name!r} can be entered by a timer ({entered_by[name]}), with no event"
            found: list[tuple[str, Path_]] = []
            for a, action in enumerate(state.on_enter):
                found += _action_values(action, (*base, "on_enter", a))
            for i, t in enumerate(state.transitions):
                if t.at is not None:
                    found.append((t.at, (*base, "transitions", i, "at")))
                if t.split is not None:
                    for a, action in enumerate(t.actions):
                        found += _action_values(action, (*base, "transitions", i, "actions", a))
            for source, path in found:
                self._eventless(source, path, why)

    def _eventless(self, source: str, path: Path_, why: str) -> None:
        reads = [f"event.{field}" for root, field in field_reads(source) if root == "event"]
        if not reads:
            return
        key = (source, path)
        if key in self._eventless_seen:
            return
        self._eventless_seen.add(key)
        self.warn(
            "JF606",
            f"`{reads[0]}` is empty here: {why}; use `trigger.` for the event that "
            "started the enrolment (or keep a value with a `vars:` action)",
            path,
        )

    # --- names that plugins register ---------------------------------------------

    def check_names(self) -> None:
        for channel, path in self._channels():
            self._name(
                "JF501",
                "channel",
                channel,
                path,
                FIRST_PARTY_CHANNELS,
                self.known.channels if self.known else None,
            )
        if self.j.vertical is not None:
            self._name(
                "JF504",
                "vertical",
                self.j.vertical,
                ("vertical",),
                BUILTIN_VERTICALS,
                self.known.verticals if self.known else None,
            )
        if self.known is None:
            return  # no registry for segments and KPIs: nothing to compare with
        segment = self.j.entry.segment
        if segment is not None and not (
            segment in self.known.segments or segment.split(":", 1)[0] in self.known.segments
        ):
            self._name(
                "JF502", "segment", segment, ("entry", "segment"), frozenset(), self.known.segments
            )
        for i, kpi in enumerate(self.j.kpis):
            self._name("JF503", "KPI", kpi, ("kpis", i), frozenset(), self.known.kpis)

    def _name(
        self,
        code: str,
        noun: str,
        name: str,
        path: Path_,
        first_party: frozenset[str],
        registered: frozenset[str] | None,
    ) -> None:
        if registered is None:
            if name not in first_party:
                self.warn(
                    code,
                    f"no first-party {noun} is called {name!r}"
                    f"{_did_you_mean(name, first_party)} (first-party: "
                    f"{_listing(first_party)}); a plugin must register it",
                    path,
                )
        elif name not in registered:
            self.report(
                code,
                f"{noun} {name!r} is not registered by any installed plugin"
                f"{_did_you_mean(name, registered)} (registered: "
                f"{_listing(registered)})",
                path,
            )

    def _channels(self) -> Iterator[tuple[str, Path_]]:
        for name, state in self.j.states.items():
            groups: list[tuple[Path_, list[Any]]] = [
                (("states", name, kind), getattr(state, kind)) for kind in ("on_enter", "on_exit")
            ]
            groups += [
                (("states", name, "transitions", i, "actions"), t.actions)
                for i, t in enumerate(state.transitions)
            ]
            for base, actions in groups:
                for a, action in enumerate(actions):
                    if isinstance(action, dsl.SendAction):
                        yield action.send, (*base, a, "send")
                    elif isinstance(action, dsl.TaskAction):
                        yield "task", (*base, a, "task")

    # --- transitions that never fire -----------------------------------------------

    def check_shadowed(self) -> None:
        exits: dict[str, int] = {}
        for i, rule in enumerate(self.j.exit):
            if rule.when is None:
                for event in rule.on:
                    exits.setdefault(event, i)
        for name, state in self.j.states.items():
            if state.final:
                continue
            unguarded: dict[str, int] = {}
            for i, t in enumerate(state.transitions):
                if t.on is None:
                    continue
                path: Path_ = ("states", name, "transitions", i)
                if t.on in exits:
                    self.warn(
                        "JF602",
                        f"transition {i + 1} of state {name!r} never fires: "
                        f"exit rule {exits[t.on] + 1} (no `when`) ends the enrolment on "
                        f"{t.on!r} first",
                        (*path, "on"),
                    )
                elif t.on in unguarded:
                    self.warn(
                        "JF602",
                        f"transition {i + 1} of state {name!r} never fires: "
                        f"transition {unguarded[t.on] + 1} on {t.on!r} has no `when` and "
                        "always wins (first match in file order); add a `when` to the "
                        "earlier one or reorder",
                        (*path, "on"),
                    )
                if t.when is None:
                    unguarded.setdefault(t.on, i)
            stuck = state.transitions and all(t.on in exits for t in state.transitions)
            if stuck:
                for a, action in enumerate(state.on_enter):
                    if isinstance(action, dsl.SendAction):
                        self.warn(
                            "JF603",
                            f"after this send the journey can never move: "
                            f"every way out of state {name!r} is an event that an exit "
                            "rule ends the enrolment on first",
                            ("states", name, "on_enter", a),
                        )


def _action_values(action: Any, path: Path_) -> Iterator[tuple[str, Path_]]:
    """CEL of an action: its `when:`, and strings starting with `=` in set,
    vars, data and properties (the same places the engine compiles)."""
    when = getattr(action, "when", None)
    if when is not None:
        yield when, (*path, "when")
    fields: dict[type, str] = {
        dsl.SetAction: "set",
        dsl.VarsAction: "vars",
        dsl.SendAction: "data",
        dsl.EmitAction: "properties",
    }
    fname = fields.get(type(action))
    if fname is None:
        return
    for key, value in getattr(action, fname).items():
        if isinstance(value, str) and value.startswith("="):
            yield value[1:], (*path, fname, key)
