"""reports.kpis: KPI collectors over a window, and a journey's stage history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from journeyflow.exceptions import JourneyflowError
from journeyflow.reports.kpis import format_kpi_report, kpi_report, stage_history
from journeyflow.runtime.engine import Engine
from journeyflow.store import MemoryStore
from journeyflow.types import KpiCollector, StageHistory
from tests.helpers import at

START, END = at("2026-01-01T00:00:00Z"), at("2026-01-15T00:00:00Z")


def _signups(events: Iterable[Mapping[str, Any]], start: datetime, end: datetime) -> float | None:
    times = [at(e["timestamp"]) for e in events if e.get("event") == "signed_up"]
    return float(sum(start <= t < end for t in times))


def _days_in_stage(
    history: StageHistory, start: datetime, end: datetime
) -> Mapping[str, float | None]:
    """Enrolments entering each stage (a stand-in for a real per-stage KPI)."""
    entered = {s: 0.0 for s in history.stages}
    for move in history.moves:
        stage = history.state_stages.get(move["to_state"] or "")
        if stage and move["kind"] in ("enter", "transition"):
            entered[stage] += 1
    return {s: n or None for s, n in entered.items()}


def _broken(events: Iterable[Mapping[str, Any]], start: datetime, end: datetime) -> float | None:
    raise ZeroDivisionError("division by zero")


KPIS = {
    "signups": KpiCollector("signups", "Sign-ups", _signups, unit="customers"),
    "growth": KpiCollector("growth", "Growth", lambda e, s, u: None, unit="%"),
    "days_in_stage": KpiCollector(
        "days_in_stage",
        "Entries per stage",
        lambda e, s, u: None,
        unit="enrolments",
        per_stage=_days_in_stage,
    ),
}


def test_stage_history_of_a_run(trial_run: Engine) -> None:
    history, named = stage_history(trial_run.store, "trial")
    assert named == ["signups", "no_such_kpi", "days_in_stage"]
    assert history.journey == "trial"
    assert history.stages == ("lead", "customer")
    assert history.state_stages == {"welcome": "lead", "reminded": "lead", "customer": "customer"}
    b = [
        (m["kind"], m["from_state"], m["to_state"])
        for m in history.moves
        if m["customer_id"] == "b"
    ]
    assert b == [
        ("enter", None, "welcome"),
        ("transition", "welcome", "reminded"),
        ("transition", "reminded", "customer"),
        ("complete", "customer", None),
    ]
    assert [m["at"] for m in history.moves] == sorted(m["at"] for m in history.moves)


def test_stage_history_of_an_unknown_journey() -> None:
    with pytest.raises(JourneyflowError, match="'nope' has never run on this database"):
        stage_history(MemoryStore(), "nope")


def test_every_kpi_without_a_journey(trial_run: Engine) -> None:
    report = kpi_report(trial_run.store, KPIS, START, END)
    assert report == {
        "since": "2026-01-01T00:00:00+00:00",
        "until": "2026-01-15T00:00:00+00:00",
        "previous_since": "2025-12-18T00:00:00+00:00",
        "kpis": {
            "growth": {"title": "Growth", "unit": "%", "value": None},
            "signups": {"title": "Sign-ups", "unit": "customers", "value": 6.0},
        },
        "not_registered": [],
    }
    assert format_kpi_report(report) == (
        "KPIs 2026-01-01T00:00:00+00:00 to 2026-01-15T00:00:00+00:00 (growth compares "
        "with 2025-12-18T00:00:00+00:00 to 2026-01-01T00:00:00+00:00)\n"
        "  growth   —  (not enough data)         Growth\n"
        "  signups  6.00 customers               Sign-ups"
    )


def test_the_kpis_a_journey_names_and_its_funnel(trial_run: Engine) -> None:
    report = kpi_report(trial_run.store, KPIS, START, END, "trial")
    assert list(report["kpis"]) == ["signups"]
    assert report["not_registered"] == ["no_such_kpi"]
    assert report["journey"] == {
        "name": "trial",
        "stages": {"lead": {"days_in_stage": 8.0}, "customer": {"days_in_stage": 2.0}},
        "units": {"days_in_stage": "enrolments"},
    }
    assert format_kpi_report(report).splitlines()[1:] == [
        "  signups  6.00 customers               Sign-ups",
        "  not computed (no installed plugin registers them): no_such_kpi",
        "",
        "funnel of trial:",
        "  stage                        days_in_stage",
        "  lead                                     8",
        "  customer                                 2",
    ]


def test_no_collectors() -> None:
    report = kpi_report(MemoryStore(), {}, START, START + timedelta(days=1))
    assert format_kpi_report(report).splitlines()[1:] == [
        "  (no KPI collectors: install journeyflow-kpis)"
    ]


def test_a_failing_collector_is_named() -> None:
    broken = {"broken": KpiCollector("broken", "Broken", _broken)}
    with pytest.raises(JourneyflowError, match="KPI 'broken' failed: ZeroDivisionError"):
        kpi_report(MemoryStore(), broken, START, END)
