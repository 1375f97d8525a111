"""Literal durations and timestamps inside CEL are checked when a journey
loads (JF408, JF409), with the fix in the message (`cel_literals.py`)."""

from __future__ import annotations

import pytest

from journeyflow.definition.cel import compile_expression
from journeyflow.definition.cel_literals import CelLiteralError, check_literals
from journeyflow.definition.loader import load_text, validate_text
from journeyflow.exceptions import JourneyDefinitionError


@pytest.mark.parametrize(
    ("source", "code", "says"),
    [
        ('now - event.timestamp < duration("2d")', "JF408", 'write duration("48h") (or days(2))'),
        ("duration('2w') > duration('1h')", "JF408", 'write duration("336h") (or days(14))'),
        ('duration("P2D") == duration("48h")', "JF408", 'write duration("48h")'),
        ('duration("PT90M") < duration("2h")', "JF408", 'write duration("90m")'),
        ('duration("30 M") > duration("1m")', "JF408", 'write duration("30m")'),
        (
            'duration("soon") > duration("1m")',
            "JF408",
            "a number and a unit, h, m, s, ms, us or ns",
        ),
        ('timestamp("2026-13-01T00:00:00Z") < now', "JF409", "there is no month 13"),
        ('timestamp("2026-13-01") < now', "JF409", "there is no month 13"),
        ('timestamp("2026-02-30T10:00:00Z") < now', "JF409", "2026-02 has 28 days, not 30"),
        ('timestamp("2026-01-01T24:00:00Z") < now', "JF409", "24:00:00 is not a time of day"),
        (
            'now > timestamp("2026-01-01")',
            "JF409",
            'not just a date: write timestamp("2026-01-01T00:00:00Z")',
        ),
        (
            'now > timestamp("2026-01-01T10:30:00")',
            "JF409",
            'needs a zone (`Z` for UTC, or an offset): write timestamp("2026-01-01T10:30:00Z")',
        ),
        ('now > timestamp("next monday")', "JF409", 'timestamp("2026-01-01T10:00:00Z")'),
    ],
)
def test_a_bad_literal_is_refused_with_the_fix(source: str, code: str, says: str) -> None:
    with pytest.raises(CelLiteralError) as caught:
        compile_expression(source)
    assert caught.value.code == code
    assert says in str(caught.value), str(caught.value)


@pytest.mark.parametrize(
    "source",
    [
        'now - event.timestamp < duration("48h")',
        "duration('1h30m') > duration(\"-2h\")",
        'duration(r"90m") > duration("0")',
        'duration("""1.5h""") == duration("90m")',
        'now > timestamp("2026-01-01T10:00:00Z")',
        'now > timestamp("2026-01-01T10:00:00.5+02:00")',
        'customer.note == "duration(\\"2d\\")"',  # in a string: text, not a call
        "now + duration(customer.grace) > now",  # not a literal: checked when it runs
        'now + days(2) > timestamp("2026-06-01T00:00:00Z")',
    ],
)
def test_good_literals_and_non_literals_pass(source: str) -> None:
    check_literals(source)
    compile_expression(source)


JOURNEY = """\
journey: literal-check
version: 1
entry: {on: [signed_up]}
initial: waiting
states:
  waiting:
    transitions:
      - on: clicked
        to: done
        when: 'now - event.timestamp < duration("2d")'
      - at: 'timestamp("2026-13-01T00:00:00Z")'
        to: done
  done: {final: true}
"""


def test_validate_locates_the_literal() -> None:
    problems = {(p.code, p.line) for p in validate_text(JOURNEY, "j.yaml") if p.severity == "error"}
    assert problems == {("JF408", 10), ("JF409", 11)}
    with pytest.raises(JourneyDefinitionError) as caught:
        load_text(JOURNEY, "j.yaml")
    assert 'j.yaml:10:15: error JF408: duration("2d") is not a CEL duration' in str(caught.value)
