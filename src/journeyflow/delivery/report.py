"""What one delivery run did, counted per channel and outcome.

The outcomes, and what becomes of the effect:

- `sent`: delivered (the row is `sent`);
- `retrying`: a temporary failure; the row stays `pending` with a retry time;
- `failed`: dead-lettered — a permanent failure, an unknown channel, or the
  last allowed attempt failed; the row is `failed` (the outbox's dead-letter
  state: `journeyflow outbox list --status failed` shows them, `retry` puts
  them back);
- `breaker_open`: claimed, then not attempted because the channel's circuit
  opened meanwhile; the row stays `pending`, its attempts untouched, due
  again when the circuit lets a trial through. Once a circuit is open, its
  channel's rows are not claimed at all (no write, no count): the channel is
  in `open_circuits`.

`by_channel` holds the same counts per channel, for metrics
(`{channel: {outcome: n}}`); the delivery layer counts, the service exports.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["OUTCOMES", "DispatchReport"]

OUTCOMES = ("sent", "retrying", "failed", "breaker_open")


@dataclass
class DispatchReport:
    """What one dispatch run did."""

    sent: int = 0
    retrying: int = 0  # temporary failures, still pending with a retry time
    failed: int = 0  # dead letters: permanent failures, unknown channels, out of attempts
    breaker_open: int = 0  # not attempted: the channel's circuit is open
    waiting: int = 0  # pending, but their retry time has not come
    lost: int = 0  # claimed, then taken over by another deliverer when the lease ran out
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    open_circuits: list[str] = field(default_factory=list)  # channels held back at the end

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed

    def count(self, channel: str, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown delivery outcome {outcome!r}")
        setattr(self, outcome, getattr(self, outcome) + 1)
        row = self.by_channel.setdefault(channel, {})
        row[outcome] = row.get(outcome, 0) + 1

    def counts(self) -> Iterator[tuple[str, str, int]]:
        """(channel, outcome, n) for every pair that happened, sorted."""
        for channel, row in sorted(self.by_channel.items()):
            for outcome, n in sorted(row.items()):
                yield channel, outcome, n

    def summary(self) -> str:
        text = (
            f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed, "
            f"{self.waiting} waiting for their retry time"
        )
        if self.breaker_open:
            text += f", {self.breaker_open} held back (their channel's circuit is open)"
        if self.lost:
            text += f", {self.lost} left to another deliverer (lease lost)"
        if self.open_circuits:
            text += f"; circuit open, held back: {', '.join(self.open_circuits)}"
        return text
