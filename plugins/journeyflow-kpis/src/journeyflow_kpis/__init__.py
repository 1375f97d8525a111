"""KPI collectors: the agency flow's KPIs per client objective, and per-stage funnel KPIs.

Journeys name them in `kpis:`; `journeyflow kpis` prints them. Every event KPI
is `compute(events, start, end)` over [start, end); growth KPIs compare with
the previous window of equal length. `docs/segments-and-kpis.md` lists the
events and properties each reads.

Settings (environment, read when plugins load): `JOURNEYFLOW_KPI_PROMOTED_PRODUCT`,
`JOURNEYFLOW_KPI_LAUNCHED_PRODUCT` (a product_id or sku; unset: order items
marked `promoted: true` / `launched: true`), `JOURNEYFLOW_KPI_LOYAL_ORDERS`
(orders in the window that make a customer loyal, default 2).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from journeyflow import JourneyflowError, KpiCollector, hookimpl
from journeyflow_kpis.collectors import Settings, specs
from journeyflow_kpis.funnel import funnel_conversion, stage_entries, time_in_stage

__all__ = ["PER_STAGE", "Settings", "collectors", "settings_from_env"]

PER_STAGE = ("stage_entries", "funnel_conversion", "time_in_stage")


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    raw = env.get("JOURNEYFLOW_KPI_LOYAL_ORDERS", "2")
    try:
        loyal = int(raw)
    except ValueError:
        loyal = 0
    if loyal < 1:
        raise JourneyflowError(f"JOURNEYFLOW_KPI_LOYAL_ORDERS={raw!r}: write a whole number >= 1")
    return Settings(
        promoted_product=env.get("JOURNEYFLOW_KPI_PROMOTED_PRODUCT") or None,
        launched_product=env.get("JOURNEYFLOW_KPI_LAUNCHED_PRODUCT") or None,
        loyal_orders=loyal,
    )


def _per_stage_only(
    events: Iterable[Mapping[str, Any]], start: datetime, end: datetime
) -> float | None:
    return None  # a per-stage KPI: see `per_stage`


def collectors(settings: Settings | None = None) -> list[KpiCollector]:
    """Every KPI collector of this plugin."""
    settings = settings or settings_from_env()
    found = [
        KpiCollector(s.name, s.title, compute=s.compute, unit=s.unit, description=s.description)
        for s in specs(settings)
    ]
    found += [
        KpiCollector(
            "stage_entries",
            "Entries per stage",
            compute=_per_stage_only,
            unit="enrolments",
            per_stage=stage_entries,
            description="stage visits that started in the window",
        ),
        KpiCollector(
            "funnel_conversion",
            "Funnel conversion per stage",
            compute=_per_stage_only,
            unit="%",
            per_stage=funnel_conversion,
            description="% of the stage's entrants that reached a later stage",
        ),
        KpiCollector(
            "time_in_stage",
            "Time in stage",
            compute=_per_stage_only,
            unit="days",
            per_stage=time_in_stage,
            description="mean days of the stage visits that ended in the window",
        ),
    ]
    return found


@hookimpl
def journeyflow_kpis() -> Iterable[KpiCollector]:
    return collectors()
