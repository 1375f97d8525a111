"""The engine pauses the cyclic garbage collector during a unit of work, and
always puts it back as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from journeyflow.runtime.semantics import Notification
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import track
from tests.journeys import REPEAT


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


@pytest.mark.parametrize("pause", [True, False])
def test_paused_while_a_batch_runs_and_back_on_after(
    collector_on: None, pause: bool, journeyflow_engine: EngineFactory
) -> None:
    seen: list[bool] = []

    def listener(_note: Notification) -> None:
        seen.append(gc.isenabled())

    engine = journeyflow_engine(REPEAT)
    engine.listeners.append(listener)
    engine.pause_gc = pause
    engine.ingest([track("ann", "order_completed", "2026-01-02T00:00:00Z")])
    assert seen == [not pause]
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_application_stays_off(
    collector_on: None, journeyflow_engine: EngineFactory
) -> None:
    gc.disable()
    journeyflow_engine(REPEAT).ingest([track("ann", "order_completed", "2026-01-02T00:00:00Z")])
    assert not gc.isenabled()


def test_back_on_after_a_failing_batch(
    collector_on: None, journeyflow_engine: EngineFactory
) -> None:
    engine = journeyflow_engine(REPEAT)

    def boom(_note: Notification) -> None:
        raise KeyboardInterrupt  # not an Exception: listeners' errors are logged, this escapes

    engine.listeners.append(boom)
    with pytest.raises(KeyboardInterrupt):
        engine.ingest([track("ann", "order_completed", "2026-01-02T00:00:00Z")])
    assert gc.isenabled()
