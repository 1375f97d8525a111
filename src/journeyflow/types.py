"""Frozen records plugins return and receive.

Registration hooks return these (never loose dicts); observer hooks receive
them. They sit at the bottom of the layers: anything may import them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal


@dataclass(frozen=True)
class Effect:
    """Something to do outside: a send or a task, queued in the outbox.

    `key` is deterministic (journey, version, customer, enrolment, transition
    sequence, action index), so a channel can drop a repeated delivery."""

    key: str
    channel: str
    customer_id: str
    journey: str
    version: int
    enrolment_id: str
    created_at: datetime
    template: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"  # pending | sent | failed | suppressed (tasks also: done)
    attempts: int = 0
    last_error: str | None = None
    seq: int = 0  # the enrolment's transition sequence that made it
    action: int = 0  # its action index within that transition: (seq, action) orders sends
    next_attempt_at: datetime | None = None  # when a failed delivery may be retried
    # the order it was produced in (a number that only grows, set when the
    # engine queues it): effects at one instant are listed in this, their
    # causal order — a timer's sends before those of the enrolments its emit
    # moved. Bookkeeping, not content: left out of equality and repr
    ordinal: int = field(default=0, compare=False, repr=False)
    # The customer's attributes, filled in by the dispatcher just before
    # delivery (never stored): a channel finds `email` or `phone` here when the
    # journey did not put `to:` in `data`.
    customer: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


DeliveryStatus = Literal["sent", "temporary_failure", "permanent_failure"]


@dataclass(frozen=True)
class Delivery:
    """A channel's answer: sent, or failed for now (retry later) or for good.

    `retry_after`, on a temporary failure, is how long the receiver asked to
    be left alone (HTTP `Retry-After`): the next attempt waits at least that
    long, and at most the backoff's cap (6 h)."""

    status: DeliveryStatus
    detail: str | None = None
    retry_after: timedelta | None = None

    @classmethod
    def sent(cls, detail: str | None = None) -> Delivery:
        return cls("sent", detail)

    @classmethod
    def retry(cls, detail: str, *, after: timedelta | None = None) -> Delivery:
        return cls("temporary_failure", detail, after)

    @classmethod
    def give_up(cls, detail: str) -> Delivery:
        return cls("permanent_failure", detail)


@dataclass(frozen=True)
class Channel:
    """Delivers effects: e-mail, SMS, webhook, a task for a person...

    `deliver` must be idempotent on `effect.key` and must not block longer than
    `timeout` seconds; it returns a Delivery instead of raising for expected
    failures."""

    name: str
    deliver: Callable[[Effect], Delivery]
    description: str = ""
    timeout: float = 10.0


@dataclass(frozen=True)
class CustomerFacts:
    """What a segmenter sees of one customer: attributes and their events."""

    customer_id: str
    attributes: Mapping[str, Any]
    events: tuple[Mapping[str, Any], ...]  # Segment-style dicts, oldest first


@dataclass(frozen=True)
class Segmenter:
    """Puts customers into named segments (`<segmenter>:<segment>` in journeys)."""

    name: str
    segments: tuple[str, ...]
    compute: Callable[[Iterable[CustomerFacts], datetime], Mapping[str, frozenset[str]]]
    description: str = ""


@dataclass(frozen=True)
class StageHistory:
    """One journey's funnel and its enrolments' moves, for per-stage KPIs.

    `moves` are history rows, oldest first, as mappings with `enrolment_id`,
    `customer_id`, `kind` (enter | transition | migrate | exit | complete),
    `from_state`, `to_state` and `at` (an aware datetime)."""

    journey: str
    stages: tuple[str, ...]  # the journey's `stages:`, in funnel order
    state_stages: Mapping[str, str]  # state -> its `stage:` (states without one are absent)
    moves: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class KpiCollector:
    """Computes one indicator from events over a window (None: not enough data).

    `per_stage`, when set, computes it per funnel stage of one journey from its
    history ({stage: value}); such a KPI's `compute` may always return None."""

    name: str
    title: str
    compute: Callable[[Iterable[Mapping[str, Any]], datetime, datetime], float | None]
    unit: str = ""
    description: str = ""
    per_stage: Callable[[StageHistory, datetime, datetime], Mapping[str, float | None]] | None = (
        None
    )


@dataclass(frozen=True)
class Vertical:
    """A business vertical (a kind of business, e.g. `food-beverage`) with its defaults."""

    id: str
    title: str
    default_kpis: tuple[str, ...] = ()
    segment_thresholds: Mapping[str, Any] = field(default_factory=dict)
    journey_templates: tuple[str, ...] = ()  # paths of journey YAML files shipped by the plugin
    description: str = ""


@dataclass(frozen=True)
class CelFunction:
    """An extra function for journey CEL (names must not clash with CEL's or ours)."""

    name: str
    function: Callable[..., Any]
    description: str = ""


@dataclass(frozen=True)
class TransitionInfo:
    """Told to observers after a customer moved (after commit)."""

    customer_id: str
    journey: str
    version: int
    enrolment_id: str
    from_state: str | None  # None when the customer just entered
    to_state: str
    cause: str
    at: datetime


@dataclass(frozen=True)
class EnrolmentEnded:
    """Told to observers after an enrolment completed, exited or converted."""

    customer_id: str
    journey: str
    version: int
    enrolment_id: str
    status: str
    reason: str | None
    at: datetime
