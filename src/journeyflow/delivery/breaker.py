"""A circuit breaker per channel: a channel that keeps failing is left alone
for a while, and its effects wait without using up their attempts.

Each channel gets a pybreaker `CircuitBreaker`. A temporary failure (the
channel said so, raised, answered something that is not a `Delivery`, or
overran its timeout) counts against it; a send, or a permanent failure (the
channel answered: it is the recipient that is wrong), resets the count.
After `fail_max` temporary failures in a row the circuit opens: for
`reset_timeout` that channel's effects are not handed to it at all, so a
receiver that is down costs `fail_max` timeouts, not one per queued effect,
and the other channels' effects go on. Then the circuit is half-open: the
next effect is the trial; if it is sent the circuit closes, if it fails the
circuit opens again for another `reset_timeout`.

Breakers live as long as the `ChannelBreakers` that holds them: the service
keeps one across its delivery rounds; `journeyflow deliver` starts closed.

pybreaker times the cool-down with the wall clock (`datetime.now`). The
deliverer has a clock of its own (a `VirtualClock` in tests and simulations),
so `_ClockedStorage` keeps the moment the circuit opened on that clock and
shows pybreaker the wall-clock moment as far back: the cool-down is measured
on the deliverer's clock, whichever it is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pybreaker
import structlog

from journeyflow.types import Delivery

if TYPE_CHECKING:
    from journeyflow.clock import Clock

__all__ = ["DEFAULT_COOL_DOWN", "DEFAULT_FAILURES_TO_OPEN", "ChannelBreakers"]

log = structlog.get_logger("journeyflow.delivery.breaker")

DEFAULT_FAILURES_TO_OPEN = 5  # temporary failures in a row that open a channel's circuit
DEFAULT_COOL_DOWN = timedelta(minutes=1)  # how long an open circuit stays open


class _ClockedStorage(pybreaker.CircuitMemoryStorage):
    """pybreaker's in-memory state, the opening time kept on `clock`."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(pybreaker.STATE_CLOSED)
        self._clock = clock
        self.opened_on_clock: datetime | None = None

    @property
    def opened_at(self) -> datetime | None:
        if self.opened_on_clock is None:
            return None
        # pybreaker compares this with datetime.now(UTC): as long ago as on our clock
        return datetime.now(UTC) - (self._clock.now() - self.opened_on_clock)

    @opened_at.setter
    def opened_at(self, wall: datetime) -> None:  # pybreaker passes its now; ours counts
        self.opened_on_clock = self._clock.now()


class _Logged(pybreaker.CircuitBreakerListener):
    def state_change(
        self,
        cb: pybreaker.CircuitBreaker,
        old_state: pybreaker.CircuitBreakerState | None,
        new_state: pybreaker.CircuitBreakerState,
    ) -> None:
        log.warning(
            "channel circuit " + new_state.name,
            channel=cb.name,
            was=old_state.name if old_state else None,
            failures=cb.fail_counter,
        )


class _Failing(Exception):
    """A temporary failure, raised through pybreaker so that it counts."""

    def __init__(self, delivery: Delivery) -> None:
        super().__init__(delivery.detail)
        self.delivery = delivery


class ChannelBreakers:
    """One circuit breaker per channel name, made on first use.

    :param clock: times the cool-down (the deliverer's clock)
    :param fail_max: temporary failures in a row that open a circuit
    :param reset_timeout: how long a circuit stays open before its trial
    """

    def __init__(
        self,
        clock: Clock,
        *,
        fail_max: int = DEFAULT_FAILURES_TO_OPEN,
        reset_timeout: timedelta = DEFAULT_COOL_DOWN,
    ) -> None:
        if fail_max < 1:
            raise ValueError("fail_max must be at least 1")
        self.clock = clock
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self._breakers: dict[str, tuple[pybreaker.CircuitBreaker, _ClockedStorage]] = {}

    def _get(self, channel: str) -> tuple[pybreaker.CircuitBreaker, _ClockedStorage]:
        found = self._breakers.get(channel)
        if found is None:
            storage = _ClockedStorage(self.clock)
            breaker = pybreaker.CircuitBreaker(
                fail_max=self.fail_max,
                reset_timeout=self.reset_timeout.total_seconds(),
                state_storage=storage,
                listeners=[_Logged()],
                name=channel,
                # the failure that trips the circuit is recorded as what it was
                throw_new_error_on_trip=False,
            )
            found = self._breakers[channel] = (breaker, storage)
        return found

    def state(self, channel: str) -> str:
        """`closed`, `open` or `half-open` (pybreaker's names). An open circuit
        whose cool-down is over still says `open` until its trial starts."""
        return self._get(channel)[0].current_state

    def reopens_at(self, channel: str) -> datetime | None:
        """When an open circuit lets its trial through; None when not open."""
        breaker, storage = self._get(channel)
        if breaker.current_state != pybreaker.STATE_OPEN or storage.opened_on_clock is None:
            return None
        return storage.opened_on_clock + self.reset_timeout

    def holds_back(self, channel: str) -> datetime | None:
        """While the channel's circuit is open and cooling down: when it will
        let a trial through. None: the channel may be tried now."""
        until = self.reopens_at(channel)
        return until if until is not None and self.clock.now() < until else None

    def holding_back(self) -> set[str]:
        """The channels whose circuits are open and cooling down now."""
        return {name for name in self._breakers if self.holds_back(name) is not None}

    def call(self, channel: str, send: Callable[[], Delivery]) -> Delivery | None:
        """`send()` through the channel's breaker: its Delivery, or None when
        the circuit was open and nothing was sent."""
        breaker = self._get(channel)[0]

        def guarded() -> Delivery:
            delivery = send()
            if delivery.status == "temporary_failure":
                raise _Failing(delivery)
            return delivery

        try:
            return breaker.call(guarded)
        except _Failing as failing:
            return failing.delivery
        except pybreaker.CircuitBreakerError:
            return None
