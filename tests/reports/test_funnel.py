"""reports.funnel: one journey's funnel, as data and as text."""

from __future__ import annotations

from journeyflow.reports.funnel import format_funnel, funnel
from journeyflow.runtime.engine import Engine


def test_funnel_of_a_run(trial_run: Engine) -> None:
    engine = trial_run
    result = funnel(engine, "trial")
    assert result.as_dict() == {
        "journey": "trial",
        "entries": 6,
        "customers": 6,
        "visits": {"welcome": 6, "reminded": 2, "customer": 2, "lapsed": 1},
        "standing": {"welcome": 1},
        "statuses": {"active": 1, "completed": 3, "converted": 1, "exited": 1},
        "exits": 1,
        "goals": 1,
        "sends_per_day": [
            {"day": "2026-01-01", "channel": "email", "count": 5},
            {"day": "2026-01-03", "channel": "email", "count": 1},
            {"day": "2026-01-08", "channel": "sms", "count": 2},
            {"day": "2026-01-10", "channel": "email", "count": 1},
            {"day": "2026-01-14", "channel": "email", "count": 1},
        ],
        "suppressed": 0,
    }
    assert format_funnel(result, engine.current["trial"].journey.states) == (
        "trial: 6 entries (6 customers), 1 goals, 1 exits\n"
        "  welcome                      reached      6   standing      1\n"
        "  reminded                     reached      2   standing      0\n"
        "  customer                     reached      2   standing      0\n"
        "  lapsed                       reached      1   standing      0\n"
        "  sent via email: 8 on 4 days\n"
        "  sent via sms: 2 on 1 days"
    )


def test_funnel_of_a_journey_nobody_entered(trial_run: Engine) -> None:
    result = funnel(trial_run, "other")
    assert (result.entries, result.customers, sum(result.sends_per_day.values())) == (0, 0, 0)
    assert format_funnel(result, ["a", "b"]) == "other: 0 entries (0 customers), 0 goals, 0 exits"
