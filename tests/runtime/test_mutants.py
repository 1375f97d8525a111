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


# --- history rows, effect numbering: what the model test checks, in the fast suite --------

LIFE = """
journey: life
version: 1
entry: {on: [buy]}
initial: w
states:
  w:
    on_exit: [{send: email, template: bye-w}]
    transitions:
      - on: visit
        to: w
        internal: true
        actions: [{send: email, template: visit}]
      - on: go
        to: x
        actions: [{send: email, template: go-1}, {send: email, template: go-2}]
  x:
    on_enter: [{send: email, template: hi-x}]
    transitions:
      - at: 'customer.tier'
        to: done
      - on: fin
        to: done
  done: {final: true}
"""


def test_history_and_effect_numbers_of_a_whole_life(journeyflow_engine: EngineFactory) -> None:
    """Kills mutants of _apply (seq counting, the internal row's fields, the action
    numbers after on_exit), _note_error's row, _end's kind and ended_at."""
    engine = journeyflow_engine(LIFE)
    engine.ingest(
        [
            track("c1", "buy", "2026-01-01T00:00:00Z"),
            track("c1", "visit", "2026-01-01T01:00:00Z"),
            track("c1", "go", "2026-01-01T02:00:00Z"),  # `at: customer.tier` errors: no timer
            track("c1", "fin", "2026-01-01T03:00:00Z"),
        ]
    )
    rows = [
        (h.seq, h.kind, h.from_state, h.to_state, h.cause, h.detail is not None, h.at)
        for h in engine.history("c1")
    ]
    t = at
    assert [r[:5] for r in rows] == [
        (0, "enter", None, "w", "event:buy"),
        (1, "transition", "w", "w", "event:visit"),
        (2, "transition", "w", "x", "event:go"),
        (2, "error", "x", "x", "error"),
        (3, "transition", "x", "done", "event:fin"),
        (3, "complete", "done", None, "final:done"),
    ]
    internal = engine.history("c1")[1]
    assert internal.detail == "internal"
    assert [r[6] for r in rows] == [
        t("2026-01-01T00:00:00Z"),
        t("2026-01-01T01:00:00Z"),
        t("2026-01-01T02:00:00Z"),
        t("2026-01-01T02:00:00Z"),
        t("2026-01-01T03:00:00Z"),
        t("2026-01-01T03:00:00Z"),
    ]
    effects = [(e.template, e.seq, e.action) for e in engine.effects("c1")]
    assert effects == [
        ("visit", 1, 0),
        ("bye-w", 2, 0),  # on_exit first, numbered from 0
        ("go-1", 2, 1),  # then the transition's actions, numbered on
        ("go-2", 2, 2),
        ("hi-x", 2, 3),
    ]
    [enrolment] = engine.enrolments("c1")
    assert (enrolment.status, enrolment.seq) == ("completed", 3)
    assert enrolment.ended_at == t("2026-01-01T03:00:00Z")


# --- what CEL sees ------------------------------------------------------------------------

SCOPE = """
journey: scope
version: 1
timezone: Europe/Kyiv
entry: {on: [buy]}
initial: w
states:
  w:
    transitions:
      - on: identify
        to: x
        actions:
          - set:
              s_name: '=state.name'
              s_entered: '=state.entered_at'
              c_id: '=customer.id'
              c_segments: '=customer.segments'
              e_name: '=event.name'
              e_traits: '=event.traits'
              e_time: '=event.timestamp'
              nine: '=local_time(now, "09:00")'
  x:
    transitions:
      - after: 1h
        to: done
        when: 'state.name == "x"'
        actions: [{set: {timer_now: '=now'}}]
  done: {final: true}
"""


