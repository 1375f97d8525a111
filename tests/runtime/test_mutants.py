"""Tests that kill mutants the rest of the suite let live (docs/mutation-testing.md).

Each test names the mutant it kills: the change to src/ that, applied by hand,
makes it fail. They pin boundaries (`<` against `<=`), the later items of
lists (the second and third exit rule), and the counts the other tests only
see as "something happened".
"""

from __future__ import annotations

import hashlib

import pytest

from journeyflow.runtime.machine import choose_branch, stable_bucket
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, track


def spec_bucket(*parts: str) -> int:
    """docs/semantics.md §5: sha256 of the parts joined by \\x1f, first 8 bytes, mod 100."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def customer_in_bucket(journey: str, salt: str, wanted: int) -> str:
    """A customer id whose bucket for (journey, salt) is exactly `wanted`."""
    for i in range(10_000):
        cid = f"c{i}"
        if spec_bucket(cid, journey, salt) == wanted:
            assert stable_bucket(cid, journey, salt) == wanted
            return cid
    raise AssertionError(f"no customer in bucket {wanted}")


# --- holdout: held out when the bucket is *below* `holdout` (§6) ------------------------

HOLDOUT = """
journey: h
version: 1
holdout: {holdout}
entry: {{on: [buy]}}
initial: w
states:
  w:
    on_enter: [{{send: email, template: hello}}]
    transitions: [{{on: stop, to: done}}]
  done: {{final: true}}
"""


@pytest.mark.parametrize(
    ("bucket", "holdout", "held_out"),
    [
        (50, 50, False),  # kills `bucket <= holdout`: a bucket equal to holdout is not held out
        (49, 50, True),
        (0, 1, True),  # kills `holdout > 1` / `holdout >= 1` guards on the comparison
        (0, 0, False),
        (99, 99, False),
        (99, 100, True),  # holdout: 100 holds out everyone, bucket 99 included
    ],
)
def test_holdout_boundary(
    journeyflow_engine: EngineFactory, bucket: int, holdout: int, held_out: bool
) -> None:
    cid = customer_in_bucket("h", "holdout", bucket)
    engine = journeyflow_engine(HOLDOUT.format(holdout=holdout))
    engine.ingest([track(cid, "buy", "2026-01-01T00:00:00Z")])
    [enrolment] = engine.enrolments(cid)
    assert enrolment.in_holdout is held_out
    [effect] = engine.effects(cid)
    assert effect.status == ("suppressed" if held_out else "pending")


# --- splits: the branch whose cumulative weight first *exceeds* the bucket (§5) -------------

SPLIT_30_70 = """
journey: s
version: 1
entry: {on: [buy]}
initial: pick
states:
  pick:
    transitions:
      - split: [{to: a, weight: 30}, {to: b, weight: 70}]
  a: {final: true}
  b: {final: true}
"""


@pytest.mark.parametrize(("bucket", "branch"), [(29, "a"), (30, "b"), (0, "a"), (99, "b")])
def test_split_boundary(journeyflow_engine: EngineFactory, bucket: int, branch: str) -> None:
    """Kills `bucket <= upto` in choose_branch: bucket 30 is past a 30 % branch."""
    cid = customer_in_bucket("s", "pick", bucket)
    engine = journeyflow_engine(SPLIT_30_70)
    engine.ingest([track(cid, "buy", "2026-01-01T00:00:00Z")])
    [enrolment] = engine.enrolments(cid)
    assert (enrolment.state, enrolment.status) == (branch, "completed")


def test_choose_branch_boundaries_directly() -> None:
    from journeyflow.definition.dsl import SplitBranch

    branches = [SplitBranch(to="a", weight=30), SplitBranch(to="b", weight=70)]
    assert [choose_branch(branches, b) for b in (0, 29, 30, 99)] == ["a", "a", "b", "b"]


# --- several exit rules: every one of them ends the enrolment (§3) ------------------------

EXITS = """
journey: x
version: 1
entry: {on: [buy]}
initial: w
states:
  w:
    transitions: [{on: go, to: done}]
  done: {final: true}
exit:
  - on: a
  - on: [b, b2]
    goal: true
  - on: c
    when: 'event.properties.n == 1'
"""


@pytest.mark.parametrize(
    ("event", "properties", "status"),
    [
        ("a", {}, "exited"),
        ("b", {}, "converted"),  # the second rule
        ("b2", {}, "converted"),  # the second name of the second rule
        ("c", {"n": 1}, "exited"),  # the third rule, its guard true
        ("c", {"n": 2}, "active"),  # the third rule, its guard false
        ("go", {}, "completed"),
    ],
)
def test_each_of_several_exit_rules_ends_the_enrolment(
    journeyflow_engine: EngineFactory, event: str, properties: dict[str, int], status: str
) -> None:
    engine = journeyflow_engine(EXITS)
    engine.ingest(
        [
            track("c1", "buy", "2026-01-01T00:00:00Z"),
            track("c1", event, "2026-01-01T01:00:00Z", **properties),
        ]
    )
    [enrolment] = engine.enrolments("c1")
    assert enrolment.status == status
    if status in ("exited", "converted"):
        assert enrolment.end_reason == f"exit:{event}"
        assert enrolment.ended_at == at("2026-01-01T01:00:00Z")
        exits = [h for h in engine.history("c1") if h.kind == "exit"]
        assert len(exits) == 1


FIRST_MATCH = """
journey: x
version: 1
entry: {on: [buy]}
initial: w
states:
  w:
    transitions: [{on: stop, to: done}]
  done: {final: true}
exit:
  - on: stop
    when: 'event.properties.n == 1'
  - on: stop
    goal: true
  - on: stop
"""


@pytest.mark.parametrize(("n", "status"), [(1, "exited"), (2, "converted")])
def test_the_first_matching_exit_rule_decides_and_only_it(
    journeyflow_engine: EngineFactory, n: int, status: str
) -> None:
    """n=2: the first rule's guard is false, the second rule (goal) ends it; the third,
    which also matches, must not end it again. An exit rule also beats the transition."""
    engine = journeyflow_engine(FIRST_MATCH)
    engine.ingest(
        [
            track("c1", "buy", "2026-01-01T00:00:00Z"),
            track("c1", "stop", "2026-01-01T01:00:00Z", n=n),
        ]
    )
    [enrolment] = engine.enrolments("c1")
    assert (enrolment.state, enrolment.status) == ("w", status)
    assert [h.kind for h in engine.history("c1")] == ["enter", "exit"]
