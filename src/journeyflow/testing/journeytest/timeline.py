"""What happened in a journey test, in time order: for `journeyflow test
--trace` (events, transitions, sends and tasks, with their virtual times) and
`--strict` (the run-time errors written to customers' histories)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from journeyflow.testing.journeytest.formatting import fmt_time

if TYPE_CHECKING:
    from journeyflow.runtime.engine import Engine

MAX_LINES = 1000  # a replay of a whole clickstream would print for minutes


class Timeline:
    """The events a test applied (the store keeps the rest), when `enabled`."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._events: list[tuple[datetime, str, str]] = []

    def event(self, at: datetime, customer: str, name: str) -> None:
        if self.enabled:
            self._events.append((at, customer, name))

    def lines(self, engine: Engine) -> list[str]:
        """Events, history rows and effects merged by time; at one instant an
        event, then the moves it caused, then what they sent. Cut at MAX_LINES."""
        rows: list[tuple[datetime, int, int, str]] = []
        keys = {e.id: e.key for e in engine.enrolments() if e.key is not None}

        def whose(journey: str, enrolment_id: str) -> str:
            key = keys.get(enrolment_id)
            return journey if key is None else f"{journey}[{key}]"

        for i, (at, customer, name) in enumerate(self._events):
            rows.append((at, 0, i, f"{'event':<10} {customer}  {name}"))
        for i, h in enumerate(engine.history()):
            move = f"{h.from_state or '(start)'} -> {h.to_state or '(end)'}"
            detail = f"  [{h.detail}]" if h.detail else ""
            rows.append(
                (
                    h.at,
                    1,
                    i,
                    f"{h.kind:<10} {h.customer_id}  {whose(h.journey, h.enrolment_id)}  {move}  "
                    f"({h.cause}){detail}",
                )
            )
        for i, e in enumerate(engine.effects()):
            if e.channel == "task":
                what = f"{'task':<10} {e.customer_id}  {whose(e.journey, e.enrolment_id)}  "
                what += repr(e.data.get("title"))
                owner = e.data.get("owner")
                what += f" for {owner}" if owner else ""
            else:
                what = (
                    f"{'send':<10} {e.customer_id}  {whose(e.journey, e.enrolment_id)}  {e.channel}"
                )
                what += f" {e.template}" if e.template else ""
            if e.status == "suppressed":
                what += "  (suppressed: holdout)"
            rows.append((e.created_at, 2, i, what))
        rows.sort(key=lambda r: r[:3])
        out = [f"{fmt_time(at)}  {text}" for at, _, _, text in rows[:MAX_LINES]]
        if len(rows) > MAX_LINES:
            out.append(f"... and {len(rows) - MAX_LINES:,} more (the trace stops at {MAX_LINES:,})")
        return out


def error_rows(engine: Engine) -> list[str]:
    """The `error` rows of every customer's history, one line each."""
    return [
        f"{fmt_time(h.at)}  {h.customer_id}  {h.journey}  in {h.from_state}: {h.detail}"
        for h in engine.history()
        if h.kind == "error"
    ]
