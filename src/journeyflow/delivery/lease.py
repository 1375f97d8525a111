"""One deliverer's claim on a few outbox effects, and the lease it holds them by.

A claim is taken at a moment and leases its effects from that moment, not
from when the run began: a run that lasts longer than a lease still holds
what it claims last. Before each send the deliverer renews the claim (every
effect it still holds gets a fresh lease, so the later effects of a slow
batch keep theirs) and learns whether it still holds the effect it is about
to send; one it lost, because its lease ran out and another deliverer took
the effect, it passes by. Recording an attempt goes through the claim's
token too, so a deliverer that lost an effect never records over the one
that holds it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from journeyflow.clock import Clock
    from journeyflow.store.base import Store
    from journeyflow.types import Effect

__all__ = ["Claim"]


@dataclass
class Claim:
    """Effects claimed together under one token, leased `lease` past the last
    renewal."""

    store: Store
    clock: Clock
    lease: timedelta
    token: str
    effects: list[Effect]

    @classmethod
    def take(
        cls,
        store: Store,
        clock: Clock,
        *,
        due_by: datetime,
        limit: int,
        lease: timedelta,
        skip_channels: Collection[str] = (),
    ) -> Claim:
        """Claim up to `limit` pending effects due by `due_by`, leased from now,
        none of `skip_channels`."""
        token = uuid.uuid4().hex  # 32 characters: the outbox's claim_token
        effects = store.claim_effects(
            due_by, limit, clock.now() + lease, token, skip_channels=skip_channels
        )
        return cls(store, clock, lease, token, effects)

    def renew(self, key: str, *, at_least: timedelta = timedelta(0)) -> bool:
        """Renew the lease on every effect still held, for `lease` or `at_least`
        (the send about to start) if longer; whether `key` is one of them."""
        until = self.clock.now() + max(self.lease, at_least)
        claimed = [e.key for e in self.effects]
        return key in self.store.renew_claim(self.token, until, claimed)

    def record(
        self,
        key: str,
        status: str,
        attempts: int,
        last_error: str | None,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record an attempt if the effect is still held; whether it was."""
        return self.store.record_attempt(
            key, self.token, status, attempts, last_error, next_attempt_at
        )