def test_what_cel_sees_in_state_customer_event_and_zone(
    journeyflow_engine: EngineFactory,
) -> None:
    """Kills mutants of _make_scope/_scope: every name CEL reads, and the zone."""
    engine = journeyflow_engine(SCOPE)
    engine.set_segments("c1", ["vip"], at("2026-01-01T00:00:00Z"))
    engine.ingest(
        [
            track("c1", "buy", "2026-01-01T00:00:00Z"),
            {
                "type": "identify",
                "userId": "c1",
                "traits": {"tier": 2},
                "timestamp": "2026-01-01T05:00:00Z",
                "messageId": "id-1",
            },
        ]
    )
    engine.advance_to(at("2026-01-02T00:00:00Z"))
    customer = engine.customer("c1")
    assert customer is not None
    a = customer.attributes
    assert (a["s_name"], a["c_id"], a["c_segments"]) == ("w", "c1", ["vip"])
    assert a["s_entered"] == "2026-01-01T00:00:00+00:00"
    assert (a["e_name"], a["e_traits"]) == ("identify", {"tier": 2})
    assert a["e_time"] == "2026-01-01T05:00:00+00:00"
    assert a["nine"] == "2026-01-01T07:00:00+00:00"  # 09:00 in Kyiv (UTC+2)
    assert a["timer_now"] == "2026-01-01T06:00:00+00:00"  # the timer's guard read state.name
    assert engine.enrolments("c1")[0].status == "completed"


# --- events emitted while a timer fires ------------------------------------------------------

TIMER_EMITS = """
journey: a
version: 1
entry: {on: [buy]}
initial: w
states:
  w:
    transitions:
      - after: 1h
        to: done
        actions: [{emit: pinged, properties: {n: 2}}]
  done: {final: true}
"""

ON_PING = """
journey: b
version: 1
entry: {on: [pinged], when: 'event.properties.n == 2'}
initial: w
states:
  w:
    on_enter: [{send: email, template: pinged}, {emit: stop}]  # an emit at depth 2
    transitions: [{on: stop, to: done}]
  done: {final: true}
"""


def test_an_event_emitted_by_a_timer_is_applied(journeyflow_engine: EngineFactory) -> None:
    """Kills every mutant of _drain (the queue of events emitted while timers fire)."""
    engine = journeyflow_engine(TIMER_EMITS, ON_PING)
    engine.ingest([track("c1", "buy", "2026-01-01T00:00:00Z")])
    engine.advance_to(at("2026-01-01T01:00:00Z"))
    got = [(e.journey, e.state, e.status, e.started_at) for e in engine.enrolments("c1")]
    assert got == [
        ("a", "done", "completed", at("2026-01-01T00:00:00Z")),
        ("b", "done", "completed", at("2026-01-01T01:00:00Z")),
    ]
    assert [e.template for e in engine.effects("c1")] == ["pinged"]


# --- entering segments ----------------------------------------------------------------------

ON_VIP = """
journey: v
version: 1
entry: {segment: vip, reentry: after_exit}
initial: w
states:
  w:
    transitions:
      - on: segment_entered
        to: done
        when: 'event.properties.segment == "gold"'
  done: {final: true}
"""


def test_entering_segments_is_an_event_each_once(journeyflow_engine: EngineFactory) -> None:
    """Kills set_segments mutants: only segments newly entered are events, their
    `segment` property, their time; a segment kept is not entered again."""
    engine = journeyflow_engine(ON_VIP)
    engine.set_segments("c1", ["vip"], at("2026-01-01T00:00:00Z"))
    engine.set_segments("c1", ["gold", "vip"], at("2026-01-02T00:00:00Z"))
    engine.set_segments("c1", ["gold", "silver", "vip"], at("2026-01-03T00:00:00Z"))
    got = [(e.state, e.status, e.started_at, e.ended_at) for e in engine.enrolments("c1")]
    assert got == [
        ("done", "completed", at("2026-01-01T00:00:00Z"), at("2026-01-02T00:00:00Z")),
    ]
    engine.set_segments("c1", [], at("2026-01-04T00:00:00Z"))
    engine.set_segments("c1", ["vip"], at("2026-01-05T00:00:00Z"))
    assert [e.started_at for e in engine.enrolments("c1")] == [
        at("2026-01-01T00:00:00Z"),
        at("2026-01-05T00:00:00Z"),
    ]
    causes = [h.cause for h in engine.history("c1") if h.kind == "enter"]
    assert causes == ["event:segment_entered", "event:segment_entered"]
