"""The bundled journeys behave as their business documents describe, driven through the
Python API with real journey files (the journeys' own `tests:` check more, under
`journeyflow test`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeyflow.definition.loader import load_file
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, identify, sent, state_of, track

JOURNEYS = Path(__file__).resolve().parents[2] / "journeys"


def test_every_bundled_journey_loads_into_one_engine(journeyflow_engine: EngineFactory) -> None:
    engine = journeyflow_engine(JOURNEYS)
    assert len(engine.current) >= 8


def test_birthday_month_day_and_last_day_only_while_the_coupon_is_unused(
    journeyflow_engine: EngineFactory,
) -> None:
    engine = journeyflow_engine(JOURNEYS / "crm-birthday.yaml")
    engine.ingest(
        [
            identify(
                "ana", "2026-02-01T12:00:00Z", birthday="1990-03-20", timezone="America/Sao_Paulo"
            ),
            identify(
                "bia", "2026-02-01T12:00:00Z", birthday="1991-03-10", timezone="America/Sao_Paulo"
            ),
        ]
    )
    engine.advance_to(at("2026-03-01T12:00:00Z"))  # 09:00 on 1 March in Sao Paulo
    assert sent(engine, "ana") == ["email/birthday-month-coupon"]
    # bia uses the coupon before her birthday: no birthday-day, no last-day e-mail
    engine.ingest(
        [
            track(
                "bia",
                "order_completed",
                "2026-03-05T15:00:00Z",
                order_id="b1",
                total=80,
                coupon="BDAY15",
            )
        ]
    )
    engine.advance_to(at("2026-03-20T12:00:00Z"))
    assert sent(engine, "ana") == ["email/birthday-month-coupon", "email/birthday-day"]
    engine.advance_to(at("2026-04-02T00:00:00Z"))
    assert sent(engine, "ana") == [
        "email/birthday-month-coupon",
        "email/birthday-day",
        "email/birthday-last-day",
    ]
    assert sent(engine, "bia") == ["email/birthday-month-coupon"]
    last_day = [e for e in engine.effects("ana") if e.template == "birthday-last-day"]
    assert last_day[0].created_at == at("2026-03-31T12:00:00Z")  # last day, customer's morning


def test_reactivation_at_120_180_360_days_and_an_order_resets_the_count(
    journeyflow_engine: EngineFactory,
) -> None:
    engine = journeyflow_engine(JOURNEYS / "crm-reactivation.yaml")
    engine.ingest([track("c", "order_completed", "2026-01-01T10:00:00Z", order_id="o1", total=50)])
    engine.advance_to(at("2026-04-30T10:00:00Z"))  # day 119
    assert state_of(engine, "c")[0] == "active"
    engine.advance_to(at("2026-05-01T10:00:00Z"))  # day 120
    assert state_of(engine, "c")[0] == "inactivating"
    engine.ingest([track("c", "order_completed", "2026-05-10T10:00:00Z", order_id="o2", total=50)])
    assert state_of(engine, "c")[0] == "active"
    engine.advance_to(at("2027-05-10T10:00:00Z"))  # 365 days after the last order
    moves = [
        (h.to_state, h.at.date().isoformat())
        for h in engine.history("c")
        if h.kind == "transition" and h.at > at("2026-05-10T10:00:00Z")
    ]
    assert moves == [
        ("inactivating", "2026-09-07"),  # +120 d
        ("inactive", "2026-11-06"),  # +180 d
        ("no_purchase_360", "2027-05-05"),
    ]  # +360 d
    assert "email/reactivation-360-offer" in sent(engine, "c")


def test_post_sale_runs_once_per_order(journeyflow_engine: EngineFactory) -> None:
    engine = journeyflow_engine(JOURNEYS / "crm-post-sale.yaml")
    engine.ingest(
        [
            track("c", "order_completed", "2026-01-01T10:00:00Z", order_id="o1", total=50),
            track("c", "order_completed", "2026-01-03T10:00:00Z", order_id="o2", total=20),
        ]
    )
    enrolments = engine.enrolments("c")
    assert sorted(e.key for e in enrolments) == ["o1", "o2"]
    engine.advance_to(at("2026-06-01T00:00:00Z"))
    firsts = [s for s in sent(engine, "c") if s.endswith("behind-the-scenes")]
    assert len(firsts) == 2
    assert {e.status for e in engine.enrolments("c")} <= {"completed", "active"}


@pytest.mark.parametrize("name", sorted(p.stem for p in JOURNEYS.glob("*.yaml")))
def test_each_journey_has_tests_and_a_final_or_waiting_state(name: str) -> None:
    journey = load_file(JOURNEYS / f"{name}.yaml").journey
    assert journey.tests, f"{name} has no tests"
    assert journey.stages, f"{name} names no stages"
    assert all(s.owner for s in journey.states.values()), f"{name}: a state has no owner"
