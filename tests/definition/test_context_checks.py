"""Static checks of journey language v1.1: the enrolment context's names and
fields (JF402), `when:` and `vars` on actions, and `event` read where a timer
leaves it empty (JF606)."""

from __future__ import annotations

import pytest

from journeyflow.definition import dsl
from journeyflow.definition.loader import load_text, validate_text
from journeyflow.definition.scope_names import field_reads, unknown_field
from journeyflow.exceptions import Problem


def journey(states: str, entry: str = "entry: {on: [signed_up]}", exits: str = "") -> str:
    return f"journey: j\nversion: 1\n{entry}\ninitial: start\nstates:\n{states}{exits}"


def found(text: str) -> list[Problem]:
    return validate_text(text, "j.yaml")


def codes(text: str) -> list[tuple[str, str, int | None]]:
    return [(p.code, p.severity, p.line) for p in found(text)]


TIMER_INTO_REMINDER = """\
  start:
    transitions:
      - {after: 1h, to: reminder}
      - {on: bought, to: done}
  reminder:
    on_enter:
      - send: email
        template: r
        data: {total: '=event.properties.total'}
    transitions:
      - {on: bought, to: done}
      - {after: 1d, to: done}
  done: {final: true}
"""


def test_the_context_names_and_their_fields_pass() -> None:
    text = journey(
        """\
  start:
    on_enter:
      - vars: {cart: '=trigger.properties.cart_id', n: 1}
      - send: email
        template: t
        when: 'enrolment.vars.n == 1 && state.visits < 3 && enrolment.key == null'
        data: {at: '=enrolment.entered_at', t: '=trigger.timestamp', k: '=trigger.type'}
    transitions:
      - {after: 1h, to: done, when: 'trigger.name == "signed_up" && state.name == "start"'}
  done: {final: true}
""",
        entry="entry: {on: [signed_up], when: 'trigger.properties.plan != \"\"'}",
    )
    assert found(text) == []


@pytest.mark.parametrize(
    ("expression", "field", "hint"),
    [
        ("enrolment.foo == 1", "enrolment.foo", "enrolment has key, entered_at, vars"),
        ("enrolment.var.x == 1", "enrolment.var", "did you mean 'vars'?"),
        ("trigger.bar == 1", "trigger.bar", "trigger has name, type, properties"),
        ("trigger.propertes.x == 1", "trigger.propertes", "did you mean 'properties'?"),
        ("state.visit < 3", "state.visit", "did you mean 'visits'?"),
        ('event.nmae == "x"', "event.nmae", "did you mean 'name'?"),
    ],
)
def test_an_unknown_field_of_a_fixed_name_is_jf402(expression: str, field: str, hint: str) -> None:
    text = journey(
        f"""\
  start:
    transitions:
      - {{on: go, to: done, when: '{expression}'}}
  done: {{final: true}}
"""
    )
    (problem,) = [p for p in found(text) if p.code != "JF601"]
    assert (problem.code, problem.severity, problem.line) == ("JF402", "error", 8)
    assert f"unknown name '{field}'" in problem.message and hint in problem.message


def test_text_inside_strings_and_below_maps_is_not_a_field() -> None:
    assert unknown_field("customer.note == 'see event.whatever'") is None
    assert unknown_field('trigger.properties.anything.deep == "state.x"') is None
    assert unknown_field("enrolment.vars.whatever > 1") is None
    assert unknown_field("[1].exists(state, state.foo == 1)") is None  # a bound name
    assert field_reads("event.name + trigger.type") == [("event", "name"), ("trigger", "type")]


def test_enrolment_is_not_in_scope_of_the_entry() -> None:
    text = journey(
        "  start: {final: true}\n",
        entry="entry: {on: [signed_up], key: 'enrolment.key'}",
    )
    (problem,) = found(text)
    assert problem.code == "JF402" and problem.line == 3
    assert "there is no enrolment yet" in problem.message


def test_when_and_vars_of_actions_are_compiled_at_load() -> None:
    text = journey(
        """\
  start:
    on_enter:
      - {send: email, template: t, when: 'customr.x == 1'}
      - {vars: {n: '=1 +'}}
      - {task: {title: Call}, when: 'nope(1)'}
    final: true
""",
    )
    assert [(p.code, p.line) for p in found(text)] == [
        ("JF402", 8),
        ("JF401", 9),
        ("JF403", 10),
    ]


def test_an_action_is_one_of_five_kinds_and_when_is_not_one() -> None:
    text = journey("  start:\n    on_enter:\n      - {when: 'true'}\n    final: true\n")
    (problem,) = found(text)
    assert problem.code == "JF206" and "found 'when'" in problem.message
    loaded = load_text(
        journey("  start:\n    on_enter:\n      - {vars: {a: 1}, when: 'true'}\n    final: true\n")
    )
    (action,) = loaded.journey.states["start"].on_enter
    assert isinstance(action, dsl.VarsAction) and action.when == "true"


def test_event_read_in_a_state_a_timer_enters_is_jf606() -> None:
    (problem,) = found(journey(TIMER_INTO_REMINDER))
    assert (problem.code, problem.severity, problem.line) == ("JF606", "warning", 14)
    assert "`event.properties`" in problem.message
    assert "state 'reminder' can be entered by a timer (`after: 1h` from 'start')" in (
        problem.message
    )
    assert "use `trigger.`" in problem.message


def test_trigger_in_a_state_a_timer_enters_is_fine() -> None:
    fixed = TIMER_INTO_REMINDER.replace("=event.properties.total", "=trigger.properties.total")
    assert found(journey(fixed)) == []


def test_jf606_in_a_timer_guard_its_actions_its_on_exit_and_through_splits() -> None:
    text = journey(
        """\
  start:
    on_exit:
      - {set: {a: '=event.name'}}
    transitions:
      - after: 1h
        to: fork
        when: 'event.properties.n > 1'
        actions:
          - {emit: x, when: 'has(event.properties.n)'}
      - {on: go, to: done}
  fork:
    transitions:
      - split:
          - {to: offer, weight: 50}
          - {to: done, weight: 50}
        actions:
          - {send: email, template: s, data: {n: '=event.properties.n'}}
  offer:
    on_enter:
      - {send: email, template: o, when: 'event.name == "go"'}
    transitions:
      - {at: 'event.timestamp', to: done}
  done: {final: true}
"""
    )
    got = [(p.code, p.line) for p in found(text)]
    assert got == [
        ("JF606", 8),  # on_exit, run by the timer
        ("JF606", 12),  # the timer's guard
        ("JF606", 14),  # the timer's action
        ("JF606", 22),  # the split's action of a state a timer enters
        ("JF606", 25),  # on_enter of a split's branch
        ("JF606", 27),  # `at:` of that branch
    ], got


def test_event_read_in_states_only_events_enter_is_fine() -> None:
    text = journey(
        """\
  start:
    on_enter: [{send: email, template: t, data: {n: '=event.properties.n'}}]
    transitions:
      - {on: go, to: next, when: 'event.properties.n > 1'}
      - {after: 1h, to: start, internal: true}
  next:
    on_enter: [{send: email, template: t, data: {n: '=event.properties.n'}}]
    transitions:
      - {on: go, to: done}
  done: {final: true}
"""
    )
    assert [p.code for p in found(text)] == ["JF601"]
