"""RFM figures, scores, rules and registration on small hand-made data."""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import journeyflow_rfm
import pytest
from journeyflow_rfm import (
    DEFAULT_RULES,
    RfmConfig,
    RfmRule,
    RfmSegmenter,
    quintile,
    quintile_scores,
    rfm_table,
)
from journeyflow_rfm.scores import name_segment, segment_names

from journeyflow import CustomerFacts, JourneyflowError, Registry, build_manager, load_file

AT = datetime(2026, 7, 1, tzinfo=timezone.utc)
JOURNEYS = Path(__file__).resolve().parents[3] / "journeys"


def order(
    days_ago: float, total: Any, name: str = "order_completed", prop: str = "total"
) -> dict[str, Any]:
    return {
        "type": "track",
        "event": name,
        "userId": "x",
        "timestamp": (AT - timedelta(days=days_ago)).isoformat(),
        "properties": {prop: total},
    }


def facts(cid: str, *events: dict[str, Any]) -> CustomerFacts:
    return CustomerFacts(cid, {}, tuple(events))


# --- scores ---------------------------------------------------------------------------


def test_quintile_edges_by_hand() -> None:
    # n = 11: edges 1, 3, 5, 7, 9, 11
    assert [quintile(r, 11) for r in range(1, 12)] == [1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [quintile(r, 5) for r in range(1, 6)] == [1, 2, 3, 4, 5]
    assert [quintile(r, 2) for r in (1, 2)] == [1, 5]
    assert quintile(1, 1) == 3
    with pytest.raises(ValueError):
        quintile(0, 3)


def test_quintile_equals_pandas_qcut_of_ranks_for_every_size_up_to_600() -> None:
    pd = pytest.importorskip("pandas")
    for n in [*range(2, 600), 23_570, 100_001]:
        ranks = pd.Series(range(1, n + 1), dtype=float)
        expected = pd.qcut(ranks, 5, labels=[1, 2, 3, 4, 5]).astype(int).tolist()
        assert [quintile(r, n) for r in range(1, n + 1)] == expected, n


def test_scores_rank_ties_by_position_like_rank_first() -> None:
    pd = pytest.importorskip("pandas")
    values = [1, 1, 1, 1, 1, 1, 2, 2, 3, 9, 1, 2]
    s = pd.Series(values)
    expected = pd.qcut(s.rank(method="first"), 5, labels=[1, 2, 3, 4, 5]).astype(int).tolist()
    assert quintile_scores(values) == expected
    reverse = pd.qcut(s.rank(method="first"), 5, labels=[5, 4, 3, 2, 1]).astype(int).tolist()
    assert quintile_scores(values, higher_is_better=False) == reverse


# --- rules ----------------------------------------------------------------------------


def test_every_score_triple_has_exactly_one_default_segment() -> None:
    for r, f, m in itertools.product(range(1, 6), repeat=3):
        assert name_segment(DEFAULT_RULES, r, f, m) is not None, (r, f, m)


@pytest.mark.parametrize(
    ("score", "segment"),
    [
        ("555", "champions"),
        ("545", "champions"),
        ("554", "champions"),
        ("454", "loyal"),
        ("553", "loyal"),
        ("343", "loyal"),
        ("224", "at_risk"),
        ("131", "at_risk"),
        ("213", "at_risk"),
        ("155", "cant_lose"),
        ("244", "cant_lose"),
        ("111", "inactive"),
        ("122", "inactive"),
        ("211", "hibernating"),
        ("312", "about_to_sleep"),
        ("333", "need_attention"),
        ("515", "new"),
        ("414", "new"),
        ("523", "promising"),
        ("552", "promising"),
    ],
)
def test_crm_playbook_cells_and_the_other_segments(score: str, segment: str) -> None:
    r, f, m = (int(c) for c in score)
    assert name_segment(DEFAULT_RULES, r, f, m) == segment


def test_segment_names_keep_rule_order_without_repeats() -> None:
    assert segment_names(DEFAULT_RULES)[:4] == ("champions", "loyal", "cant_lose", "at_risk")
    assert len(segment_names(DEFAULT_RULES)) == 10


# --- figures --------------------------------------------------------------------------


def test_default_figures_window_and_names() -> None:
    customers = [
        facts(
            "a",
            order(400, 1000),
            order(10, 20),
            order(2.5, "30.5"),
            order(-1, 99),
            order(1, 5, name="page_viewed"),
        ),
        facts("b"),
        facts("c", order(0, None), order(0, True)),
    ]
    rows = {r.customer_id: r.figures for r in rfm_table(customers, AT)}
    assert set(rows) == {"a", "c"}  # no order: no figures, no segment
    assert rows["a"].frequency == 3 and rows["a"].monetary == pytest.approx(1050.5)
    assert rows["a"].recency == pytest.approx(2.5)
    assert rows["c"].frequency == 2 and rows["c"].monetary == 0 and rows["c"].recency == 0
    windowed = {
        r.customer_id: r.figures
        for r in rfm_table(customers, AT, RfmConfig(window=timedelta(days=365)))
    }
    assert windowed["a"].frequency == 2 and windowed["a"].monetary == pytest.approx(50.5)
    other = RfmConfig(order_event="purchase", amount_property="value")
    assert (
        rfm_table([facts("d", order(3, 7, name="purchase", prop="value"))], AT, other)[
            0
        ].figures.monetary
        == 7
    )


def test_lifetimes_figures_group_days_and_skip_the_first() -> None:
    events = [order(30, 10), order(30, 5), order(20.2, 7), order(20.1, 3), order(5, 100)]
    table = rfm_table(
        [facts("a", *events), facts("b", order(3, 50))], AT, RfmConfig(definitions="lifetimes")
    )
    a, b = (row.figures for row in table)
    assert (a.frequency, a.recency, a.age, a.monetary) == (2, 25.0, 30.0, 55.0)  # (10 + 100) / 2
    assert a.days_since_last == 5.0
    assert (b.frequency, b.recency, b.age, b.monetary) == (0, 0.0, 3.0, 0.0)


def test_one_customer_scores_three_everywhere() -> None:
    (row,) = rfm_table([facts("a", order(1, 10))], AT)
    assert (row.r, row.f, row.m, row.score, row.segment) == (3, 3, 3, "333", "need_attention")


def test_segmenter_puts_the_best_customers_in_champions() -> None:
    customers = [
        facts(f"c{i:02d}", *[order(100 - i * 4 + k, 10 * i) for k in range(i + 1)])
        for i in range(25)
    ]
    result = RfmSegmenter()(customers, AT)
    assert set(result) == set(segment_names(DEFAULT_RULES))
    assert result["champions"] == {"c20", "c21", "c22", "c23", "c24"}
    assert result["inactive"] == {"c00", "c01", "c02", "c03", "c04"}
    assert sum(len(ids) for ids in result.values()) == 25  # one segment each


# --- configuration and registration ----------------------------------------------------


def test_config_from_env_and_mapping() -> None:
    config = RfmConfig.from_env(
        {
            "JOURNEYFLOW_RFM_ORDER_EVENT": "purchase",
            "JOURNEYFLOW_RFM_AMOUNT": "value",
            "JOURNEYFLOW_RFM_WINDOW": "52w",
            "JOURNEYFLOW_RFM_DEFINITIONS": "lifetimes",
        }
    )
    assert config == RfmConfig("purchase", "value", timedelta(weeks=52), "lifetimes")
    assert RfmConfig.from_mapping({"window": "all"}, config).window is None
    with pytest.raises(JourneyflowError, match="unknown"):
        RfmConfig.from_mapping({"recency_days": 3})
    with pytest.raises(JourneyflowError, match="not `default` or `lifetimes`"):
        RfmConfig.from_mapping({"definitions": "bgf"})
    configured = RfmSegmenter().configured({"window": "90d"})
    assert configured.config.window == timedelta(days=90)


def test_custom_rules() -> None:
    rules = (RfmRule("top", r=(4, 5), f=(4, 5), m=(4, 5)),)
    config = RfmConfig(rules=rules)
    seg = journeyflow_rfm.segmenter(config)
    assert seg.segments == ("top",)
    assert set(seg.compute([facts("a", order(1, 1))], AT)) == {"top"}


def test_hook_registers_rfm_and_the_rfm_journeys_load() -> None:
    pm = build_manager(entry_points=False, disabled=())
    pm.register(journeyflow_rfm, name="rfm")
    registry = Registry.from_manager(pm)
    assert registry.owner("journeyflow_segmenters", "rfm") == "rfm"
    known = registry.known_names()
    assert {"rfm:champions", "rfm:loyal", "rfm:at_risk", "rfm:inactive"} <= known.segments
    # the channel plugins are not registered on this bare manager
    known = dataclasses.replace(known, channels=known.channels | {"email", "sms"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unrelated journey-level warnings
        for name in ("crm-vip.yaml", "crm-subscription.yaml"):
            load_file(JOURNEYS / name, known=known)
