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
deliver again: channels must be idempotent on `effect.key` (`SentKeys` helps).

Several deliverers may run at once (processes, hosts): each claims a few
effects at a time (`Store.claim_effects`: the SQL store takes them in one
write transaction, `FOR UPDATE SKIP LOCKED` on PostgreSQL) and leases them
for long enough to deliver them all; the others pass them by. A deliverer
that dies leaves its claimed effects to be retried when the lease runs out.

The retry time goes to the outbox's `next_attempt_at` when the store takes
it (`update_effect(..., next_attempt_at=)`); with an older store it is written
at the end of `last_error` as `[retry at <ISO time>]`.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from journeyflow.plugin.manager import call_each
from journeyflow.types import Delivery, Effect

if TYPE_CHECKING:
    from journeyflow.clock import Clock
    from journeyflow.plugin.manager import Registry
    from journeyflow.store.base import Store

__all__ = ["DispatchReport", "SentKeys", "backoff", "dispatch", "retry_at"]

log = structlog.get_logger("journeyflow.delivery.outbox")

TIMEOUT_SLACK = 1.0  # seconds a channel may overrun its own timeout before we stop waiting
CLAIM_CHUNK = 50  # effects claimed at a time: a short lease, and a crash strands few
LEASE_MARGIN_S = 60.0  # on top of every claimed effect taking its channel's full timeout
_RETRY = re.compile(r" ?\[retry at (?P<at>[^\]]+)\]$")


