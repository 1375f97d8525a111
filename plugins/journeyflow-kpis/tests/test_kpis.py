"""KPI collectors on hand-made events, per-stage KPIs on a real engine run,
and `journeyflow kpis`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import journeyflow_kpis
import pytest
from click.testing import CliRunner
from journeyflow_kpis import Settings, collectors, settings_from_env
from journeyflow_kpis.funnel import visits

from journeyflow import (
    Engine,
    JourneyflowError,
    MemoryStore,
    Registry,
    StageHistory,
    VirtualClock,
    build_manager,
    load_text,
)
from journeyflow.cli import main

START = datetime(2026, 6, 1, tzinfo=timezone.utc)
END = datetime(2026, 7, 1, tzinfo=timezone.utc)  # 30 days; the previous window starts May 2


def ev(name: str, day: float, user: str = "u1", **properties: Any) -> dict[str, Any]:
    """An event `day` days after START (negative: the previous window)."""
    return {
        "type": "track",
        "event": name,
        "userId": user,
        "timestamp": (START + timedelta(days=day)).isoformat(),
        "properties": properties,
    }


def kpi(name: str, events: list[dict[str, Any]], settings: Settings | None = None) -> float | None:
    found = {k.name: k for k in collectors(settings or Settings())}
    return found[name].compute(events, START, END)


def test_raise_revenue_kpis() -> None:
    events = [
        ev("order_completed", 0.5, "a", total=100),
        ev("order_completed", 0.7, "a", total=50),
        ev("order_completed", 0.9, "b", total=30),
        ev("order_completed", 3, "a", total=20),
        ev("order_refunded", 4, "b", total=30),
        ev("order_completed", 30, "z", total=999),
        ev("order_completed", -5, "c", total=100),
    ]
    assert kpi("customers_per_day", events) == pytest.approx(3 / 30)  # (day0: a, b) + (day3: a)
    assert kpi("average_ticket", events) == pytest.approx(50)
    assert kpi("revenue_growth", events) == pytest.approx(70.0)  # 170 on 100
    assert kpi("average_ticket", []) is None
    assert kpi("revenue_growth", events[:4]) is None  # nothing before: no growth


def test_product_sales_growth_by_configured_id_or_flag() -> None:
    items = [
        {"product_id": "p1", "price": 10, "quantity": 3},
        {"product_id": "p2", "price": 5, "promoted": True},
    ]
    events = [
        ev("order_completed", 1, products=items),
        ev("order_completed", -3, products=[{"sku": "p1", "price": 10}]),
        ev("order_completed", -2, product_id="p2", total=10),
    ]
    assert kpi(
        "promoted_product_sales_growth", events, Settings(promoted_product="p1")
    ) == pytest.approx(200.0)  # 30 on 10
    assert kpi("promoted_product_sales_growth", events) is None  # p2 flagged only now: 5 on 0
    assert kpi(
        "launched_product_sales_growth", events, Settings(launched_product="p2")
    ) == pytest.approx(-50.0)  # 5 on 10


def test_digital_presence_kpis() -> None:
    events = [
        ev("social_metrics", -10, platform="instagram", followers=1000, reach=500, interactions=50),
        ev("social_metrics", -1, platform="facebook", followers=200),
        ev("social_metrics", 5, platform="instagram", followers=1100, reach=1000, interactions=30),
        ev("social_metrics", 20, platform="instagram", reach=1000, interactions=70),
        ev("social_metrics", 29, platform="facebook", followers=260),
        ev("site_visited", 1),
        ev("site_visited", 2),
        ev("site_visited", 3),
        ev("site_visited", -1),
        ev("site_visited", -2),
        ev("ad_spend", 1, amount=300),
        ev("ad_spend", 2, cost=100),
        ev("ad_spend", -4, amount=1),
        ev("lead_captured", 3),
        ev("lead_captured", 4),
        ev("order_completed", 5, total=1),
    ]
    assert kpi("social_engagement_rate", events) == pytest.approx(5.0)  # 100 / 2000
    assert kpi("follower_growth", events) == pytest.approx(100 * (1360 - 1200) / 1200)
    assert kpi("site_traffic_growth", events) == pytest.approx(50.0)
    assert kpi("cost_per_lead", events) == pytest.approx(200.0)
    assert kpi("cost_per_sale", events) == pytest.approx(400.0)
    assert kpi("cost_per_sale", [ev("order_completed", 1)]) is None  # no spend reported
    assert kpi("follower_growth", [ev("social_metrics", 1, followers=3)]) is None


def test_brand_and_plan_kpis() -> None:
    events = [
        ev("email_opened", 1),
        ev("chat_started", 2),
        ev("ugc_posted", 3),
        ev("email_opened", -1),
        ev("page_viewed", 2),
        ev("order_completed", 1, "a"),
        ev("order_completed", 2, "a"),
        ev("order_completed", 1, "b"),
        ev("order_completed", 2, "b"),
        ev("order_completed", 3, "b"),
        ev("order_completed", 3, "c"),
        ev("order_completed", -3, "a"),
        ev("order_completed", -2, "a"),
        ev("plan_action_completed", 1, action="post"),
        ev("plan_action_completed", 9, action="ad"),
        ev("nps_answered", 1, score=10),
        ev("nps_answered", 2, score=9),
        ev("nps_answered", 3, score=3),
        ev("nps_answered", 4, score=8),
        ev("nps_answered", 5, score="x"),
    ]
    # opened, chat, UGC and five NPS answers on one earlier open
    assert kpi("customer_interactions_growth", events) == pytest.approx(700.0)
    assert kpi("loyal_customers_growth", events) == pytest.approx(100.0)  # a, b on a
    assert kpi("loyal_customers_growth", events, Settings(loyal_orders=3)) is None
    assert kpi("plan_actions_implemented", events) == 2
    assert kpi("repeat_purchase_rate", events) == pytest.approx(200 / 3)
    assert kpi("nps", events) == pytest.approx(25.0)  # (2 - 1) / 4


def test_settings_from_env() -> None:
    s = settings_from_env(
        {"JOURNEYFLOW_KPI_PROMOTED_PRODUCT": "sku-9", "JOURNEYFLOW_KPI_LOYAL_ORDERS": "3"}
    )
    assert s == Settings(promoted_product="sku-9", loyal_orders=3)
    with pytest.raises(JourneyflowError, match="whole number"):
        settings_from_env({"JOURNEYFLOW_KPI_LOYAL_ORDERS": "many"})


def test_hook_registers_the_agency_kpis_and_journeys_name_them() -> None:
    pm = build_manager(entry_points=False, disabled=())
    pm.register(journeyflow_kpis, name="kpis")
    registry = Registry.from_manager(pm)
    agency_kpis = {
        "customers_per_day",
        "average_ticket",
        "promoted_product_sales_growth",
        "revenue_growth",
        "social_engagement_rate",
        "follower_growth",
        "site_traffic_growth",
        "cost_per_lead",
        "cost_per_sale",
        "customer_interactions_growth",
        "loyal_customers_growth",
        "launched_product_sales_growth",
        "plan_actions_implemented",
    }
    assert agency_kpis <= set(registry.kpis)
    assert {n for n, k in registry.kpis.items() if k.per_stage} == set(journeyflow_kpis.PER_STAGE)
    load_text(
        FUNNEL.replace("stages:", "kpis: [revenue_growth, funnel_conversion]\nstages:"),
        known=registry.known_names(),
    )


# --- per stage ---------------------------------------------------------------------------

FUNNEL = """\
journey: funnel
version: 1
title: A three-stage funnel
stages: [lead, trial, customer]
entry: {on: [signed_up]}
initial: new
states:
  new:
    stage: lead
    transitions:
      - {on: qualified, to: nurtured}
      - {on: gave_up, to: gone}
  nurtured:
    stage: lead
    transitions:
      - {on: trial_started, to: trial}
  trial:
    stage: trial
    transitions:
      - {on: paid, to: customer}
      - {after: 14d, to: gone}
  customer: {stage: customer, final: true}
  gone: {final: true}
