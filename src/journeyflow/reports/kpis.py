"""The KPI report: the installed KPI collectors over a window of stored events,
and, for one journey, its per-stage indicators from its stage history.

`kpi_report` builds a JSON-ready dict (what `journeyflow kpis --format json`
prints); `format_kpi_report` is its text form. `stage_history` is the input of
the per-stage collectors: a journey's funnel and its enrolments' moves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from journeyflow.clock import as_utc
from journeyflow.definition.loader import load_text
from journeyflow.exceptions import JourneyflowError
from journeyflow.store.base import Store
from journeyflow.types import KpiCollector, StageHistory


def kpi_report(
    store: Store,
    kpis: dict[str, KpiCollector],
    start: datetime,
    end: datetime,
    journey: str | None = None,
) -> dict[str, Any]:
    """The KPIs over [start, end) as a JSON-ready dict.

    Growth KPIs compare with the window of the same length before `start`, so
    the events from there on are read. Without `journey`: every collector
    that is not per stage. With it: the KPIs the journey and its states name
    (those no collector computes are listed under `not_registered`), and under
    `journey` the per-stage collectors' values per funnel stage.

    :raises JourneyflowError: the journey is not in the store, or a collector failed
    """
    wanted = sorted(n for n, k in kpis.items() if k.per_stage is None)
    missing: list[str] = []
    history: StageHistory | None = None
    if journey is not None:
        history, named = stage_history(store, journey)
        missing = [n for n in named if n not in kpis]
        wanted = [n for n in named if n in kpis and kpis[n].per_stage is None]
    previous = start - (end - start)
    events = [e for e in store.iter_events(previous)]
    values: dict[str, Any] = {}
    for name in wanted:
        k = kpis[name]
        values[name] = {"title": k.title, "unit": k.unit, "value": _safe(k, events, start, end)}
    report: dict[str, Any] = {
        "since": start.isoformat(),
        "until": end.isoformat(),
        "previous_since": previous.isoformat(),
        "kpis": values,
        "not_registered": missing,
    }
    if history is not None:
        per_stage = {n: k for n, k in sorted(kpis.items()) if k.per_stage is not None}
        stages: dict[str, dict[str, float | None]] = {s: {} for s in history.stages}
        for name, k in per_stage.items():
            assert k.per_stage is not None
            for stage, value in k.per_stage(history, start, end).items():
                stages.setdefault(stage, {})[name] = value
        report["journey"] = {
            "name": history.journey,
            "stages": stages,
            "units": {n: k.unit for n, k in per_stage.items()},
        }
    return report


def _safe(
    k: KpiCollector, events: list[dict[str, Any]], start: datetime, end: datetime
) -> float | None:
    try:
        return k.compute(events, start, end)
    except Exception as exc:  # one collector failing never hides the others
        raise JourneyflowError(f"KPI {k.name!r} failed: {type(exc).__name__}: {exc}") from exc


def stage_history(store: Store, journey: str) -> tuple[StageHistory, list[str]]:
    """A journey's funnel (from its stored versions, the newest winning) and
    history, and the KPI names it and its states list.

    :raises JourneyflowError: the journey has never run on this store
    """
    versions = sorted(store.journey_versions(journey))
    if not versions:
        raise JourneyflowError(
            f"journey {journey!r} has never run on this database; "
            "check the name (`journeyflow kpis` without --journey lists all)"
        )
    stages: list[str] = []
    state_stages: dict[str, str] = {}
    named: list[str] = []
    for version in versions:
        stored = store.journey_version(journey, version)
        assert stored is not None
        definition = load_text(stored[1], f"<stored {journey} v{version}>").journey
        stages = list(definition.stages) or stages
        named = [*definition.kpis]
        for state_name, state in definition.states.items():
            if state.stage is not None:
                state_stages[state_name] = state.stage
            named.extend(state.kpis)
    moves = tuple(
        {
            "enrolment_id": h.enrolment_id,
            "customer_id": h.customer_id,
            "kind": h.kind,
            "from_state": h.from_state,
            "to_state": h.to_state,
            "at": as_utc(h.at),
        }
        for h in sorted(store.get_history(None, journey), key=lambda h: (h.at, h.seq))
    )
    return (StageHistory(journey, tuple(stages), state_stages, moves), list(dict.fromkeys(named)))


def format_kpi_report(report: dict[str, Any]) -> str:
    """`kpi_report`'s result as text: one line per KPI, then the funnel table."""
    lines = [
        f"KPIs {report['since']} to {report['until']} "
        f"(growth compares with {report['previous_since']} to {report['since']})"
    ]
    width = max((len(n) for n in report["kpis"]), default=0)
    for name, k in report["kpis"].items():
        lines.append(f"  {name:<{width}}  {_fmt(k['value'], k['unit']):<28} {k['title']}")
    if not report["kpis"]:
        lines.append("  (no KPI collectors: install journeyflow-kpis)")
    if report["not_registered"]:
        lines.append(
            f"  not computed (no installed plugin registers them): "
            f"{', '.join(report['not_registered'])}"
        )
    journey = report.get("journey")
    if journey:
        lines.append(f"\nfunnel of {journey['name']}:")
        if not journey["stages"]:
            lines.append("  (the journey declares no `stages:`)")
        names = list(journey["units"])
        lines.append("  " + f"{'stage':<20}" + "".join(f"{n:>22}" for n in names))
        for stage, values in journey["stages"].items():
            cells = "".join(f"{_cell(values.get(n), journey['units'][n]):>22}" for n in names)
            lines.append(f"  {stage:<20}{cells}")
    return "\n".join(lines)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—  (not enough data)"
    shown = f"{value:,.0f}" if unit in ("enrolments", "actions") else f"{value:,.2f}"
    return f"{shown} {unit}".rstrip()


def _cell(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if unit == "enrolments" else f"{value:,.1f} {unit}"
