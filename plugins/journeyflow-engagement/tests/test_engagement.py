"""Engagement segments: windows, dormancy, configuration and registration."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import journeyflow_engagement
import pytest
from journeyflow_engagement import EngagementConfig, EngagementSegmenter, customer_segments

from journeyflow import CustomerFacts, JourneyflowError, Registry, build_manager, load_text

AT = datetime(2026, 7, 1, tzinfo=timezone.utc)


def ev(name: str, days_ago: float, kind: str = "track") -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "userId": "x",
        "timestamp": (AT - timedelta(days=days_ago)).isoformat(),
    }
    if kind == "track":
        event["event"] = name
    return event


def seg(*events: dict[str, Any], config: EngagementConfig | None = None) -> set[str]:
    return customer_segments(CustomerFacts("x", {}, events), AT, config or EngagementConfig())


def test_opened_and_clicked_windows_are_half_open() -> None:
    assert seg(ev("email_opened", 89.9)) == {"opened_90d"}
    assert seg(ev("email_opened", 90)) == set()  # exactly 90 days ago: outside (at - 90d, at]
    assert seg(ev("email_opened", -1)) == set()  # after `at`: ignored
    assert seg(ev("email_clicked", 29), ev("email_opened", 29)) == {"opened_90d", "clicked_30d"}
    assert seg(ev("email_clicked", 31)) == set()


def test_dormant_needs_a_long_enough_history_without_engagement() -> None:
    assert seg(ev("signed_up", 200)) == {"dormant"}
    assert seg(ev("", 200, kind="identify")) == {"dormant"}
    assert seg(ev("signed_up", 100)) == set()  # too new to be dormant
    assert seg(ev("signed_up", 400), ev("order_completed", 181)) == {"dormant"}
    assert seg(ev("signed_up", 400), ev("order_completed", 179)) == set()
    assert seg(ev("signed_up", 400), ev("unsubscribed", 10)) == {"dormant"}  # not engagement
    assert seg() == set()


def test_configuration_renames_segments() -> None:
    config = EngagementConfig.from_env(
        {
            "JOURNEYFLOW_ENGAGEMENT_OPENED": "60d",
            "JOURNEYFLOW_ENGAGEMENT_CLICKED": "2w",
            "JOURNEYFLOW_ENGAGEMENT_DORMANT": "365d",
            "JOURNEYFLOW_ENGAGEMENT_EVENTS": "app_opened, email_opened",
        }
    )
    assert config.segments == ("opened_60d", "clicked_2w", "dormant")
    assert config.engagement_events == ("app_opened", "email_opened")
    assert seg(ev("email_opened", 70), config=config) == set()
    assert seg(ev("signed_up", 400), ev("app_opened", 300), config=config) == set()
    assert seg(ev("signed_up", 400), ev("order_completed", 10), config=config) == {"dormant"}
    with pytest.raises(JourneyflowError, match="unknown"):
        EngagementConfig.from_mapping({"opened_days": 3})
    assert EngagementSegmenter().configured({"events": ["x"]}).config.engagement_events == ("x",)


def test_segmenter_result_names_every_segment() -> None:
    customers = [
        CustomerFacts("a", {}, (ev("email_opened", 1),)),
        CustomerFacts("b", {}, (ev("signed_up", 300),)),
        CustomerFacts("c", {}, ()),
    ]
    assert EngagementSegmenter()(customers, AT) == {
        "opened_90d": frozenset({"a"}),
        "clicked_30d": frozenset(),
        "dormant": frozenset({"b"}),
    }


def test_hook_registers_engagement_segments() -> None:
    pm = build_manager(entry_points=False, disabled=())
    pm.register(journeyflow_engagement, name="engagement")
    known = Registry.from_manager(pm).known_names()
    assert {
        "engagement:opened_90d",
        "engagement:clicked_30d",
        "engagement:dormant",
    } <= known.segments
    load_text(
        """\
journey: win-back-openers
version: 1
title: Openers who went quiet
entry: {segment: 'engagement:dormant'}
initial: waiting
states:
  waiting:
    transitions:
      - {after: 1d, to: done}
  done: {final: true}
""",
        known=known,
    )
