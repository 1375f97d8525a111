"""The outbox dispatcher: hands pending effects to their channels, once each.

The engine writes effects (sends, tasks) to the outbox in the same transaction
as the state change; `dispatch` delivers them after commit:

- a `pending` effect whose retry time has come goes to its channel's
  `deliver(effect)`, in a thread given the channel's `timeout` (plus a little
  slack): a channel that hangs counts as a temporary failure;
- `sent` → the row becomes `sent`; then `journeyflow_effect_delivered`;
- a permanent failure, an unknown channel, or a temporary failure on the last
  allowed attempt → `failed`, the outbox's dead-letter state (`journeyflow
  outbox list|retry|purge`); a temporary failure before that stays `pending`
  with `attempts + 1` and a retry time (exponential backoff with jitter,
  `delivery.backoff`); then `journeyflow_effect_failed` either way;
- a channel whose circuit is open (`delivery.breaker`: too many temporary
  failures in a row) is not called: its effects stay `pending`, attempts
  untouched, due again when the circuit lets a trial through. One failing
  channel costs the others nothing but a skipped row.

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
most the backoff's cap). It is stored, not slept on: a restarted process, or
another deliverer, finds it.

`Deliverer` is the object a long-running service holds (its circuit breakers
remember across rounds); `dispatch` is one run with a fresh one.

What is recorded of an attempt (`last_error`, the log, the hooks' Delivery)
goes through `redact_url`: no URL's password or query-string key is kept.

Channel authors: the kit is `journeyflow.delivery` (sent keys, the state
folder, HTTP posting and classification, `redact_url`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from journeyflow.delivery.backoff import BACKOFF_CAP, backoff, jittered_backoff
from journeyflow.delivery.breaker import (
    DEFAULT_COOL_DOWN,
    DEFAULT_FAILURES_TO_OPEN,
    ChannelBreakers,
)
from journeyflow.delivery.lease import Claim
from journeyflow.delivery.redact import redact_url
from journeyflow.delivery.report import DispatchReport
from journeyflow.delivery.send import TIMEOUT_SLACK, call_channel
from journeyflow.plugin.observer import call_each
from journeyflow.types import Delivery, Effect

if TYPE_CHECKING:
    from journeyflow.clock import Clock
    from journeyflow.plugin.registry import Registry
    from journeyflow.store.base import Store

__all__ = [
    "BACKOFF_CAP",
    "Deliverer",
    "DispatchReport",
    "backoff",
    "dispatch",
    "jittered_backoff",
]

log = structlog.get_logger("journeyflow.delivery.outbox")

CLAIM_CHUNK = 50  # effects claimed at a time: a crash strands few
# The default lease, past the claim or its last renewal: the slowest channel's
# timeout (one send, renewed before each) plus this margin for the bookkeeping
# around it (recording, the hooks, a slow database)
LEASE_MARGIN_S = 60.0


class Deliverer:
    """Delivers the outbox, a run at a time, keeping each channel's circuit
    breaker between runs. One run at a time per object (the service's
    delivery loop); more deliverers, in threads or processes, share the
    outbox through their claims.

    :param store: the outbox
    :param registry: the channels (and, through its manager, the observer hooks)
    :param clock: decides which retries are due, dates claims and their leases,
        stamps the next retry time, times the circuits' cool-down
    :param max_attempts: a temporary failure on this attempt dead-letters the effect
    :param delay: attempts so far -> wait before the next attempt (default:
        exponential with jitter, `delivery.backoff`)
    :param lease: how long claimed effects stay this deliverer's past the claim
        or its last renewal (default: the slowest channel's timeout plus a
        minute); a renewal before a send holds them at least as long as that
        send may take (its channel's timeout plus slack)
    :param failures_to_open: temporary failures in a row that open a channel's circuit
    :param cool_down: how long an open circuit holds its channel's effects back
    """

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        clock: Clock,
        max_attempts: int = 5,
        delay: Callable[[int], timedelta] = jittered_backoff,
        lease: timedelta | None = None,
        failures_to_open: int = DEFAULT_FAILURES_TO_OPEN,
        cool_down: timedelta = DEFAULT_COOL_DOWN,
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.max_attempts = max_attempts
        self.delay = delay
        self.lease = _lease(registry, lease)
        self.breakers = ChannelBreakers(clock, fail_max=failures_to_open, reset_timeout=cool_down)

    def run(self, limit: int = 1000) -> DispatchReport:
        """Deliver pending effects whose time had come when the run began,
        oldest first: at most `limit` attempts (effects held back by an open
        circuit are not attempts and do not count)."""
        report = DispatchReport()
        started = self.clock.now()
        customers: dict[str, dict[str, Any]] = {}
        while report.attempted < limit:
            claim = Claim.take(
                self.store,
                self.clock,
                due_by=started,
                limit=min(CLAIM_CHUNK, limit - report.attempted),
                lease=self.lease,
                # a channel whose circuit is open: its rows are not even claimed
                skip_channels=self.breakers.holding_back(),
            )
            if not claim.effects:
                break
            for effect in claim.effects:
                self._one(claim, effect, customers, report)
        # counted once, at the end: per claim it would rescan the pending rows each time
        report.waiting = self.store.waiting_effects(self.clock.now())
        report.open_circuits = sorted(self.breakers.holding_back())
        return report

    def _one(
        self,
        claim: Claim,
        effect: Effect,
        customers: dict[str, dict[str, Any]],
        report: DispatchReport,
    ) -> None:
        channel = self.registry.channels.get(effect.channel)
        if channel is not None:
            until = self.breakers.holds_back(channel.name)
            if until is not None:
                self._hold_back(claim, effect, until, report)
                return
        if not claim.renew(effect.key, at_least=_one_send(self.registry, effect)):
            _lost(effect, "before sending", report)
            return
        if channel is None:
            known = ", ".join(sorted(self.registry.channels)) or "none"
            delivery = Delivery.give_up(
                f"no installed plugin registers channel {effect.channel!r} (registered: "
                f"{known}); install its plugin, then `journeyflow outbox retry` the effect"
            )
        else:
            if effect.customer_id not in customers:
                record = self.store.get_customer(effect.customer_id)
                customers[effect.customer_id] = dict(record.attributes) if record else {}
            addressed = replace(effect, customer=customers[effect.customer_id])
            plugin = self.registry.owner("journeyflow_channels", channel.name)
            answered = self.breakers.call(
                channel.name,
                lambda: call_channel(
                    channel.name, channel.deliver, channel.timeout, addressed, plugin
                ),
            )
            if answered is None:  # pybreaker still counts the circuit open
                until = self.breakers.reopens_at(channel.name) or (
                    self.clock.now() + self.breakers.reset_timeout
                )
                self._hold_back(claim, effect, until, report)
                return
            delivery = answered
        if delivery.detail:
            delivery = replace(delivery, detail=redact_url(delivery.detail))
        self._record(claim, effect, delivery, report)

    def _hold_back(
        self, claim: Claim, effect: Effect, until: datetime, report: DispatchReport
    ) -> None:
        """Let go of an effect whose channel's circuit is open: still pending,
        its attempts and last error as they were, due when the circuit lets
        a trial through."""
        if not claim.record(effect.key, "pending", effect.attempts, effect.last_error, until):
            _lost(effect, "holding back", report)
            return
        report.count(effect.channel, "breaker_open")

    def _record(
        self, claim: Claim, effect: Effect, delivery: Delivery, report: DispatchReport
    ) -> None:
        attempts = effect.attempts + 1
        next_at: datetime | None = None
        if delivery.status == "sent":
            status, error, outcome = "sent", None, "sent"
        elif delivery.status == "permanent_failure" or attempts >= self.max_attempts:
            status, outcome = "failed", "failed"
            error = delivery.detail or delivery.status
            if delivery.status == "temporary_failure":
                error = f"gave up after {attempts} attempts: {error}"
        else:
            status, outcome = "pending", "retrying"
            wait = self.delay(attempts)
            if delivery.retry_after is not None:  # the receiver asked to be left alone longer
                wait = max(wait, min(delivery.retry_after, BACKOFF_CAP))
            next_at = self.clock.now() + wait
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
        if self.registry.manager is not None:
            hook = (
                "journeyflow_effect_delivered" if status == "sent" else "journeyflow_effect_failed"
            )
            call_each(self.registry.manager, hook, effect=done, delivery=delivery)


def dispatch(
    store: Store,
    registry: Registry,
    *,
    clock: Clock,
    limit: int = 1000,
    max_attempts: int = 5,
    delay: Callable[[int], timedelta] = jittered_backoff,
    lease: timedelta | None = None,
) -> DispatchReport:
    """One run of a fresh `Deliverer` (its circuits start closed): deliver
    pending effects whose time had come when the run began, oldest first.
    The parameters are `Deliverer`'s and `Deliverer.run`'s."""
    deliverer = Deliverer(
        store, registry, clock=clock, max_attempts=max_attempts, delay=delay, lease=lease
    )
    return deliverer.run(limit)


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


def _lost(effect: Effect, when: str, report: DispatchReport) -> None:
    report.lost += 1
    log.warning(
        "lease lost: another deliverer holds the effect",
        key=effect.key,
        channel=effect.channel,
        when=when,
    )
