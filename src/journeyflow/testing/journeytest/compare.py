"""Comparing what an `expect:` step wants with what happened: the messages
sent (`sent`, `sent_include`, `not_sent`) and attribute values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from journeyflow.clock import as_utc
from journeyflow.definition import dsl
from journeyflow.testing.journeytest.formatting import fmt_time


@dataclass(frozen=True)
class Sent:
    """A message the engine queued in the outbox (not suppressed), as tests see it."""

    channel: str
    template: str | None
    at: datetime
    journey: str

    def __str__(self) -> str:
        return f"{label(self)}  ({fmt_time(self.at)}, {self.journey})"


def label(m: dsl.SentMessage | Sent) -> str:
    """`channel template`, or just the channel."""
    return m.channel if m.template is None else f"{m.channel} {m.template}"


def matches(expected: dsl.SentMessage, actual: Sent) -> bool:
    """Same channel, and the same template unless the expectation leaves it out."""
    return expected.channel == actual.channel and (
        expected.template is None or expected.template == actual.template
    )


def _align(expected: Sequence[dsl.SentMessage], actual: Sequence[Sent]) -> list[tuple[str, str]]:
    """A diff of the two lists (longest common subsequence): ("  " | "- " | "+ ", text)."""
    n, m = len(expected), len(actual)
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best[i][j] = (
                best[i + 1][j + 1] + 1
                if matches(expected[i], actual[j])
                else max(best[i + 1][j], best[i][j + 1])
            )
    rows: list[tuple[str, str]] = []
    i = j = 0
    while i < n or j < m:
        if (
            i < n
            and j < m
            and matches(expected[i], actual[j])
            and best[i][j] == best[i + 1][j + 1] + 1
        ):
            rows.append(("  ", str(actual[j])))
            i, j = i + 1, j + 1
        elif j < m and (i == n or best[i][j + 1] >= best[i + 1][j]):
            rows.append(("+ ", str(actual[j])))
            j += 1
        else:
            rows.append(("- ", label(expected[i])))
            i += 1
    return rows


def check_sent(expected: Sequence[dsl.SentMessage], actual: Sequence[Sent]) -> list[str]:
    """`sent:` exactly these, in this order; the problem shows a diff."""
    if len(expected) == len(actual) and all(map(matches, expected, actual)):
        return []
    rows = _align(expected, actual)
    head = (
        f"sent: expected {len(expected)} message(s), got {len(actual)} "
        "(- expected only, + actual only):"
    )
    return [
        head
        + "".join(f"\n    {mark}{text}" for mark, text in rows)
        + ("\n    (nothing was sent)" if not rows else "")
    ]


def check_include(expected: Sequence[dsl.SentMessage], actual: Sequence[Sent]) -> list[str]:
    """`sent_include:` these in this order, others allowed between."""
    j = 0
    for i, want in enumerate(expected):
        while j < len(actual) and not matches(want, actual[j]):
            j += 1
        if j == len(actual):
            listing = "".join(f"\n    {s}" for s in actual) or "\n    (nothing was sent)"
            later = "" if i == 0 else f" after {label(expected[i - 1])}"
            return [
                f"sent_include: {label(want)} (item {i + 1} of {len(expected)}) was not "
                f"sent{later}; sent so far:{listing}"
            ]
        j += 1
    return []


def same_value(expected: Any, actual: Any) -> bool:
    """YAML values against stored attributes: True is not 1, 2.0 is 2, and a
    date or datetime in the YAML matches its ISO-8601 string."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, datetime) and isinstance(actual, str):
        try:
            return as_utc(expected) == as_utc(datetime.fromisoformat(actual.replace("Z", "+00:00")))
        except ValueError:
            return False
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            same_value(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(same_value, expected, actual))
    if hasattr(expected, "isoformat") and isinstance(actual, str):  # a YAML date
        return bool(expected.isoformat() == actual)
    return bool(expected == actual)
