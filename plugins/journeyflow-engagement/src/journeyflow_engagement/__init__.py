"""The `engagement` segmenter: who opened, who clicked, who went quiet.

Segments (windows are configurable and name the segment):

- `opened_90d`: an `email_opened` event in the last 90 days;
- `clicked_30d`: an `email_clicked` event in the last 30 days;
- `dormant`: known for at least 180 days (first stored event) and no
  engagement event in the last 180 days.

"In the last N days" is the half-open interval (at - N, at]; events after `at`
are ignored. A customer may be in several segments (opened and clicked), or
none. `docs/segments-and-kpis.md` lists the engagement events.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from journeyflow import (
    CustomerFacts,
    JourneyflowError,
    Segmenter,
    as_utc,
    format_duration,
    hookimpl,
    parse_duration,
)

__all__ = ["ENGAGEMENT_EVENTS", "EngagementConfig", "EngagementSegmenter", "segmenter"]

NAME = "engagement"

# What counts as the customer engaging with the brand: answering e-mail,
# coming to the site or the shop, talking to us, buying.
ENGAGEMENT_EVENTS: tuple[str, ...] = (
    "email_opened",
    "email_clicked",
    "site_visited",
    "product_viewed",
    "content_viewed",
    "chat_started",
    "store_visited",
    "order_completed",
    "survey_answered",
    "nps_answered",
    "review_submitted",
    "ugc_posted",
    "social_interaction",
)


@dataclass(frozen=True)
class EngagementConfig:
    """Event names and windows of the engagement segments."""

    open_event: str = "email_opened"
    click_event: str = "email_clicked"
    opened_window: timedelta = timedelta(days=90)
    clicked_window: timedelta = timedelta(days=30)
    dormant_after: timedelta = timedelta(days=180)
    engagement_events: tuple[str, ...] = ENGAGEMENT_EVENTS

    @property
    def opened(self) -> str:
        return f"opened_{format_duration(self.opened_window)}"

    @property
    def clicked(self) -> str:
        return f"clicked_{format_duration(self.clicked_window)}"

    @property
    def segments(self) -> tuple[str, ...]:
        return (self.opened, self.clicked, "dormant")

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], base: EngagementConfig | None = None
    ) -> EngagementConfig:
        """From text settings (environment, a vertical's `segment_thresholds["engagement"]`):
        `opened`, `clicked`, `dormant` (durations), `events` (comma-separated or a list),
        `open_event`, `click_event`."""
        config = base or cls()
        allowed = {"opened", "clicked", "dormant", "events", "open_event", "click_event"}
        unknown = set(values) - allowed
        if unknown:
            raise JourneyflowError(
                f"engagement settings {sorted(unknown)} are unknown; use "
                f"{', '.join(sorted(allowed))}"
            )
        changes: dict[str, Any] = {}
        for key, attr in (
            ("opened", "opened_window"),
            ("clicked", "clicked_window"),
            ("dormant", "dormant_after"),
        ):
            if values.get(key):
                changes[attr] = parse_duration(str(values[key]))
        if values.get("events"):
            raw = values["events"]
            names = raw.split(",") if isinstance(raw, str) else list(raw)
            changes["engagement_events"] = tuple(n.strip() for n in names if n.strip())
        for key in ("open_event", "click_event"):
            if values.get(key):
                changes[key] = str(values[key])
        return replace(config, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngagementConfig:
        """`JOURNEYFLOW_ENGAGEMENT_OPENED`, `_CLICKED`, `_DORMANT`, `_EVENTS`."""
        env = os.environ if environ is None else environ
        keys = ("opened", "clicked", "dormant", "events")
        return cls.from_mapping(
            {
                k: env[f"JOURNEYFLOW_ENGAGEMENT_{k.upper()}"]
                for k in keys
                if f"JOURNEYFLOW_ENGAGEMENT_{k.upper()}" in env
            }
        )


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else as_utc(moment)


def customer_segments(customer: CustomerFacts, at: datetime, config: EngagementConfig) -> set[str]:
    """The engagement segments of one customer at `at`."""
    first: datetime | None = None
    last_open = last_click = last_engaged = None
    engaging = set(config.engagement_events)
    for event in customer.events:
        moment = _time(event.get("timestamp"))
        if moment is None or moment > at:
            continue
        first = moment if first is None else min(first, moment)
        if event.get("type", "track") != "track":
            continue
        name = event.get("event", event.get("name"))
        if name == config.open_event:
            last_open = moment if last_open is None else max(last_open, moment)
        if name == config.click_event:
            last_click = moment if last_click is None else max(last_click, moment)
        if name in engaging:
            last_engaged = moment if last_engaged is None else max(last_engaged, moment)
    found: set[str] = set()
    if last_open is not None and last_open > at - config.opened_window:
        found.add(config.opened)
    if last_click is not None and last_click > at - config.clicked_window:
        found.add(config.clicked)
    quiet_since = at - config.dormant_after
    if (
        first is not None
        and first <= quiet_since
        and (last_engaged is None or last_engaged <= quiet_since)
    ):
        found.add("dormant")
    return found


class EngagementSegmenter:
    """`Segmenter.compute` for engagement; `configured(settings)` applies a
    vertical's settings (`journeyflow segment engagement --vertical ID`)."""

    def __init__(self, config: EngagementConfig | None = None) -> None:
        self.config = config or EngagementConfig()

    def __call__(
        self, customers: Iterable[CustomerFacts], at: datetime
    ) -> Mapping[str, frozenset[str]]:
        at = as_utc(at)
        found: dict[str, set[str]] = {name: set() for name in self.config.segments}
        for customer in customers:
            for segment in customer_segments(customer, at, self.config):
                found[segment].add(customer.customer_id)
        return {name: frozenset(ids) for name, ids in found.items()}

    def configured(self, settings: Mapping[str, Any]) -> EngagementSegmenter:
        return EngagementSegmenter(EngagementConfig.from_mapping(settings, self.config))


def segmenter(config: EngagementConfig | None = None) -> Segmenter:
    """The `engagement` Segmenter record (default: configured from the environment)."""
    config = config or EngagementConfig.from_env()
    return Segmenter(
        NAME,
        config.segments,
        compute=EngagementSegmenter(config),
        description=(
            f"{config.opened}: {config.open_event} in the last "
            f"{format_duration(config.opened_window)}; {config.clicked}: "
            f"{config.click_event} in the last {format_duration(config.clicked_window)}; "
            f"dormant: no engagement event in {format_duration(config.dormant_after)}"
        ),
    )


@hookimpl
def journeyflow_segmenters() -> Iterable[Segmenter]:
    return [segmenter()]
