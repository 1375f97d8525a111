"""Tests that kill mutants of `runtime/machine.py` the rest of the suite let live
(docs/mutation-testing.md, the second run of issue #14).

A two-way split cannot tell a running total of the weights from the last
weight alone: three branches can.
"""

from __future__ import annotations

import pytest

from journeyflow.definition.dsl import SplitBranch
from journeyflow.runtime.machine import choose_branch
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, track
from tests.journeys import LAPSE
from tests.runtime.test_mutants import customer_in_bucket

THREE_WAYS = [
    SplitBranch(to="a", weight=20),
    SplitBranch(to="b", weight=30),
    SplitBranch(to="c", weight=50),
]


@pytest.mark.parametrize(
    ("bucket", "branch"),
    [(0, "a"), (19, "a"), (20, "b"), (45, "b"), (49, "b"), (50, "c"), (99, "c")],
)
def test_a_three_way_split_goes_by_the_running_total(bucket: int, branch: str) -> None:
    """Buckets 20..49 go to b (20 < 50 = 20 + 30). Kills `upto += weight` into
    `upto = weight` (bucket 45 would pass b's 30 and go to c)."""
    assert choose_branch(THREE_WAYS, bucket) == branch


SPLIT_3 = """
journey: s
version: 1
entry: {on: [buy]}
initial: pick
states:
  pick:
    transitions:
      - split: [{to: a, weight: 20}, {to: b, weight: 30}, {to: c, weight: 50}]
  a: {final: true}
  b: {final: true}
  c: {final: true}
"""


@pytest.mark.parametrize(("bucket", "branch"), [(45, "b"), (50, "c")])
def test_a_customer_in_a_middle_bucket_takes_the_middle_branch(
    journeyflow_engine: EngineFactory, bucket: int, branch: str
) -> None:
    cid = customer_in_bucket("s", "pick", bucket)
    engine = journeyflow_engine(SPLIT_3)
    engine.ingest([track(cid, "buy", "2026-01-01T00:00:00Z")])
    [enrolment] = engine.enrolments(cid)
    assert (enrolment.state, enrolment.status) == (branch, "completed")


CAUSES = """
journey: c
version: 1
entry: {on: [buy]}
initial: w
states:
  w: {transitions: [{after: 1h, to: x}]}
  x: {transitions: [{at: 'state.entered_at + duration("2h")', to: y}]}
  y:
    transitions:
      - split: [{to: z, weight: 100}]
  z: {transitions: [{on: stop, to: done}]}
  done: {final: true}
"""


def test_each_kind_of_transition_names_its_cause_in_the_history(
    journeyflow_engine: EngineFactory,
) -> None:
    """Kills `describe`'s `after is not None` and `at is not None` turned round (an
    `after:` timer told as `split`, an `at:` one as `timer:after None`) and its
    `split` text."""
    engine = journeyflow_engine(CAUSES)
    engine.ingest([track("c1", "buy", "2026-01-01T00:00:00Z")])
    engine.advance_to(at("2026-01-01T03:00:00Z"))
    engine.ingest([track("c1", "stop", "2026-01-01T04:00:00Z")])
    moves = [(h.from_state, h.cause) for h in engine.history("c1") if h.kind == "transition"]
    assert moves == [
        ("w", "timer:after 1h"),
        ("x", 'timer:at state.entered_at + duration("2h")'),
        ("y", "split"),
        ("z", "event:stop"),
    ]


def test_an_event_another_state_waits_for_leaves_this_one_alone(
    journeyflow_engine: EngineFactory,
) -> None:
    """`browse` moves `lapse` on from `active` only; a customer in `lapsing` who
    browses stays. Kills `candidates`' `.get(state, ())` into `.get(state, None)` or
    `.get(state)` (None to iterate over: the event would be rejected)."""
    engine = journeyflow_engine(LAPSE)
    engine.ingest([track("c1", "order_completed", "2026-01-01T00:00:00Z")])
    engine.advance_to(at("2026-01-31T00:00:00Z"))
    report = engine.ingest([track("c1", "browse", "2026-02-01T00:00:00Z")])
    assert (report.accepted, report.rejected) == (1, [])
    [enrolment] = engine.enrolments("c1")
    assert (enrolment.state, enrolment.entered_at) == ("lapsing", at("2026-01-31T00:00:00Z"))
