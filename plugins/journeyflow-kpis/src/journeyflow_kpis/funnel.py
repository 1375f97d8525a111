"""Per-stage KPIs from a journey's history (`StageHistory`).

A *visit* to a stage starts when an enrolment enters a state of that stage
from a state of another stage (or enters the journey there) and ends when it
moves to a state of another stage, or when the enrolment exits or converts.
Reaching a final state completes the enrolment: a visit to the final state's
stage counts as an entry (and for conversion) but has no time in stage.
States without a `stage:` belong to no stage. Migrations between versions
count as moves.

- `stage_entries`: visits that started in [start, end);
- `funnel_conversion`: of the enrolments whose visit to stage i started in
  [start, end), the % that reached any later stage (i+1, i+2...) by `end`;
  None for the last stage and for a stage nobody entered;
- `time_in_stage`: mean days of the visits that ended in [start, end)
  (visits still open at `end` are not counted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from journeyflow import StageHistory

_MOVES = ("enter", "transition", "migrate")
_ENDS = ("exit", "complete")


@dataclass(frozen=True)
class Visit:
    enrolment_id: str
    stage: str
    started: datetime
    ended: datetime | None  # None: still there
    final: bool = False  # the enrolment completed on entering it: no time spent


def visits(history: StageHistory) -> list[Visit]:
    """Every stage visit, per enrolment in order."""
    per_enrolment: dict[str, list[Mapping[str, object]]] = {}
    for move in history.moves:
        per_enrolment.setdefault(str(move["enrolment_id"]), []).append(move)
    found: list[Visit] = []
    for enrolment, moves in per_enrolment.items():
        stage: str | None = None
        since: datetime | None = None
        for move in moves:
            kind, at = move["kind"], move["at"]
            assert isinstance(at, datetime)
            if kind in _MOVES:
                to_state = move.get("to_state")
                new = history.state_stages.get(str(to_state)) if to_state else None
                if new == stage:
                    continue
                if stage is not None and since is not None:
                    found.append(Visit(enrolment, stage, since, at))
                stage, since = new, at
            elif kind in _ENDS:
                if stage is not None and since is not None:
                    found.append(
                        Visit(enrolment, stage, since, at, final=kind == "complete" and since == at)
                    )
                stage, since = None, None
        if stage is not None and since is not None:
            found.append(Visit(enrolment, stage, since, None))
    return found


def stage_entries(
    history: StageHistory, start: datetime, end: datetime
) -> Mapping[str, float | None]:
    counts: dict[str, float | None] = {s: 0.0 for s in history.stages}
    for visit in visits(history):
        if start <= visit.started < end and visit.stage in counts:
            counts[visit.stage] = (counts[visit.stage] or 0.0) + 1
    return counts


def funnel_conversion(
    history: StageHistory, start: datetime, end: datetime
) -> Mapping[str, float | None]:
    order = {stage: i for i, stage in enumerate(history.stages)}
    all_visits = visits(history)
    entered: dict[str, set[str]] = {s: set() for s in history.stages}
    # the furthest stage each enrolment reached by `end`
    furthest: dict[str, int] = {}
    for visit in all_visits:
        if visit.stage not in order or visit.started >= end:
            continue
        furthest[visit.enrolment_id] = max(furthest.get(visit.enrolment_id, -1), order[visit.stage])
    later: dict[str, set[str]] = {s: set() for s in history.stages}
    for visit in all_visits:
        if visit.stage in order and start <= visit.started < end:
            entered[visit.stage].add(visit.enrolment_id)
    for stage, ids in entered.items():
        later[stage] = {e for e in ids if furthest.get(e, -1) > order[stage]}
    result: dict[str, float | None] = {}
    for stage in history.stages:
        last = order[stage] == len(history.stages) - 1
        n = len(entered[stage])
        result[stage] = None if last or n == 0 else 100.0 * len(later[stage]) / n
    return result


def time_in_stage(
    history: StageHistory, start: datetime, end: datetime
) -> Mapping[str, float | None]:
    spent: dict[str, list[float]] = {s: [] for s in history.stages}
    for visit in visits(history):
        if (
            visit.ended is not None
            and not visit.final
            and start <= visit.ended < end
            and visit.stage in spent
        ):
            spent[visit.stage].append((visit.ended - visit.started) / timedelta(days=1))
    return {stage: (sum(days) / len(days) if days else None) for stage, days in spent.items()}
