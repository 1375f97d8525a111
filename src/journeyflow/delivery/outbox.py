"""The outbox dispatcher: hands pending effects to their channels, once each.

The engine writes effects (sends, tasks) to the outbox in the same transaction
as the state change; `dispatch` delivers them after commit:

- a `pending` effect whose retry time has come goes to its channel's
  `deliver(effect)`, in a thread given the channel's `timeout` (plus a little
  slack): a channel that hangs counts as a temporary failure;
- `sent` → the row becomes `sent`; then `journeyflow_effect_delivered`;
- a permanent failure, an unknown channel, or a temporary failure on the last
  allowed attempt → `failed`; a temporary failure before that stays `pending`
  with `attempts + 1` and a retry time (exponential backoff); then
  `journeyflow_effect_failed` either way.

A crash between a channel's delivery and the row update makes the next run
deliver again: channels must be idempotent on `effect.key`
(`journeyflow.delivery.SentKeys` helps).

Several deliverers may run at once (processes, hosts): each claims a few
effects at a time (`Store.claim_effects`: the SQL store takes them in one
write transaction, `FOR UPDATE SKIP LOCKED` on PostgreSQL) under a token and
a lease counted from the claim (`delivery.lease`); the others pass them by.
Before each send the deliverer renews its claim and skips an effect it no
longer holds, and it records an attempt only while it holds the effect, so a
run that outlasts a lease never hands an effect to its channel twice. A
deliverer that dies leaves its claimed effects to be retried when the lease
runs out. A run delivers what was due when it began: a retry it schedules
waits for a later run, so each effect is tried at most once a run.

The retry time is the outbox's `next_attempt_at`: the backoff, or longer when
the channel passed on a receiver's `Retry-After` (`Delivery.retry_after`, at
most the backoff's cap).

What is recorded of an attempt (`last_error`, the log, the hooks' Delivery)
goes through `redact_url`: no URL's password or query-string key is kept.

Channel authors: the kit is `journeyflow.delivery` (sent keys, the state
folder, HTTP posting and classification, `redact_url`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from journeyflow.delivery.lease import Claim
from journeyflow.delivery.redact import redact_url
from journeyflow.plugin.observer import call_each
from journeyflow.types import Delivery, Effect

if TYPE_CHECKING:
    from journeyflow.clock import Clock
    from journeyflow.plugin.registry import Registry
    from journeyflow.store.base import Store

__all__ = ["DispatchReport", "backoff", "dispatch"]

log = structlog.get_logger("journeyflow.delivery.outbox")

TIMEOUT_SLACK = 1.0  # seconds a channel may overrun its own timeout before we stop waiting
CLAIM_CHUNK = 50  # effects claimed at a time: a crash strands few
# The default lease, past the claim or its last renewal: the slowest channel's
# timeout (one send, renewed before each) plus this margin for the bookkeeping
# around it (recording, the hooks, a slow database)
LEASE_MARGIN_S = 60.0
BACKOFF_CAP = timedelta(hours=6)  # the longest wait between attempts, Retry-After included


@dataclass
class DispatchReport:
    """What one dispatch run did."""

    sent: int = 0
    retrying: int = 0  # temporary failures, still pending with a retry time
    failed: int = 0  # given up: permanent failures, unknown channels, out of attempts
    waiting: int = 0  # pending, but their retry time has not come
    lost: int = 0  # claimed, then taken over by another deliverer when the lease ran out
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed

    def count(self, channel: str, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        row = self.by_channel.setdefault(channel, {})
        row[outcome] = row.get(outcome, 0) + 1

    def summary(self) -> str:
        text = (
            f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed, "
            f"{self.waiting} waiting for their retry time"
        )
        if self.lost:
            text += f", {self.lost} left to another deliverer (lease lost)"
        return text


def backoff(
    attempts: int, *, base: float = 60.0, cap: float = BACKOFF_CAP.total_seconds()
) -> timedelta:
    """Delay before the next attempt after `attempts` failed ones: 1 min, 2, 4, ...
    up to 6 h."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def dispatch(
    store: Store,
    registry: Registry,
    *,
    clock: Clock,
    limit: int = 1000,
    max_attempts: int = 5,
    delay: Callable[[int], timedelta] = backoff,
    lease: timedelta | None = None,
) -> DispatchReport:
    """Deliver pending effects whose time had come when the run began, oldest first.

    :param store: the outbox
    :param registry: the channels (and, through its manager, the observer hooks)
    :param clock: decides which retries are due, dates claims and their leases,
        stamps the next retry time
    :param limit: at most this many deliveries in this run
    :param max_attempts: a temporary failure on this attempt fails the effect
    :param delay: attempts so far -> wait before the next attempt
    :param lease: how long claimed effects stay this deliverer's past the claim
        or its last renewal (default: the slowest channel's timeout plus a
        minute); a renewal before a send holds them at least as long as that
        send may take (its channel's timeout plus slack)
    """
    report = DispatchReport()
    started = clock.now()
    held = _lease(registry, lease)
    customers: dict[str, dict[str, Any]] = {}
    while report.attempted < limit:
        claim = Claim.take(
            store,
            clock,
            due_by=started,
            limit=min(CLAIM_CHUNK, limit - report.attempted),
            lease=held,
        )
        if not claim.effects:
            break
        for effect in claim.effects:
            if not claim.renew(effect.key, at_least=_one_send(registry, effect)):
                _lost(effect, "before sending", report)
                continue
            delivery = _attempt(store, registry, effect, customers)
            _record(claim, registry, effect, delivery, clock, max_attempts, delay, report)
    # counted once, at the end: per claim it would rescan the pending rows each time
    report.waiting = store.waiting_effects(clock.now())
    return report


