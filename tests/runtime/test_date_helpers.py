"""The CEL date helpers of the contract, evaluated as a journey's CEL is: in the
customer's zone, with timestamps or ISO-8601 strings (traits arrive as strings).
The model test (test_model_agreement.py) checks when the engine calls them; this
checks what they return."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from journeyflow.definition.cel import Scope, compile_expression
from journeyflow.exceptions import ExpressionError

UTC = timezone.utc


def cel(source: str, now: datetime, zone: str | None = None, **customer: Any) -> Any:
    return compile_expression(source).evaluate(Scope(now=now, customer=customer, zone=zone))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- month_start / month_end: 00:00 local ------------------------------------------


@pytest.mark.parametrize(
    ("zone", "now", "start", "end"),
    [
        (
            None,
            "2026-02-14T12:00:00+00:00",
            "2026-02-01T00:00:00+00:00",
            "2026-02-28T00:00:00+00:00",
        ),
        # 02:00 UTC on 1 March is still 28 February in São Paulo (UTC-3)
        (
            "America/Sao_Paulo",
            "2026-03-01T02:00:00+00:00",
            "2026-02-01T00:00:00-03:00",
            "2026-02-28T00:00:00-03:00",
        ),
        # Kyiv moves to summer time on 29 March 2026: the month ends at UTC+3
        (
            "Europe/Kyiv",
            "2026-03-10T12:00:00+00:00",
            "2026-03-01T00:00:00+02:00",
            "2026-03-31T00:00:00+03:00",
        ),
        (
            None,
            "2028-02-10T00:00:00+00:00",
            "2028-02-01T00:00:00+00:00",
            "2028-02-29T00:00:00+00:00",
        ),
    ],
)
def test_month_start_and_end_are_local_midnights(
    zone: str | None, now: str, start: str, end: str
) -> None:
    moment = at(now)
    assert cel("month_start(now)", moment, zone) == at(start)
    assert cel("month_end(now)", moment, zone) == at(end)


# --- next_anniversary ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birthday", "now", "expected"),
    [
        ("1990-07-20", "2026-03-01T10:00:00+00:00", "2026-07-20T00:00:00+00:00"),
        ("1990-07-20", "2026-07-20T18:00:00+00:00", "2026-07-20T00:00:00+00:00"),  # today counts
        ("1990-07-20", "2026-07-21T00:00:00+00:00", "2027-07-20T00:00:00+00:00"),
        ("2000-02-29", "2026-01-05T00:00:00+00:00", "2026-02-28T00:00:00+00:00"),  # no 29th
        ("2000-02-29", "2027-12-01T00:00:00+00:00", "2028-02-29T00:00:00+00:00"),  # leap year
        ("1985-12-31T22:30:00Z", "2026-06-01T00:00:00+00:00", "2026-12-31T00:00:00+00:00"),
    ],
)
def test_next_anniversary_is_at_or_after_today(birthday: str, now: str, expected: str) -> None:
    assert cel("next_anniversary(customer.birthday)", at(now), birthday=birthday) == at(expected)


def test_next_anniversary_in_the_customers_zone() -> None:
    # 23:00 UTC on 19 July is already 20 July in Kyiv: the birthday is today there
    now = at("2026-07-19T23:00:00+00:00")
    assert cel(
        "next_anniversary(customer.birthday)", now, "Europe/Kyiv", birthday="1990-07-20"
    ) == at("2026-07-20T00:00:00+03:00")
    assert cel("next_anniversary(customer.birthday)", now, birthday="1990-07-20") == at(
        "2026-07-20T00:00:00+00:00"
    )


# --- days_between -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "days"),
    [
        ("2026-01-01", "2026-01-31", 30),
        ("2026-01-31", "2026-01-01", -30),
        ("2026-01-01T10:00:00Z", "2026-01-02T09:59:59Z", 0),  # whole days only
        ("2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", 1),
    ],
)
def test_days_between_counts_whole_days(a: str, b: str, days: int) -> None:
    now = at("2026-06-01T00:00:00+00:00")
    assert cel("days_between(customer.a, customer.b)", now, a=a, b=b) == days


def test_days_between_a_trait_and_now() -> None:
    now = at("2026-06-01T12:00:00+00:00")
    assert cel("days_between(customer.signed_up, now)", now, signed_up="2026-05-01") == 31


# --- local_time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "t", "hhmm", "expected"),
    [
        (None, "2026-05-04T08:00:00+00:00", "09:00", "2026-05-04T09:00:00+00:00"),
        (None, "2026-05-04T09:00:00+00:00", "09:00", "2026-05-04T09:00:00+00:00"),  # at: itself
        (None, "2026-05-04T09:00:01+00:00", "09:00", "2026-05-05T09:00:00+00:00"),
        ("America/Sao_Paulo", "2026-05-04T13:00:00+00:00", "09:00", "2026-05-05T09:00:00-03:00"),
        # the night Kyiv springs forward (03:00 -> 04:00): 09:00 is at UTC+3 already
        ("Europe/Kyiv", "2026-03-28T12:00:00+00:00", "09:00", "2026-03-29T09:00:00+03:00"),
        # 03:30 does not exist that night: it resolves forward, to 04:30 summer time
        ("Europe/Kyiv", "2026-03-28T22:00:00+00:00", "03:30", "2026-03-29T04:30:00+03:00"),
        # Lord Howe shifts by 30 minutes (5 April 2026: 02:00 -> 01:30)
        ("Australia/Lord_Howe", "2026-04-04T12:00:00+00:00", "09:00", "2026-04-05T09:00:00+10:30"),
    ],
)
def test_local_time_is_the_first_such_clock_time_at_or_after(
    zone: str | None, t: str, hhmm: str, expected: str
) -> None:
    got = cel(f'local_time(customer.t, "{hhmm}")', at("2026-01-01T00:00:00+00:00"), zone, t=t)
    assert got == at(expected)


def test_local_time_gives_the_same_wall_clock_every_day_across_dst() -> None:
    start = at("2026-03-25T12:00:00+00:00")
    seen = []
    t = start
    for _ in range(7):
        t = cel('local_time(customer.t, "09:00")', start, "Europe/Kyiv", t=t.isoformat())
        seen.append(t.astimezone(ZoneInfo("Europe/Kyiv")).strftime("%H:%M"))
        t += timedelta(minutes=1)
    assert seen == ["09:00"] * 7


# --- bad input is a run-time error, never a crash -----------------------------------------


@pytest.mark.parametrize("value", ["not a date", "2026-13-01", 42])
def test_a_bad_value_is_an_expression_error(value: Any) -> None:
    with pytest.raises(ExpressionError):
        cel("month_start(customer.d)", at("2026-01-01T00:00:00+00:00"), d=value)
