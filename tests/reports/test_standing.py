"""reports.standing: where customers stand, per journey and per customer."""

from __future__ import annotations

from journeyflow.reports.standing import (
    build_report,
    customer_standing,
    format_customer,
    format_report,
)
from journeyflow.runtime.engine import Engine
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import track
from tests.journeys import TRIAL


def test_counts_per_journey(trial_run: Engine) -> None:
    (report,) = build_report(trial_run)
    assert report.as_dict() == {
        "journey": "trial",
        "title": "A trial",
        "enrolments": 6,
        "statuses": {"active": 1, "completed": 3, "converted": 1, "exited": 1},
        "states": {"welcome": 1},
        "stages": {"lead": 1},
        "sends": {"email/hello": 6, "email/thanks": 2, "sms/nudge": 2},
        "suppressed": 0,
        "holdout": 0,
    }


def test_a_loaded_journey_nobody_entered_is_listed(journeyflow_engine: EngineFactory) -> None:
    engine = journeyflow_engine(TRIAL)
    assert [r.as_dict()["enrolments"] for r in build_report(engine)] == [0]
    assert format_report(build_report(engine)) == "\ntrial — A trial\n  enrolments: 0 (none)"


def test_text_form(trial_run: Engine) -> None:
    assert format_report(build_report(trial_run)) == (
        "\ntrial — A trial\n"
        "  enrolments: 6 (active 1, completed 3, converted 1, exited 1)\n"
        "  active by state: welcome 1\n"
        "  active by stage: lead 1\n"
        "  sent: email/hello 6, email/thanks 2, sms/nudge 2"
    )


def test_holdout_is_counted_and_its_sends_held_back(journeyflow_engine: EngineFactory) -> None:
    engine = journeyflow_engine(TRIAL.replace("holdout: 0", "holdout: 100"))
    engine.ingest([track("a", "signed_up", "2026-01-01T09:00:00Z")])
    (report,) = build_report(engine)
    assert (report.holdout, report.suppressed, dict(report.sends)) == (1, 1, {})
    assert format_report([report]).splitlines()[2:] == [
        "  enrolments: 1 (active 1); holdout 1",
        "  active by state: welcome 1",
        "  active by stage: lead 1",
        "  held back (holdout): 1",
    ]
    assert format_customer(engine, "a") == "a:\n  trial: welcome [active] (holdout)"
    assert customer_standing(engine, "a")["sent"] == []


def test_one_customer(trial_run: Engine) -> None:
    engine = trial_run
    assert customer_standing(engine, "b") == {
        "customer": "b",
        "enrolments": [
            {
                "journey": "trial",
                "state": "customer",
                "status": "completed",
                "in_holdout": False,
                "key": None,
            }
        ],
        "sent": [
            {"at": "2026-01-01T10:00:00+00:00", "channel": "email", "template": "hello"},
            {"at": "2026-01-08T10:00:00+00:00", "channel": "sms", "template": "nudge"},
            {"at": "2026-01-10T10:00:00+00:00", "channel": "email", "template": "thanks"},
        ],
    }
    assert format_customer(engine, "b") == (
        "b:\n"
        "  trial: customer [completed]\n"
        "    2026-01-01 10:00 email hello\n"
        "    2026-01-08 10:00 sms nudge\n"
        "    2026-01-10 10:00 email thanks"
    )