def _lease(registry: Registry, lease: timedelta | None) -> timedelta:
    if lease is not None:
        return lease
    slowest = max((c.timeout for c in registry.channels.values()), default=0.0)
    return timedelta(seconds=slowest + TIMEOUT_SLACK + LEASE_MARGIN_S)


def _one_send(registry: Registry, effect: Effect) -> timedelta:
    """The longest one send of `effect` can hold the deliverer: its channel's
    timeout and the slack we give it. A lease renewed before the send must
    outlast it, or another deliverer could claim the effect mid-send."""
    channel = registry.channels.get(effect.channel)
    return timedelta(seconds=channel.timeout + TIMEOUT_SLACK if channel else 0.0)


def _attempt(
    store: Store, registry: Registry, effect: Effect, customers: dict[str, dict[str, Any]]
) -> Delivery:
    """One delivery attempt, its detail stripped of credentials."""
    channel = registry.channels.get(effect.channel)
    if channel is None:
        known = ", ".join(sorted(registry.channels)) or "none"
        return Delivery.give_up(
            f"no installed plugin registers channel {effect.channel!r} (registered: "
            f"{known}); install its plugin, then set this effect back to pending"
        )
    if effect.customer_id not in customers:
        record = store.get_customer(effect.customer_id)
        customers[effect.customer_id] = dict(record.attributes) if record else {}
    delivery = _deliver(
        channel.name,
        channel.deliver,
        channel.timeout,
        replace(effect, customer=customers[effect.customer_id]),
        registry.owner("journeyflow_channels", channel.name),
    )
    if delivery.detail:
        delivery = replace(delivery, detail=redact_url(delivery.detail))
    return delivery


def _lost(effect: Effect, when: str, report: DispatchReport) -> None:
    report.lost += 1
    log.warning(
        "lease lost: another deliverer holds the effect",
        key=effect.key,
        channel=effect.channel,
        when=when,
    )


def _record(
    claim: Claim,
    registry: Registry,
    effect: Effect,
    delivery: Delivery,
    clock: Clock,
    max_attempts: int,
    delay: Callable[[int], timedelta],
    report: DispatchReport,
) -> None:
    attempts = effect.attempts + 1
    next_at: datetime | None = None
    if delivery.status == "sent":
        status, error, outcome = "sent", None, "sent"
    elif delivery.status == "permanent_failure" or attempts >= max_attempts:
        status, outcome = "failed", "failed"
        error = delivery.detail or delivery.status
        if delivery.status == "temporary_failure":
            error = f"gave up after {attempts} attempts: {error}"
    else:
        status, outcome = "pending", "retrying"
        wait = delay(attempts)
        if delivery.retry_after is not None:  # the receiver asked to be left alone longer
            wait = max(wait, min(delivery.retry_after, BACKOFF_CAP))
        next_at = clock.now() + wait
        error = delivery.detail or "temporary failure"
    if not claim.record(effect.key, status, attempts, error, next_at):
        # the holder now records (and tells the hooks); the channel's
        # idempotency on the key covers what this one already delivered
        _lost(effect, "after sending", report)
        return
    report.count(effect.channel, outcome)
    done = replace(
        effect, status=status, attempts=attempts, last_error=error, next_attempt_at=next_at
    )
    if status != "sent":
        log.info(
            "delivery failed",
            key=effect.key,
            channel=effect.channel,
            status=status,
            attempts=attempts,
            reason=delivery.detail,
        )
    if registry.manager is not None:
        hook = "journeyflow_effect_delivered" if status == "sent" else "journeyflow_effect_failed"
        call_each(registry.manager, hook, effect=done, delivery=delivery)


def _deliver(
    name: str,
    deliver: Callable[[Effect], Delivery],
    timeout: float,
    effect: Effect,
    plugin: str | None,
) -> Delivery:
    """Call a channel in a thread, so one that ignores its timeout cannot stall
    the outbox. The thread is abandoned if it overruns (daemon: it never holds
    up exit); idempotency on the key covers a late delivery."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["delivery"] = deliver(effect)
        except BaseException as exc:  # reported below, with the plugin's name
            box["error"] = exc

    thread = threading.Thread(target=run, name=f"journeyflow-deliver-{name}", daemon=True)
    thread.start()
    thread.join(timeout + TIMEOUT_SLACK)
    if thread.is_alive():
        log.warning(
            "channel overran its timeout",
            channel=name,
            plugin=plugin,
            timeout=timeout,
            key=effect.key,
        )
        return Delivery.retry(f"channel {name!r} gave no answer within its {timeout:g}s timeout")
    if "error" in box:
        exc = box["error"]
        log.error(
            "channel raised",
            channel=name,
            plugin=plugin,
            key=effect.key,
            error=redact_url(f"{type(exc).__name__}: {exc}"),
        )
        return Delivery.retry(
            f"channel {name!r} (plugin {plugin!r}) raised {type(exc).__name__}: {exc}"
        )
    delivery = box.get("delivery")
    if not isinstance(delivery, Delivery):
        return Delivery.retry(
            f"channel {name!r} (plugin {plugin!r}) returned {delivery!r}, "
            "not a journeyflow.types.Delivery"
        )
    return delivery
