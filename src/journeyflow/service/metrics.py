"""The service's Prometheus metrics: every part counts into these, `/metrics`
serves them (with the client library's process and Python metrics).

Names follow Prometheus' conventions: `_total` for counters, base units
(seconds) in the name. Labels stay few and bounded: a journey id, a channel
name, a rejection kind — never a customer or message id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "APPLY_SECONDS",
    "EFFECTS",
    "EVENTS_ACCEPTED",
    "EVENTS_APPLIED",
    "EVENTS_DUPLICATE",
    "EVENTS_REJECTED",
    "HTTP_REQUESTS",
    "INBOX_DEPTH",
    "OUTBOX_DEPTH",
    "TIMERS_FIRED",
    "TIMER_LATENESS",
    "TRANSITIONS",
]

EVENTS_ACCEPTED = Counter(
    "journeyflow_events_accepted", "Events accepted into the inbox", ["source"]
)
EVENTS_REJECTED = Counter(
    "journeyflow_events_rejected", "Events rejected, by kind of reason", ["source", "kind"]
)
EVENTS_DUPLICATE = Counter(
    "journeyflow_events_duplicate", "Events whose messageId was seen already", ["source"]
)
EVENTS_APPLIED = Counter("journeyflow_events_applied", "Events applied to customers")
TRANSITIONS = Counter(
    "journeyflow_transitions", "Transitions taken (entries included)", ["journey"]
)
TIMERS_FIRED = Counter("journeyflow_timers_fired", "Timer transitions taken", ["journey"])
TIMER_LATENESS = Histogram(
    "journeyflow_timer_lateness_seconds",
    "How long after its due time a timer fired",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)
EFFECTS = Counter(
    "journeyflow_effects",
    "Outbox attempts by outcome: sent, retrying (a temporary failure), failed (dead-lettered),"
    " breaker_open (held back by an open circuit)",
    ["channel", "outcome"],
)
INBOX_DEPTH = Gauge("journeyflow_inbox_depth", "Accepted events waiting to be applied")
OUTBOX_DEPTH = Gauge("journeyflow_outbox_depth", "Effects waiting to be delivered")
APPLY_SECONDS = Histogram(
    "journeyflow_apply_seconds",
    "Time from an event's acceptance to its application",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
HTTP_REQUESTS = Counter("journeyflow_http_requests", "HTTP requests answered", ["path", "status"])
