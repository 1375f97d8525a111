"""The `rfm` segmenter: RFM figures and 1-5 scores from order events, and the
CRM playbook's RFM segments (`rfm:champions`, `rfm:loyal`, `rfm:at_risk`, ...).

    from journeyflow_rfm import RfmConfig, rfm_table
    rows = rfm_table(customer_facts, at, RfmConfig(window=timedelta(days=365)))

`docs/segments-and-kpis.md` documents every definition and rule.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from journeyflow import CustomerFacts, JourneyflowError, Segmenter, as_utc, hookimpl, parse_duration
from journeyflow_rfm.metrics import (
    Figures,
    default_figures,
    lifetimes_figures,
    orders,
)
from journeyflow_rfm.scores import (
    DEFAULT_RULES,
    RfmRule,
    name_segment,
    quintile,
    quintile_scores,
    segment_names,
)

__all__ = [
    "DEFAULT_RULES",
    "Figures",
    "RfmConfig",
    "RfmRow",
    "RfmRule",
    "RfmSegmenter",
    "figures",
    "quintile",
    "quintile_scores",
    "rfm_table",
]

NAME = "rfm"
Definitions = Literal["default", "lifetimes"]


@dataclass(frozen=True)
class RfmConfig:
    """What counts as an order, over which window, and how segments are named.

    :param order_event: the track event that is an order
    :param amount_property: the order's amount in `properties`
    :param window: only orders in (at - window, at] count; None: all history
    :param definitions: `default` (days since the last order, number of
        orders, total spend) or `lifetimes` (repeat-purchase days, first-to-last
        purchase days, T, mean repeat value — as `lifetimes` defines them)
    :param rules: segment rules, first match wins
    """

    order_event: str = "order_completed"
    amount_property: str = "total"
    window: timedelta | None = None
    definitions: Definitions = "default"
    rules: tuple[RfmRule, ...] = field(default=DEFAULT_RULES)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: RfmConfig | None = None) -> RfmConfig:
        """A config from text settings (environment, a vertical's `segment_thresholds["rfm"]`):
        keys `order_event`, `amount_property`, `window` (`365d`, or `all`), `definitions`."""
        config = base or cls()
        unknown = set(values) - {"order_event", "amount_property", "window", "definitions"}
        if unknown:
            raise JourneyflowError(
                f"rfm settings {sorted(unknown)} are unknown; use order_event, "
                "amount_property, window, definitions"
            )
        changes: dict[str, Any] = {}
        for key in ("order_event", "amount_property"):
            if values.get(key):
                changes[key] = str(values[key])
        if "window" in values:
            text = str(values["window"]).strip()
            changes["window"] = None if text in ("", "all") else parse_duration(text)
        if values.get("definitions"):
            if values["definitions"] not in ("default", "lifetimes"):
                raise JourneyflowError(
                    f"rfm definitions {values['definitions']!r} are not `default` or `lifetimes`"
                )
            changes["definitions"] = values["definitions"]
        return replace(config, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RfmConfig:
        """`JOURNEYFLOW_RFM_ORDER_EVENT`, `_AMOUNT`, `_WINDOW`, `_DEFINITIONS`."""
        env = os.environ if environ is None else environ
        names = {
            "order_event": "JOURNEYFLOW_RFM_ORDER_EVENT",
            "amount_property": "JOURNEYFLOW_RFM_AMOUNT",
            "window": "JOURNEYFLOW_RFM_WINDOW",
            "definitions": "JOURNEYFLOW_RFM_DEFINITIONS",
        }
        return cls.from_mapping({k: env[v] for k, v in names.items() if v in env})


@dataclass(frozen=True)
class RfmRow:
    """One customer's figures, scores and segment."""

    figures: Figures
    r: int
    f: int
    m: int
    segment: str | None

    @property
    def customer_id(self) -> str:
        return self.figures.customer_id

    @property
    def score(self) -> str:
        """The usual three-digit spelling, e.g. "454"."""
        return f"{self.r}{self.f}{self.m}"


def figures(
    customers: Iterable[CustomerFacts], at: datetime, config: RfmConfig | None = None
) -> list[Figures]:
    """Each customer's figures, in stream order; customers without an order are left out."""
    at = as_utc(at)
    config = config or RfmConfig()
    compute = lifetimes_figures if config.definitions == "lifetimes" else default_figures
    out: list[Figures] = []
    for customer in customers:
        found = orders(
            customer.events,
            at,
            order_event=config.order_event,
            amount_property=config.amount_property,
            window=config.window,
        )
        row = compute(customer.customer_id, found, at)
        if row is not None:
            out.append(row)
    return out


def rfm_table(
    customers: Iterable[CustomerFacts], at: datetime, config: RfmConfig | None = None
) -> list[RfmRow]:
    """Figures, quintile scores and segment of every customer with an order."""
    config = config or RfmConfig()
    table = figures(customers, at, config)
    r = quintile_scores([row.days_since_last for row in table], higher_is_better=False)
    f = quintile_scores([row.frequency for row in table])
    m = quintile_scores([row.monetary for row in table])
    return [
        RfmRow(row, r[i], f[i], m[i], name_segment(config.rules, r[i], f[i], m[i]))
        for i, row in enumerate(table)
    ]


class RfmSegmenter:
    """`Segmenter.compute` for RFM: {segment: customer ids}.

    `configured(settings)` gives a copy with a vertical's settings applied
    (`journeyflow segment rfm --vertical ID` uses it)."""

    def __init__(self, config: RfmConfig | None = None) -> None:
        self.config = config or RfmConfig()

    def __call__(
        self, customers: Iterable[CustomerFacts], at: datetime
    ) -> Mapping[str, frozenset[str]]:
        found: dict[str, set[str]] = {name: set() for name in segment_names(self.config.rules)}
        for row in rfm_table(customers, at, self.config):
            if row.segment is not None:
                found[row.segment].add(row.customer_id)
        return {name: frozenset(ids) for name, ids in found.items()}

    def configured(self, settings: Mapping[str, Any]) -> RfmSegmenter:
        return RfmSegmenter(RfmConfig.from_mapping(settings, self.config))


def segmenter(config: RfmConfig | None = None) -> Segmenter:
    """The `rfm` Segmenter record for a config (default: from the environment)."""
    config = config or RfmConfig.from_env()
    window = "all history" if config.window is None else f"the last {config.window.days} days"
    return Segmenter(
        NAME,
        segment_names(config.rules),
        compute=RfmSegmenter(config),
        description=(
            f"RFM scores 1-5 by quintiles of {config.order_event} events over {window} "
            f"({config.definitions} definitions); the CRM playbook's RFM matrix"
        ),
    )


@hookimpl
def journeyflow_segmenters() -> Iterable[Segmenter]:
    return [segmenter()]