@dataclass
class DispatchReport:
    """What one dispatch run did."""

    sent: int = 0
    retrying: int = 0  # temporary failures, still pending with a retry time
    failed: int = 0  # given up: permanent failures, unknown channels, out of attempts
    waiting: int = 0  # pending, but their retry time has not come
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed

    def count(self, channel: str, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        row = self.by_channel.setdefault(channel, {})
        row[outcome] = row.get(outcome, 0) + 1

    def summary(self) -> str:
        return (
            f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed, "
            f"{self.waiting} waiting for their retry time"
        )


def backoff(attempts: int, *, base: float = 60.0, cap: float = 6 * 3600.0) -> timedelta:
    """Delay before the next attempt after `attempts` failed ones: 1 min, 2, 4, ...
    up to 6 h."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def retry_at(effect: Effect) -> datetime | None:
    """When a pending effect may be tried again (None: now)."""
    stored = getattr(effect, "next_attempt_at", None)
    if isinstance(stored, datetime):
        return stored
    if not effect.last_error:
        return None
    match = _RETRY.search(effect.last_error)
    if match is None:
        return None
    try:
        return datetime.fromisoformat(match["at"])
    except ValueError:
        return None


def dispatch(
    store: Store,
    registry: Registry,
    *,
    clock: Clock,
    limit: int = 1000,
    max_attempts: int = 5,
    delay: Callable[[int], timedelta] = backoff,
) -> DispatchReport:
    """Deliver pending effects whose time has come, oldest first.

    :param store: the outbox
    :param registry: the channels (and, through its manager, the observer hooks)
    :param clock: decides which retries are due and stamps the next retry time
    :param limit: at most this many deliveries in this run
    :param max_attempts: a temporary failure on this attempt fails the effect
    :param delay: attempts so far -> wait before the next attempt
    """
    report = DispatchReport()
    now = clock.now()
    with_column = _stores_retry_time(store)
    customers: dict[str, dict[str, Any]] = {}
    for effect in _due_effects(store, registry, now, limit, report):
        channel = registry.channels.get(effect.channel)
        if channel is None:
            known = ", ".join(sorted(registry.channels)) or "none"
            delivery = Delivery.give_up(
                f"no installed plugin registers channel {effect.channel!r} (registered: "
                f"{known}); install its plugin, then set this effect back to pending"
            )
        else:
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
        _record(store, registry, effect, delivery, now, max_attempts, delay, report, with_column)
    return report


def _due_effects(
    store: Store, registry: Registry, now: datetime, limit: int, report: DispatchReport
) -> Iterator[Effect]:
    """The effects to deliver now, at most `limit`. A store that can claim them
    (`claim_effects`) hands out CLAIM_CHUNK at a time under a lease long enough
    to deliver them all, so several deliverers never hand one effect to its
    channel twice; other stores are read whole, for one deliverer at a time."""
    claim = getattr(store, "claim_effects", None)
    if claim is None:
        for effect in store.get_effects(None, "pending"):
            if report.attempted >= limit:
                return
            due = retry_at(effect)
            if due is not None and due > now:
                report.waiting += 1
                continue
            yield effect
        return
    slowest = max((c.timeout for c in registry.channels.values()), default=0.0)
    lease = timedelta(seconds=CLAIM_CHUNK * (slowest + TIMEOUT_SLACK) + LEASE_MARGIN_S)
    while report.attempted < limit:
        claimed = claim(now, min(CLAIM_CHUNK, limit - report.attempted), lease)
        if not claimed:
            break
        yield from claimed
    # counted once, at the end: per claim it would rescan the pending rows each time
    report.waiting = store.waiting_effects(now)


def _stores_retry_time(store: Store) -> bool:
    """Whether `update_effect` takes `next_attempt_at` (the outbox column); until
    then the retry time rides at the end of `last_error`."""
    import inspect

    try:
        return "next_attempt_at" in inspect.signature(store.update_effect).parameters
    except (TypeError, ValueError):
        return False


def _record(
    store: Store,
    registry: Registry,
    effect: Effect,
    delivery: Delivery,
    now: datetime,
    max_attempts: int,
    delay: Callable[[int], timedelta],
    report: DispatchReport,
    with_column: bool = False,
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
        next_at = now + delay(attempts)
        error = delivery.detail or "temporary failure"
        if not with_column:
            error = f"{error} [retry at {next_at.isoformat()}]"
    if with_column:
        store.update_effect(effect.key, status, attempts, error, next_attempt_at=next_at)
    else:
        store.update_effect(effect.key, status, attempts, error)
    report.count(effect.channel, outcome)
    changes: dict[str, Any] = {"status": status, "attempts": attempts, "last_error": error}
    if hasattr(effect, "next_attempt_at"):
        changes["next_attempt_at"] = next_at
    done = replace(effect, **changes)
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
            error=f"{type(exc).__name__}: {exc}",
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


class SentKeys:
    """Effect keys a channel has delivered, so a redelivery is not sent twice.

    The dispatcher marks an effect `sent` only after the channel returns; a
    crash in between makes the next run deliver it again. A channel records
    the key right after the provider accepted the message and checks it first.
    Kept in a small SQLite file (`path`), or in memory when `path` is None.
    The guarantee is at-least-once: a crash between the provider accepting
    and the key being recorded can still send twice (hence Message-ID and
    Idempotency-Key headers derived from the key, for the receiving side).

    :param path: the SQLite file (created with its folder), or None
    :param channel: keys are kept per channel name
    """

    def __init__(self, path: str | Path | None, channel: str) -> None:
        self.path = Path(path) if path is not None else None
        self.channel = channel
        self._memory: set[str] = set()
        self._lock = threading.Lock()
        self._ready = False

    def _connect(self) -> closing[sqlite3.Connection]:
        # created on first use, so listing plugins never writes files
        assert self.path is not None
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=30)) as conn, conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS sent_keys (channel TEXT NOT NULL, "
                    "key TEXT NOT NULL, detail TEXT, PRIMARY KEY (channel, key))"
                )
            self._ready = True
        return closing(sqlite3.connect(self.path, timeout=30))

    def __contains__(self, key: object) -> bool:
        if self.path is None:
            with self._lock:
                return key in self._memory
        with self._connect() as conn:
            row = conn.execute(
                "SELECT 1 FROM sent_keys WHERE channel = ? AND key = ?", (self.channel, key)
            ).fetchone()
        return row is not None

    def add(self, key: str, detail: str | None = None) -> None:
        """Remember that `key` was delivered."""
        if self.path is None:
            with self._lock:
                self._memory.add(key)
            return
        with self._connect() as conn, conn:
            conn.execute(
                "INSERT OR IGNORE INTO sent_keys (channel, key, detail) VALUES (?, ?, ?)",
                (self.channel, key, detail),
            )


def state_dir() -> Path:
    """Where channels keep local state (sent keys): `JOURNEYFLOW_STATE_DIR`,
    else `.journeyflow` in the working directory."""
    import os

    return Path(os.environ.get("JOURNEYFLOW_STATE_DIR") or ".journeyflow")
