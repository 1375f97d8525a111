"""Fixtures of the report tests."""

from __future__ import annotations

import pytest

from journeyflow.runtime.engine import Engine
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, track
from tests.journeys import TRIAL


@pytest.fixture
def trial_run(journeyflow_engine: EngineFactory) -> Engine:
    """The trial journey run to 2026-01-15 12:00: a pays on day 2; b is
    reminded and pays on day 9; c lapses on day 14; d unsubscribes on day 1;
    f refers a friend (the goal) on day 1; e signs up on day 13 and is still
    welcomed on day 14, when the run ends."""
    engine = journeyflow_engine(TRIAL)
    engine.ingest(
        [
            track("a", "signed_up", "2026-01-01T09:00:00Z"),
            track("b", "signed_up", "2026-01-01T10:00:00Z"),
            track("c", "signed_up", "2026-01-01T11:00:00Z"),
            track("d", "signed_up", "2026-01-01T12:00:00Z"),
            track("f", "signed_up", "2026-01-01T13:00:00Z"),
        ]
    )
    engine.ingest([track("f", "referred_a_friend", "2026-01-02T13:00:00Z")])
    engine.ingest([track("d", "unsubscribed", "2026-01-02T12:00:00Z")])
    engine.ingest([track("a", "paid", "2026-01-03T09:00:00Z")])
    engine.advance_to(at("2026-01-10T00:00:00Z"))
    engine.ingest([track("b", "paid", "2026-01-10T10:00:00Z")])
    engine.ingest([track("e", "signed_up", "2026-01-14T09:00:00Z")])
    engine.advance_to(at("2026-01-15T12:00:00Z"))
    return engine
