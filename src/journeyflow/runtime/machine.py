"""A journey version compiled for running: the only module that imports `transitions`.

One `JourneyMachine` per journey version, shared by every customer: the graph
lives in a single model-less `transitions.Machine`, CEL is compiled once, and
a customer is just (state, entered_at, timers) in the store. We never build a
machine or add a model per customer or per event: that costs ~10x throughput
and 32-49 KB of memory per customer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from transitions import Machine, Transition

from journeyflow.definition import dsl
from journeyflow.definition.cel import Expression
from journeyflow.runtime.context import compile_in_context


def _cel(source: str | None, functions: frozenset[str]) -> Expression | None:
    return compile_in_context(source, functions) if source else None


@dataclass(frozen=True)
class CompiledAction:
    """An action with its CEL compiled: `=expr` strings in set/vars/data/properties,
    and its `when:` (None: always runs)."""

    spec: dsl.SendAction | dsl.SetAction | dsl.VarsAction | dsl.EmitAction | dsl.TaskAction
    values: Mapping[str, Any]  # name -> literal or Expression
    guard: Expression | None = None


@dataclass(frozen=True)
class CompiledTransition:
    state: str
    index: int  # position among the state's transitions
    spec: dsl.Transition
    guard: Expression | None
    at: Expression | None
    after: timedelta | None
    actions: tuple[CompiledAction, ...]

    @property
    def to(self) -> str | None:
        return self.spec.to

    @property
    def is_internal(self) -> bool:
        # `internal` only means something for a self-transition
        return self.spec.internal and self.spec.to in (None, self.state)

    def describe(self) -> str:
        if self.spec.on is not None:
            return f"event:{self.spec.on}"
        if self.spec.after is not None:
            return f"timer:after {self.spec.after}"
        if self.spec.at is not None:
            return f"timer:at {self.spec.at}"
        return "split"


class _JourneyTransition(Transition):
    """A `transitions` edge that also carries our compiled transition."""

    def __init__(
        self, *args: Any, compiled: CompiledTransition | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.compiled = compiled


class _GraphMachine(Machine):
    transition_cls = _JourneyTransition


@dataclass(frozen=True)
class ExitRule:
    events: frozenset[str]
    guard: Expression | None
    goal: bool


@dataclass
class JourneyMachine:
    """One journey version, ready to run."""

    journey: dsl.Journey
    content_hash: str
    functions: frozenset[str] = frozenset()
    graph: Any = field(init=False)
    timers_of: dict[str, tuple[CompiledTransition, ...]] = field(init=False)
    split_of: dict[str, CompiledTransition] = field(init=False)
    on_enter: dict[str, tuple[CompiledAction, ...]] = field(init=False)
    on_exit: dict[str, tuple[CompiledAction, ...]] = field(init=False)
    entry_guard: Expression | None = field(init=False)
    entry_key: Expression | None = field(init=False)
    exits: tuple[ExitRule, ...] = field(init=False)

    def __post_init__(self) -> None:
        j, fns = self.journey, self.functions
        self.graph = _GraphMachine(
            model=None,
            states=[{"name": n, "final": s.final} for n, s in j.states.items()],
            initial=j.initial,
            auto_transitions=False,
            ignore_invalid_triggers=True,
        )
        self.timers_of, self.split_of, self.on_enter, self.on_exit = {}, {}, {}, {}
        for name, state in j.states.items():
            timers: list[CompiledTransition] = []
            for index, spec in enumerate(state.transitions):
                compiled = CompiledTransition(
                    name,
                    index,
                    spec,
                    _cel(spec.when, fns),
                    _cel(spec.at, fns),
                    spec.after_delta,
                    tuple(self._action(a) for a in spec.actions),
                )
                if spec.on is not None:
                    self.graph.add_transition(
                        f"on:{spec.on}",
                        name,
                        None if compiled.is_internal else spec.to,
                        compiled=compiled,
                    )
                elif spec.split is not None:
                    self.split_of[name] = compiled
                else:
                    timers.append(compiled)
            self.timers_of[name] = tuple(timers)
            self.on_enter[name] = tuple(self._action(a) for a in state.on_enter)
            self.on_exit[name] = tuple(self._action(a) for a in state.on_exit)
        self.entry_guard = _cel(j.entry.when, fns)
        self.entry_key = _cel(j.entry.key, fns)
        self.exits = tuple(ExitRule(frozenset(r.on), _cel(r.when, fns), r.goal) for r in j.exit)

    def _action(self, action: Any) -> CompiledAction:
        raw: Mapping[str, Any] = {}
        if isinstance(action, dsl.SetAction):
            raw = action.set
        elif isinstance(action, dsl.VarsAction):
            raw = action.vars
        elif isinstance(action, dsl.SendAction):
            raw = action.data
        elif isinstance(action, dsl.EmitAction):
            raw = action.properties
        values = {
            k: compile_in_context(v[1:], self.functions)
            if isinstance(v, str) and v.startswith("=")
            else v
            for k, v in raw.items()
        }
        return CompiledAction(action, values, _cel(action.when, self.functions))

    @property
    def id(self) -> str:
        return self.journey.journey

    @property
    def version(self) -> int:
        return self.journey.version

    def candidates(self, state: str, event_name: str) -> list[CompiledTransition]:
        """The transitions an event may take from `state`, in file order."""
        event = self.graph.events.get(f"on:{event_name}")
        if event is None:
            return []
        return [t.compiled for t in event.transitions.get(state, ())]

    def is_final(self, state: str) -> bool:
        return self.journey.states[state].final


def stable_bucket(*parts: str) -> int:
    """A number 0..99 fixed by its inputs: same customer, same branch, every run."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def choose_branch(branches: list[dsl.SplitBranch], bucket: int) -> str:
    upto = 0
    for branch in branches:
        upto += branch.weight
        if bucket < upto:
            return branch.to
    return branches[-1].to
