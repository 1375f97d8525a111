"""How much of the contract the model test's strategies reach.

Draws N scenarios from each strategy the model test uses, the way the test
draws them (hypothesis, generate phase only, a fixed seed), runs each through
the reference model (not the engine: the model is the contract) and prints the
share of scenarios in which each interesting thing happens at least once:

    .venv/bin/python -m tests.runtime.model.reach [N] [SEED]      # N=500, SEED=0

A strategy that reaches too little makes the model test pass without testing
much: `tests/runtime/test_model_agreement.py::test_strategies_reach_the_contract`
keeps the main shares above a floor on a small sample.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from journeyflow.definition import dsl

from .reference import AdvanceTo, Enrolment, Identify, Model, Segments, Track, _Event
from .strategies import Scenario, scenarios

# strategy name -> the strategy, as the model test draws it
STRATEGIES: dict[str, Callable[[], st.SearchStrategy[Scenario]]] = {
    "scenarios()": lambda: scenarios(),
    "scenarios(timers=True)": lambda: scenarios(timers=True),
    "scenarios(max_steps=15)": lambda: scenarios(max_steps=15),
}


class _Watching(Model):
    """The reference model, noting which kinds of timer fired (`after:` or `at:`),
    and how the enrolment context was used: what was read where, and which
    action guards held."""

    def __init__(self, journeys: list[dsl.Journey]) -> None:
        super().__init__(journeys)
        self.fired: Counter[str] = Counter()
        self.context: set[str] = set()

    def _eval(
        self,
        cid: str,
        out: Any,
        j: dsl.Journey,
        source: str,
        enrolment: Enrolment | None,
        event: _Event | None,
        at: Any,
        entry: bool = False,
    ) -> Any:
        value = super()._eval(cid, out, j, source, enrolment, event, at, entry)
        if "trigger.properties" in source and event is None:
            self.context.add("reads trigger.properties in a timer (no event)")
        if "enrolment.vars" in source:
            self.context.add("reads enrolment.vars")
        if "enrolment.key" in source or "enrolment.entered_at" in source:
            self.context.add("reads enrolment.key or entered_at")
        if "state.visits" in source and enrolment is not None:
            self.context.add("reads state.visits")
            if value is False and source == "state.visits < 3":
                self.context.add("a state.visits guard ends a self-loop")
        return value

    def _runs(
        self,
        cid: str,
        out: Any,
        j: dsl.Journey,
        action: Any,
        enrolment: Enrolment,
        event: _Event | None,
        at: Any,
    ) -> bool:
        runs = super()._runs(cid, out, j, action, enrolment, event, at)
        if action.when is not None:
            self.context.add("an action's when: is true" if runs else "an action's when: is false")
        if runs and isinstance(action, dsl.VarsAction):
            self.context.add("sets enrolment.vars")
        return runs

    def _take(
        self,
        cid: str,
        out: Any,
        j: dsl.Journey,
        enrolment: Enrolment,
        index: int,
        at: Any,
        event: _Event | None,
        depth: int,
        queue: Any,
    ) -> None:
        transition = j.states[enrolment.state].transitions[index]
        if transition.after is not None:
            self.fired["after"] += 1
        elif transition.at is not None:
            self.fired["at"] += 1
        super()._take(cid, out, j, enrolment, index, at, event, depth, queue)


def features(scenario: Scenario) -> set[str]:
    """What happens at least once when the model runs this scenario."""
    model = _Watching([j.journey for j in scenario.journeys])
    outcomes = model.run(scenario.timeline)
    found: set[str] = set()
    enrolments = [e for out in outcomes.values() for e in out.enrolments]
    history = [h for out in outcomes.values() for h in out.history]
    if enrolments:
        found.add("enrols someone")
    if model.fired:
        found.add("fires a timer")
    if model.fired["after"]:
        found.add("fires an after: timer")
    if model.fired["at"]:
        found.add("fires an at: timer")
    ids = [s.message_id for s in scenario.timeline if isinstance(s, Track | Identify)]
    if len(ids) != len(set(ids)):
        found.add("repeats a messageId")
        # the model test ingests the events between two AdvanceTo/Segments in one call
        call, first_call = 0, {}
        for s in scenario.timeline:
            if isinstance(s, AdvanceTo | Segments):
                call += 1
            elif s.message_id not in first_call:
                first_call[s.message_id] = call
            elif first_call[s.message_id] == call:
                found.add("repeats a messageId in one ingest call")
            else:
                found.add("repeats a messageId in a later ingest call")
    if any(h[3] == "exit" and str(h[6]).startswith("exit:") for h in history):
        found.add("exits by an exit rule")
    if any(e.status == "converted" for e in enrolments):
        found.add("converts (goal)")
    if any(h[6] == "re-entry" for h in history):
        found.add("re-enters (always)")
    if any(e.ordinal > 1 for e in enrolments):
        found.add("enrols a second time")
    if any(e.status == "completed" for e in enrolments):
        found.add("completes (final state)")
    if any(h[6] == "split" for h in history):
        found.add("takes a split")
    if any(h[3] == "internal" for h in history):
        found.add("internal transition")
    if any(e.key is not None for e in enrolments):
        found.add("keyed enrolment")
    if any(h[3] == "enter" and h[6] == "event:segment_entered" for h in history):
        found.add("enrols on a segment")
    if any(e.in_holdout for e in enrolments):
        found.add("holds someone out")
    if any(out.effects for out in outcomes.values()):
        found.add("sends or tasks")
    if any(out.errors for out in outcomes.values()):
        found.add("CEL error noted")
    found |= model.context
    if any(n > 1 for e in enrolments for n in e.visits.values()):
        found.add("enters a state again (state.visits > 1)")
    return found


def draw(make: Callable[[], st.SearchStrategy[Scenario]], n: int, at_seed: int) -> list[Scenario]:
    """n scenarios as the model test draws them (generation only, no shrinking)."""
    drawn: list[Scenario] = []

    @seed(at_seed)
    @settings(
        max_examples=n,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(make())
    def collect(scenario: Scenario) -> None:
        drawn.append(scenario)

    collect()
    return drawn


def shares(scenarios_: list[Scenario]) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for scenario in scenarios_:
        counts.update(features(scenario))
    return {name: counts[name] / len(scenarios_) for name in sorted(counts)}


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 500
    at_seed = int(argv[1]) if len(argv) > 1 else 0
    for name, make in STRATEGIES.items():
        drawn = draw(make, n, at_seed)
        print(f"{name}: {len(drawn)} scenarios")
        for feature, share in shares(drawn).items():
            print(f"  {feature:<46} {share:6.1%}")


if __name__ == "__main__":
    main(sys.argv[1:])
