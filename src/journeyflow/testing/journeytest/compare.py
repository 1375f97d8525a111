"""Comparing what an `expect:` step wants with what happened: the messages
sent to the customer (`sent`, `sent_include`, `not_sent`), the tasks created
for people (`tasks`) and attribute values.

A task is a to-do for a person of the company, not a message to the
customer: `sent` leaves the `task` channel out and `tasks:` checks it. (A
`sent` list that names `{channel: task}` itself, as tests written before
`tasks:` existed do, is compared with the tasks included.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from journeyflow.clock import as_utc
from journeyflow.definition import testspec
from journeyflow.testing.journeytest.formatting import fmt_time, show_value


@dataclass(frozen=True)
class Sent:
    """A message the engine queued in the outbox (not suppressed), as tests see it."""

    channel: str
    template: str | None
    at: datetime
    journey: str
    data: dict[str, Any] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return f"{label(self)}  ({fmt_time(self.at)}, {self.journey})"


TASK = "task"  # the channel of tasks: to-dos for people, not messages to the customer


def label(m: testspec.SentMessage | Sent) -> str:
    """`channel template`, or just the channel; with the data an expectation names."""
    text = m.channel if m.template is None else f"{m.channel} {m.template}"
    if isinstance(m, testspec.SentMessage) and m.data:
        text += " " + _inline(m.data)
    return text


def _inline(values: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {show_value(v)}" for k, v in values.items()) + "}"


def matches(expected: testspec.SentMessage, actual: Sent) -> bool:
    """Same channel, the same template unless the expectation leaves it out, and
    the data fields the expectation names with the same values."""
    return (
        expected.channel == actual.channel
        and (expected.template is None or expected.template == actual.template)
        and (
            expected.data is None
            or all(
                k in actual.data and same_value(v, actual.data[k]) for k, v in expected.data.items()
            )
        )
    )


def to_customer(
    sends: Sequence[Sent], expected: Sequence[testspec.SentMessage] | None = None
) -> list[Sent]:
    """The messages sent to the customer: every channel but `task`, unless the
    expectation itself lists tasks (the form tests had before `tasks:`)."""
    if expected is not None and any(m.channel == TASK for m in expected):
        return list(sends)
    return [s for s in sends if s.channel != TASK]


def data_problems(expected: Sequence[testspec.SentMessage], actual: Sequence[Sent]) -> list[str]:
    """For a send whose channel and template match but whose data does not:
    which field differs (the diff alone would only say "not sent")."""
    out = []
    for want in expected:
        if want.data is None or any(matches(want, s) for s in actual):
            continue
        for s in actual:
            if want.channel == s.channel and want.template in (None, s.template):
                diffs = [
                    f"{k}: expected {show_value(v)}, got "
                    + (show_value(s.data[k]) if k in s.data else "nothing (not in the data)")
                    for k, v in want.data.items()
                    if k not in s.data or not same_value(v, s.data[k])
                ]
                out.append(f"data of {label(s)} at {fmt_time(s.at)}: " + "; ".join(diffs))
                break
    return out


def check_tasks(expected: Sequence[testspec.TaskExpectation], actual: Sequence[Sent]) -> list[str]:
    """`tasks:` exactly these, in order; each item checks the fields it names."""
    tasks = [s for s in actual if s.channel == TASK]

    def fits(want: testspec.TaskExpectation, got: Sent) -> bool:
        named = want.model_dump(exclude_none=True)
        return all(got.data.get(k) == v for k, v in named.items())

    if len(expected) == len(tasks) and all(map(fits, expected, tasks)):
        return []
    lines = [f"tasks: expected {len(expected)} task(s), got {len(tasks)}:"]
    for i in range(max(len(expected), len(tasks))):
        want = expected[i] if i < len(expected) else None
        got = tasks[i] if i < len(tasks) else None
        mark = "  " if want is not None and got is not None and fits(want, got) else "x "
        wanted = _inline(want.model_dump(exclude_none=True)) if want is not None else "(none)"
        shown = (
            _inline({k: got.data.get(k) for k in ("title", "owner") if got.data.get(k)})
            + f"  ({fmt_time(got.at)}, {got.journey})"
            if got is not None
            else "(none)"
        )
        lines.append(f"    {mark}{i + 1}. expected {wanted}, got {shown}")
    return ["\n".join(lines)]


def _align(
    expected: Sequence[testspec.SentMessage], actual: Sequence[Sent]
) -> list[tuple[str, str]]:
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


def check_sent(expected: Sequence[testspec.SentMessage], actual: Sequence[Sent]) -> list[str]:
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
        + "".join(f"\n  {p}" for p in data_problems(expected, actual))
    ]


def check_include(expected: Sequence[testspec.SentMessage], actual: Sequence[Sent]) -> list[str]:
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
                + "".join(f"\n  {p}" for p in data_problems([want], actual))
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
