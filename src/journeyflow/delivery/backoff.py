"""How long a temporarily failed effect waits before its next attempt.

tenacity's wait strategies decide the wait; the outbox keeps the schedule.
A tenacity retry loop (`@retry`, `Retrying`) would sleep inside one process,
and a restart, a deploy or a crash would forget every retry it was sleeping
on. So only the arithmetic is tenacity's: the dispatcher asks a wait
strategy for the wait after `attempts` failed attempts and stores
`now + wait` in the effect's outbox row (`next_attempt_at`), where any
deliverer, in this process or another, finds it when it is due.

The wait is exponential with "equal jitter": after n failed attempts the
ceiling is `base * 2**(n-1)` (1 min, 2, 4, ... up to 6 h) and the wait is
drawn from its upper half, `[ceiling/2, ceiling]` — tenacity's
`wait_exponential` for the fixed half plus `wait_random_exponential` for the
random half. Many effects that failed together (a receiver down for a
minute) come back spread out instead of all at once, and none comes back
sooner than half its ceiling.
"""

from __future__ import annotations

from datetime import timedelta

from tenacity import RetryCallState, Retrying, wait_exponential, wait_random_exponential
from tenacity.wait import wait_base

__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "backoff", "jittered_backoff"]

BACKOFF_BASE = timedelta(minutes=1)  # the first wait's ceiling
BACKOFF_CAP = timedelta(hours=6)  # the longest wait between attempts, Retry-After included


def _ceiling(base: float, cap: float) -> wait_base:
    return wait_exponential(multiplier=base, max=cap)


def _equal_jitter(base: float, cap: float) -> wait_base:
    # half fixed, half random: together within [ceiling/2, ceiling]
    return wait_exponential(multiplier=base / 2, max=cap / 2) + wait_random_exponential(
        multiplier=base / 2, max=cap / 2
    )


_NO_LOOP = Retrying()  # a RetryCallState needs one; it never runs anything here


def _after(attempts: int) -> RetryCallState:
    """The state tenacity's waits read: the attempt that just failed."""
    state = RetryCallState(_NO_LOOP, fn=None, args=(), kwargs={})
    state.attempt_number = max(1, attempts)
    return state


def backoff(
    attempts: int,
    *,
    base: float = BACKOFF_BASE.total_seconds(),
    cap: float = BACKOFF_CAP.total_seconds(),
) -> timedelta:
    """The ceiling of the wait after `attempts` failed attempts, without
    jitter: 1 min, 2, 4, ... up to 6 h. A retry is always due by then."""
    return timedelta(seconds=_ceiling(base, cap)(_after(attempts)))


def jittered_backoff(
    attempts: int,
    *,
    base: float = BACKOFF_BASE.total_seconds(),
    cap: float = BACKOFF_CAP.total_seconds(),
) -> timedelta:
    """The wait after `attempts` failed attempts: at random within
    [`backoff(attempts)` / 2, `backoff(attempts)`]."""
    return timedelta(seconds=_equal_jitter(base, cap)(_after(attempts)))