exit:
  - {on: unsubscribed}
"""


def _run_funnel() -> Engine:
    engine = Engine([load_text(FUNNEL, "funnel.yaml")], MemoryStore(), VirtualClock(START))
    script = [
        ("a", "signed_up", 0),
        ("a", "qualified", 1),
        ("a", "trial_started", 2),
        ("a", "paid", 6),
        ("b", "signed_up", 0),
        ("b", "trial_started", 4),  # not qualified: stays in lead
        ("c", "signed_up", 1),
        ("c", "qualified", 2),
        ("c", "trial_started", 3),
        ("d", "signed_up", 2),
        ("d", "gave_up", 5),
        ("e", "signed_up", 3),
        ("e", "unsubscribed", 4),
    ]
    for user, name, day in sorted(script, key=lambda s: s[2]):
        engine.ingest([ev(name, day, user)])
    engine.advance_to(END)  # c's trial times out on day 17
    return engine


def _history(engine: Engine) -> StageHistory:
    from journeyflow.reports.kpis import stage_history

    history, named = stage_history(engine.store, "funnel")
    assert named == []
    return history


def test_visits_and_per_stage_kpis_on_a_real_run() -> None:
    history = _history(_run_funnel())
    assert history.stages == ("lead", "trial", "customer")
    assert history.state_stages == {
        "new": "lead",
        "nurtured": "lead",
        "trial": "trial",
        "customer": "customer",
    }
    by_enrolment: dict[str, list[tuple[str, float | str | None]]] = {}
    customer_of = {m["enrolment_id"]: m["customer_id"] for m in history.moves}
    for v in visits(history):
        days = None if v.ended is None else (v.ended - v.started) / timedelta(days=1)
        days = "final" if v.final else days
        by_enrolment.setdefault(customer_of[v.enrolment_id], []).append((v.stage, days))
    assert by_enrolment == {
        "a": [("lead", 2), ("trial", 4), ("customer", "final")],
        "b": [("lead", None)],
        "c": [("lead", 2), ("trial", 14)],
        "d": [("lead", 3)],
        "e": [("lead", 1)],
    }
    found = {k.name: k for k in collectors(Settings())}
    entries = found["stage_entries"].per_stage(history, START, END)  # type: ignore[misc]
    assert entries == {"lead": 5, "trial": 2, "customer": 1}
    conversion = found["funnel_conversion"].per_stage(history, START, END)  # type: ignore[misc]
    assert conversion == {"lead": 40.0, "trial": 50.0, "customer": None}
    spent = found["time_in_stage"].per_stage(history, START, END)  # type: ignore[misc]
    assert spent == {"lead": pytest.approx(2.0), "trial": pytest.approx(9.0), "customer": None}
    early = found["funnel_conversion"].per_stage(  # type: ignore[misc]
        history, START, START + timedelta(days=2, hours=12)
    )
    # a, b, c, d entered the lead stage, only a moved on; a is in trial, not paid yet
    assert early == {"lead": 25.0, "trial": 0.0, "customer": None}


def test_kpis_command_text_and_json(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    journeys = tmp_path / "j"
    journeys.mkdir()
    # a journey-level KPI must be registered; a state's may be documentation only
    (journeys / "funnel.yaml").write_text(
        FUNNEL.replace("stages:", "kpis: [average_ticket]\nstages:").replace(
            "    stage: trial\n", "    stage: trial\n    kpis: [vip_rate]\n"
        )
    )
    source = tmp_path / "e.jsonl"
    lines = [
        ev("signed_up", 0, "a"),
        ev("qualified", 1, "a"),
        ev("trial_started", 2, "a"),
        ev("order_completed", 3, "a", total=40),
        ev("order_completed", -3, "b", total=10),
    ]
    source.write_text("".join(json.dumps(e) + "\n" for e in lines))
    runner = CliRunner()
    assert (
        runner.invoke(
            main, ["ingest", str(source), "-j", str(journeys), "-d", db, "--no-timers"]
        ).exit_code
        == 0
    )
    window = ["--since", "2026-06-01", "--until", "2026-07-01"]
    text = runner.invoke(main, ["kpis", "-d", db, *window])
    assert text.exit_code == 0, text.output
    assert "average_ticket" in text.output and "40.00 currency" in text.output
    assert "revenue_growth" in text.output and "300.00 %" in text.output
    data = json.loads(
        runner.invoke(
            main, ["kpis", "-d", db, *window, "--journey", "funnel", "--format", "json"]
        ).stdout
    )
    assert set(data["kpis"]) == {"average_ticket"} and data["not_registered"] == ["vip_rate"]
    assert data["journey"]["stages"]["lead"]["stage_entries"] == 1
    assert data["journey"]["stages"]["lead"]["funnel_conversion"] == 100.0
    funnel_text = runner.invoke(main, ["kpis", "-d", db, *window, "--journey", "funnel"])
    assert "funnel of funnel:" in funnel_text.output and "vip_rate" in funnel_text.output
    missing = runner.invoke(main, ["kpis", "-d", db, "--journey", "nope"])
    assert missing.exit_code == 1 and "has never run on this database" in missing.output
    backwards = runner.invoke(
        main, ["kpis", "-d", db, "--since", "2026-07-01", "--until", "2026-06-01"]
    )
    assert backwards.exit_code == 2
