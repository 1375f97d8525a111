"""Event KPIs: each reads stored Segment-style events over a window [start, end).

Growth KPIs compare the window with the previous one of equal length,
[start - (end - start), start): `100 * (this - previous) / previous`, None when
the previous window has nothing to compare with. Callers pass events from at
least the previous window's start (`journeyflow kpis` does). Events are the
raw stored dicts: `event` (the track name), `userId`, `timestamp` (ISO-8601),
`properties`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

Event = Mapping[str, Any]

ORDER = "order_completed"
REFUND = "order_refunded"
LEAD = "lead_captured"
AD_SPEND = "ad_spend"
SITE_VISIT = "site_visited"
SOCIAL = "social_metrics"
PLAN_ACTION = "plan_action_completed"
NPS = "nps_answered"
# A customer reaching out or answering: what "customer interactions" counts.
INTERACTIONS: frozenset[str] = frozenset(
    {
        "email_opened",
        "email_clicked",
        "chat_started",
        "social_interaction",
        "review_submitted",
        "ugc_posted",
        "nps_answered",
        "survey_answered",
        "whatsapp_message_received",
    }
)


@dataclass(frozen=True)
class Settings:
    """What some KPIs need to know about the business (from the environment)."""

    promoted_product: str | None = None  # JOURNEYFLOW_KPI_PROMOTED_PRODUCT
    launched_product: str | None = None  # JOURNEYFLOW_KPI_LAUNCHED_PRODUCT
    loyal_orders: int = 2  # JOURNEYFLOW_KPI_LOYAL_ORDERS: orders in the window to count as loyal


# --- reading events -----------------------------------------------------------------


def when(event: Event) -> datetime | None:
    value = event.get("timestamp")
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return (
        moment.replace(tzinfo=timezone.utc)
        if moment.tzinfo is None
        else moment.astimezone(timezone.utc)
    )


def name(event: Event) -> str | None:
    if event.get("type", "track") != "track":
        return None
    value = event.get("event", event.get("name"))
    return value if isinstance(value, str) else None


def number(properties: Any, *keys: str, default: float = 0.0) -> float:
    """The first of `keys` in `properties` that is a finite number."""
    if not isinstance(properties, Mapping):
        return default
    for key in keys:
        value = properties.get(key)
        if isinstance(value, bool) or value is None:
            continue
        try:
            found = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(found):
            return found
    return default


def props(event: Event) -> Mapping[str, Any]:
    value = event.get("properties")
    return value if isinstance(value, Mapping) else {}


def windows(
    events: Iterable[Event], start: datetime, end: datetime
) -> tuple[list[Event], list[Event]]:
    """(this window's events, the previous window's), each oldest first."""
    previous_start = start - (end - start)
    this: list[Event] = []
    before: list[Event] = []
    for event in events:
        moment = when(event)
        if moment is None:
            continue
        if start <= moment < end:
            this.append(event)
        elif previous_start <= moment < start:
            before.append(event)
    return this, before


def growth(this: float, previous: float) -> float | None:
    """Percent change; None when there is no previous value to compare with."""
    if previous == 0:
        return None
    return 100.0 * (this - previous) / previous


def _growth_of(measure: Callable[[list[Event]], float]) -> Callable[..., float | None]:
    def compute(events: Iterable[Event], start: datetime, end: datetime) -> float | None:
        this, previous = windows(events, start, end)
        return growth(measure(this), measure(previous))

    return compute


def _in_window(
    measure: Callable[[list[Event], datetime, datetime], float | None],
) -> Callable[..., float | None]:
    def compute(events: Iterable[Event], start: datetime, end: datetime) -> float | None:
        this, _ = windows(events, start, end)
        return measure(this, start, end)

    return compute


def _named(events: list[Event], *names: str) -> list[Event]:
    return [e for e in events if name(e) in names]


# --- raise revenue --------------------------------------------------------------------


def _customers_per_day(events: list[Event], start: datetime, end: datetime) -> float | None:
    days = (end - start) / timedelta(days=1)
    if days <= 0:
        return None
    visits = {(when(e).date(), e.get("userId")) for e in _named(events, ORDER)}  # type: ignore[union-attr]
    return len(visits) / days


def _average_ticket(events: list[Event], start: datetime, end: datetime) -> float | None:
    orders = _named(events, ORDER)
    if not orders:
        return None
    return math.fsum(number(props(e), "total", "revenue") for e in orders) / len(orders)


def revenue(events: list[Event]) -> float:
    """Order totals less refunds."""
    return math.fsum(
        number(props(e), "total", "revenue") for e in _named(events, ORDER)
    ) - math.fsum(number(props(e), "total", "amount") for e in _named(events, REFUND))


def product_sales(events: list[Event], product: str | None, flag: str) -> float:
    """Sales of one product: in `properties.products` (Segment's e-commerce spec),
    items whose `product_id` or `sku` is `product` (or, with no product
    configured, items marked `flag: true`) count `price * quantity`; an order
    with no item list whose own `product_id` matches counts its total."""
    total = 0.0
    for order in _named(events, ORDER):
        p = props(order)
        items = p.get("products")
        if isinstance(items, list):
            for item in items:
                if not isinstance(item, Mapping):
                    continue
                hit = (
                    (item.get("product_id") == product or item.get("sku") == product)
                    if product is not None
                    else item.get(flag) is True
                )
                if hit:
                    total += number(item, "price") * number(item, "quantity", default=1.0)
        elif product is not None and p.get("product_id") == product:
            total += number(p, "total", "revenue")
    return total


# --- digital presence -------------------------------------------------------------------


def _engagement_rate(events: list[Event], start: datetime, end: datetime) -> float | None:
    reports = _named(events, SOCIAL)
    reach = math.fsum(number(props(e), "reach", "impressions") for e in reports)
    if reach <= 0:
        return None
    return 100.0 * math.fsum(number(props(e), "interactions") for e in reports) / reach


def followers_at(events: Iterable[Event], moment: datetime) -> float | None:
    """Followers summed over platforms: each platform's last `social_metrics`
    report before `moment` that has `followers`."""
    latest: dict[str, tuple[datetime, float]] = {}
    for event in events:
        t = when(event)
        if name(event) != SOCIAL or t is None or t >= moment:
            continue
        p = props(event)
        if "followers" not in p:
            continue
        platform = str(p.get("platform", "all"))
        if platform not in latest or latest[platform][0] <= t:
            latest[platform] = (t, number(p, "followers"))
    if not latest:
        return None
    return math.fsum(v for _, v in latest.values())


def _follower_growth(events: Iterable[Event], start: datetime, end: datetime) -> float | None:
    materialised = list(events)
    before, after = followers_at(materialised, start), followers_at(materialised, end)
    if before is None or after is None:
        return None
    return growth(after, before)


def spend(events: list[Event]) -> float:
    return math.fsum(number(props(e), "amount", "cost") for e in _named(events, AD_SPEND))


def _cost_per(kind: str) -> Callable[[list[Event], datetime, datetime], float | None]:
    def measure(events: list[Event], start: datetime, end: datetime) -> float | None:
        count = len(_named(events, kind))
        if not count or not _named(events, AD_SPEND):
            return None  # no spend reported is not "free": not enough data
        return spend(events) / count

    return measure


# --- brand communication, loyalty -------------------------------------------------------


def loyal_customers(events: list[Event], orders_needed: int) -> int:
    per_customer = Counter(e.get("userId") for e in _named(events, ORDER))
    return sum(1 for n in per_customer.values() if n >= orders_needed)


def _repeat_purchase_rate(events: list[Event], start: datetime, end: datetime) -> float | None:
    per_customer = Counter(e.get("userId") for e in _named(events, ORDER))
    if not per_customer:
        return None
    return 100.0 * sum(1 for n in per_customer.values() if n >= 2) / len(per_customer)


def _nps(events: list[Event], start: datetime, end: datetime) -> float | None:
    scores = [number(props(e), "score", "nps", default=-1) for e in _named(events, NPS)]
    scores = [s for s in scores if 0 <= s <= 10]
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return 100.0 * (promoters - detractors) / len(scores)


def _count(*names: str) -> Callable[[list[Event], datetime, datetime], float | None]:
    def measure(events: list[Event], start: datetime, end: datetime) -> float | None:
        return float(len(_named(events, *names)))

    return measure


# --- the table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    unit: str
    compute: Callable[..., float | None]
    description: str


def specs(settings: Settings) -> tuple[Spec, ...]:
    """Every event KPI, configured."""
    loyal = settings.loyal_orders
    return (
        Spec(
            "customers_per_day",
            "Customers per day",
            "customers/day",
            _in_window(_customers_per_day),
            f"distinct buyers per UTC day ({ORDER}), averaged over the window's days",
        ),
        Spec(
            "average_ticket",
            "Average ticket",
            "currency",
            _in_window(_average_ticket),
            f"mean {ORDER}.properties.total",
        ),
        Spec(
            "promoted_product_sales_growth",
            "Sales growth of the promoted product",
            "%",
            _growth_of(lambda ev: product_sales(ev, settings.promoted_product, "promoted")),
            "growth of the promoted product's sales (order items), window on previous window",
        ),
        Spec(
            "launched_product_sales_growth",
            "Sales growth of the launched product",
            "%",
            _growth_of(lambda ev: product_sales(ev, settings.launched_product, "launched")),
            "growth of the launched product's sales (order items), window on previous window",
        ),
        Spec(
            "revenue_growth",
            "Revenue growth",
            "%",
            _growth_of(revenue),
            f"growth of {ORDER} totals less {REFUND} totals",
        ),
        Spec(
            "social_engagement_rate",
            "Social engagement rate",
            "%",
            _in_window(_engagement_rate),
            f"{SOCIAL}: interactions / reach (or impressions), summed over the window",
        ),
        Spec(
            "follower_growth",
            "Follower growth",
            "%",
            _follower_growth,
            f"followers ({SOCIAL}, last report per platform) at the window's end "
            "on those at its start",
        ),
        Spec(
            "site_traffic_growth",
            "Site traffic growth",
            "%",
            _growth_of(lambda ev: float(len(_named(ev, SITE_VISIT)))),
            f"growth of {SITE_VISIT} events (visits)",
        ),
        Spec(
            "cost_per_lead",
            "Cost per lead",
            "currency",
            _in_window(_cost_per(LEAD)),
            f"{AD_SPEND}.properties.amount summed / {LEAD} events",
        ),
        Spec(
            "cost_per_sale",
            "Cost per sale conversion",
            "currency",
            _in_window(_cost_per(ORDER)),
            f"{AD_SPEND}.properties.amount summed / {ORDER} events",
        ),
        Spec(
            "customer_interactions_growth",
            "Growth of customer interactions",
            "%",
            _growth_of(lambda ev: float(len(_named(ev, *INTERACTIONS)))),
            "growth of interaction events: " + ", ".join(sorted(INTERACTIONS)),
        ),
        Spec(
            "loyal_customers_growth",
            "Growth of loyal customers",
            "%",
            _growth_of(lambda ev: float(loyal_customers(ev, loyal))),
            f"growth of customers with at least {loyal} {ORDER} events in the window",
        ),
        Spec(
            "plan_actions_implemented",
            "Marketing plan actions done",
            "actions",
            _in_window(_count(PLAN_ACTION)),
            f"{PLAN_ACTION} events",
        ),
        Spec(
            "repeat_purchase_rate",
            "Repeat purchase rate",
            "%",
            _in_window(_repeat_purchase_rate),
            f"share of the window's buyers with at least two {ORDER} events",
        ),
        Spec(
            "nps",
            "Net Promoter Score",
            "points",
            _in_window(_nps),
            f"{NPS}.properties.score 0-10: % promoters (9-10) - % detractors (0-6)",
        ),
    )
