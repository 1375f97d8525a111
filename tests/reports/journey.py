"""The small journey the report tests run, and a run of it."""

from __future__ import annotations

from journeyflow.runtime.engine import Engine
from tests.helpers import at, engine_for, track

TRIAL = """\
journey: trial
version: 1
title: A trial
stages: [lead, customer]
kpis: [signups, no_such_kpi]
entry: {on: [signed_up]}
initial: welcome
holdout: 0
states:
  welcome:
    stage: lead
    kpis: [days_in_stage]
    on_enter: [{send: email, template: hello}]
    transitions:
      - {on: paid, to: customer}
      - {after: 7d, to: reminded}
  reminded:
    stage: lead
    on_enter: [{send: sms, template: nudge}]
    transitions:
      - {on: paid, to: customer}
      - {after: 7d, to: lapsed}
  customer: {stage: customer, final: true, on_enter: [{send: email, template: thanks}]}
  lapsed: {final: true}
exit:
  - {on: unsubscribed}
  - {on: referred_a_friend, goal: true}
"""


def run_trial() -> Engine:
    """a pays on day 2; b is reminded and pays on day 9; c lapses on day 14;
    d unsubscribes on day 1; f refers a friend (the goal) on day 1; e signs up
    on day 13 and is still welcomed on day 14, when the run ends."""
    engine = engine_for(TRIAL)
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
