"""Run-time CEL failures in words a journey author reads (`cel.explain_failure`):
the expression, what went wrong in the journey's terms, and the values it
read; never the interpreter's own text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from journeyflow.clock import VirtualClock
from journeyflow.definition.cel import Scope, compile_expression
from journeyflow.definition.loader import load_text
from journeyflow.exceptions import ExpressionError
from journeyflow.runtime.engine import Engine
from journeyflow.store import MemoryStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)
INTERPRETER_WORDS = (
    "No such overload",
    "Parsing Error",
    "Error {",
    "Check function arguments",
    "Python function call failed",
    "Undefined variable or function",
    "KeyError",
)


def failure(source: str, customer: dict[str, Any] | None = None, **scope: Any) -> str:
    expression = compile_expression(source)
    with pytest.raises(ExpressionError) as caught:
        expression.evaluate(Scope(now=NOW, customer=customer or {}, **scope))
    text = str(caught.value)
    assert text.startswith(f"{source!r} failed: "), text
    assert not any(word in text for word in INTERPRETER_WORDS), text
    return text


@pytest.mark.parametrize(
    ("source", "customer", "event", "says"),
    [
        (
            "event.properties.total > 100",
            {},
            {},
            "there is no event here: a timer moved the customer",
        ),
        ("event.properties.total", {}, {}, "there is no event here"),  # a plain path
        (
            "customer.plan.tier",
            {"plan": "basic"},
            {},
            'customer.plan is "basic" (text), not a map, so it has no field `tier`',
        ),
        (
            'event.properties.coupon == "X"',
            {},
            {"name": "clicked", "properties": {"total": 3, "sku": "a"}},
            "event.properties has no `coupon` (it has sku, total); test for it first with "
            "has(event.properties.coupon)",
        ),
        (
            'customer.plan.tier == "gold"',
            {"plan": "basic"},
            {},
            'customer.plan is "basic" (text), not a map, so it has no field `tier`',
        ),
        (
            "customer.total + 1 > 2",
            {"total": "12,50"},
            {},
            "CEL does not mix types (string + int): convert one side with int(), double() or "
            'string(); it read customer.total = "12,50" (text)',
        ),
        (
            "customer.total > 2",
            {"total": "12"},
            {},
            "CEL never converts one type into another: convert with int(), double(), string() "
            'or timestamp(); it read customer.total = "12" (text)',
        ),
        (
            "now + duration(customer.grace) > now",
            {"grace": "2 days"},
            {},
            'a CEL duration is a number and a unit, h, m, s, ms, us or ns (e.g. "48h", "1h30m"), '
            'not days; it read customer.grace = "2 days" (text)',
        ),
        (
            "timestamp(customer.when) < now",
            {"when": "yesterday"},
            {},
            "timestamp() cannot read its text: it takes an RFC 3339 date-time such as "
            '"2026-01-01T10:00:00Z"',
        ),
        (
            "int(customer.n) > 1",
            {"n": "abc"},
            {},
            'int() cannot read its text as a number; it read customer.n = "abc" (text)',
        ),
        (
            "customer.xs[3] == 1",
            {"xs": [1]},
            {},
            "a list index past the end of the list (index out of bounds: 3); it read "
            "customer.xs = a list of 1 item(s)",
        ),
        (
            "size(customer.n) > 1",
            {"n": 1},
            {},
            "size() does not take a value of that type; it read customer.n = 1 (a whole number)",
        ),
        ("10 / customer.n > 1", {"n": 0}, {}, "a division by zero; it read customer.n = 0"),
        (
            "local_time(now, customer.t) > now",
            {"t": "9h"},
            {},
            "local_time() failed: '9h' is not a time of day: write it as hh:mm, e.g. '09:00'",
        ),
        (
            "month_start(customer.birthday) < now",
            {"birthday": "soon"},
            {},
            "month_start() failed: 'soon' is not an ISO-8601 date or datetime",
        ),
        (
            'customer.email.endsWith("x")',
            {"email": None},
            {},
            "endsWith() does not take a value of that type; it read customer.email = null",
        ),
    ],
)
def test_a_failure_is_said_in_the_journeys_terms(
    source: str, customer: dict[str, Any], event: dict[str, Any], says: str
) -> None:
    text = failure(source, customer, event=event, state={"name": "s"})
    assert says in text, text


@dataclass
class _ScopeWithTrigger(Scope):
    trigger: dict[str, Any] | None = None


def test_an_empty_event_points_to_trigger_where_it_is_in_scope() -> None:
    expression = compile_expression("event.properties.total > 1")
    with pytest.raises(ExpressionError, match="`trigger` is the event that started the enrolment"):
        expression.evaluate(_ScopeWithTrigger(now=NOW, customer={}, event={}, trigger={}))


JOURNEY = """\
journey: pricing
version: 1
entry: {on: [quote_requested]}
initial: quoted
states:
  quoted:
    transitions:
      - {after: 1d, to: follow_up}
  follow_up:
    transitions:
      - {after: 0m, to: big, when: 'event.properties.total > 100'}
      - {after: 1d, to: closed}
  big: {final: true}
  closed: {final: true}
"""


def test_the_history_row_says_it_plainly() -> None:
    """A guard reading the event in a state a timer entered: the engine counts
    it false and writes the reason to the history, in these words."""
    engine = Engine([load_text(JOURNEY)], MemoryStore(), VirtualClock(NOW))
    engine.ingest(
        [
            {
                "type": "track",
                "userId": "p1",
                "event": "quote_requested",
                "properties": {"total": 500},
                "timestamp": NOW.isoformat(),
            }
        ]
    )
    engine.advance_to(datetime(2026, 1, 3, tzinfo=UTC))
    [error] = [h for h in engine.history("p1") if h.kind == "error"]
    assert error.detail is not None
    assert error.detail.startswith(
        "guard counted as false: 'event.properties.total > 100' failed: there is no event "
        "here: a timer moved the customer"
    ), error.detail
    assert not any(word in error.detail for word in INTERPRETER_WORDS)
    assert engine.enrolments("p1")[0].state == "closed"
