"""The order of effects at one instant (contract v1.1, "Order of effects"):
`sent` follows the engine's causal order, a timer's sends before the sends of
the enrolments its `emit` then moved."""

from __future__ import annotations

from pathlib import Path

from journeyflow.testing.journeytest import collect, run_case

SENDER = """\
journey: b-sender
version: 1
entry: {on: [signed_up]}
initial: waiting
states:
  waiting:
    transitions:
      - {after: 1d, to: nudged}
  nudged:
    on_enter:
      - {send: email, template: first}
      - {emit: nudged}
    final: true
tests:
  - name: a timer's send comes before the sends its emit causes
    steps:
      - event: {userId: c1, event: signed_up, timestamp: '2026-06-01T10:00:00Z'}
      - advance: 1d
      - expect: {customer: c1, sent: [{channel: email, template: first},
                                      {channel: email, template: second}]}
"""
LISTENER = """\
journey: a-listener
version: 1
entry: {on: [nudged]}
initial: heard
states:
  heard:
    on_enter:
      - {send: email, template: second}
    final: true
"""


def test_a_timers_send_comes_before_the_sends_its_emit_causes(tmp_path: Path) -> None:
    (tmp_path / "sender.yaml").write_text(SENDER)
    (tmp_path / "listener.yaml").write_text(LISTENER)
    [case] = collect([tmp_path], with_all=True).cases
    result = run_case(case)
    assert result.outcome == "passed", result.message
