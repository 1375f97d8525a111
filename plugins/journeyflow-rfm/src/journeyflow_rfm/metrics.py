"""Per-customer order figures: the default RFM definitions and lifetimes' ones.

Both read the same orders (`orders()`): track events named `order_event`, at or
before `at`, inside the window, with their amount. Nothing here needs pandas.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

_DAY = 86400.0


@dataclass(frozen=True)
class Order:
    at: datetime
    amount: float


@dataclass(frozen=True)
class Figures:
    """One customer's figures.

    Default definitions: `recency` = days (fractional) from the last order to
    `at`; `frequency` = number of orders; `monetary` = total spend; `age` =
    days from the first order to `at`.

    Lifetimes definitions (`lifetimes.utils.summary_data_from_transaction_data`,
    daily): orders are grouped by UTC day (amounts summed); `frequency` =
    purchase days - 1 (repeat days); `recency` = days from the first to the last
    purchase day; `age` = T, days from the first purchase day to `at`'s day;
    `monetary` = mean of the repeat days' totals (0 without a repeat).

    `days_since_last` is what the R score ranks: `recency` for the default
    definitions, `T - recency` (whole days) for the lifetimes ones.
    """

    customer_id: str
    recency: float
    frequency: int
    monetary: float
    age: float
    lifetimes: bool = False  # which definitions made these figures

    @property
    def days_since_last(self) -> float:
        return self.age - self.recency if self.lifetimes else self.recency


def parse_time(value: Any) -> datetime | None:
    """An event timestamp (ISO-8601 text or datetime) in UTC; None if unreadable."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def amount_of(properties: Any, name: str) -> float:
    """The order's amount; missing, boolean or non-numeric counts as 0."""
    if not isinstance(properties, Mapping):
        return 0.0
    value = properties.get(name)
    if isinstance(value, bool) or value is None:
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def event_name(event: Mapping[str, Any]) -> str | None:
    """A stored track event's name (raw Segment `event`, or a payload's `name`)."""
    if event.get("type", "track") != "track":
        return None
    name = event.get("event", event.get("name"))
    return name if isinstance(name, str) else None


def orders(
    events: Iterable[Mapping[str, Any]],
    at: datetime,
    *,
    order_event: str,
    amount_property: str,
    window: timedelta | None,
) -> list[Order]:
    """The customer's orders at or before `at` (and after `at - window`), oldest first."""
    since = at - window if window is not None else None
    found: list[Order] = []
    for event in events:
        if event_name(event) != order_event:
            continue
        moment = parse_time(event.get("timestamp"))
        if moment is None or moment > at or (since is not None and moment <= since):
            continue
        found.append(Order(moment, amount_of(event.get("properties"), amount_property)))
    found.sort(key=lambda o: o.at)  # stable: same-instant orders keep their stored order
    return found


def default_figures(customer_id: str, found: list[Order], at: datetime) -> Figures | None:
    """Recency (days since the last order), frequency (orders), monetary (spend)."""
    if not found:
        return None
    return Figures(
        customer_id=customer_id,
        recency=(at - found[-1].at).total_seconds() / _DAY,
        frequency=len(found),
        monetary=math.fsum(o.amount for o in found),
        age=(at - found[0].at).total_seconds() / _DAY,
    )


def lifetimes_figures(customer_id: str, found: list[Order], at: datetime) -> Figures | None:
    """`summary_data_from_transaction_data(freq="D")` for one customer."""
    if not found:
        return None
    days: dict[date, list[float]] = {}
    for order in found:
        days.setdefault(order.at.date(), []).append(order.amount)
    ordered = sorted(days)
    first, last, end = ordered[0], ordered[-1], at.date()
    repeats = [math.fsum(days[d]) for d in ordered[1:]]
    return Figures(
        customer_id=customer_id,
        recency=float((last - first).days),
        frequency=len(repeats),
        monetary=math.fsum(repeats) / len(repeats) if repeats else 0.0,
        age=float((end - first).days),
        lifetimes=True,
    )
