"""Static checks: one test per check, on small journeys written inline."""

from __future__ import annotations

import inspect
import re
from dataclasses import replace
from pathlib import Path

import pytest

from journeyflow.definition import (
    cel_literals,
    checks,
    limits,
    loader,
    schema_problems,
    yaml_reader,
)
from journeyflow.definition.checks import (
    BUILTIN_VERTICALS,
    FIRST_PARTY_CHANNELS,
    KnownNames,
    check_journey,
)
from journeyflow.definition.loader import load_text, validate_text
from journeyflow.exceptions import Problem
from tests.journeys import HEAD

KNOWN = KnownNames(
    channels=frozenset({"email", "task"}),
    segments=frozenset({"rfm"}),
    kpis=frozenset({"repurchase_rate"}),
    verticals=frozenset({"food-beverage"}),
    functions=frozenset({"score"}),
)


def problems(text: str, known: KnownNames | None = None) -> list[tuple[str, str, int | None]]:
    return [(p.code, p.severity, p.line) for p in validate_text(text, known=known)]


def found(text: str, known: KnownNames | None = None) -> list[Problem]:
    return validate_text(text, known=known)


# --- the graph ---------------------------------------------------------------------


def test_checks_without_positions_still_report() -> None:
    journey = load_text(HEAD + "states:\n  welcome: {final: true}\n").journey
    broken = journey.model_copy(update={"initial": "nowhere"})
    [p] = check_journey(broken)
    assert (p.code, p.line, p.file) == ("JF302", None, "<string>")


def test_initial_not_a_state_does_not_also_flag_every_state_unreachable() -> None:
    text = (
        HEAD.replace("initial: welcome", "initial: welcom") + "states:\n  welcome:\n"
        "    final: true\n"
    )
    assert problems(text) == [("JF302", "error", 5)]
    assert "did you mean 'welcome'?" in found(text)[0].message


def test_split_and_migration_targets_make_states_reachable_but_exits_do_not() -> None:
    text = (
        HEAD
        + """\
states:
  welcome:
    transitions:
      - split: [{to: a, weight: 60}, {to: b, weight: 40}]
  a: {final: true}
  b: {final: true}
  moved_in: {final: true}
  orphan: {final: true}
exit:
  - on: unsubscribed
migrations:
  - from_version: 1
    states: {old_state: moved_in}
"""
    )
    assert problems(text) == [("JF303", "error", 13)]


def test_a_trap_is_reported_once_not_also_as_waiting() -> None:
    text = HEAD + "states:\n  welcome:\n    description: stuck\n"
    assert problems(text) == [("JF304", "error", 7)]


def test_split_state_with_other_transitions_and_bad_weights() -> None:
    text = (
        HEAD
        + """\
states:
  welcome:
    transitions:
      - split: [{to: done, weight: 0}, {to: done, weight: 70}]
      - on: ping
        to: done
  done: {final: true}
"""
    )
    assert problems(text) == [("JF308", "error", 8), ("JF307", "error", 9), ("JF307", "error", 9)]


def test_split_loops_are_reported_once_each_naming_the_loop() -> None:
    text = (
        HEAD
        + """\
states:
  welcome:
    transitions:
      - split: [{to: a, weight: 50}, {to: draw, weight: 50}]
  draw:
    transitions:
      - split: [{to: draw, weight: 10}, {to: b, weight: 90}]
  b:
    transitions:
      - split: [{to: welcome, weight: 50}, {to: a, weight: 50}]
  a: {final: true}
"""
    )
    [p] = found(text)  # welcome -> draw -> b -> welcome and draw -> draw: one loop
    assert (p.code, p.line) == ("JF315", 9)
    assert "'welcome' -> 'draw' -> 'b' -> 'welcome'" in p.message


def test_a_split_reaching_another_split_without_coming_back_is_fine() -> None:
    text = (
        HEAD
        + """\
states:
  welcome:
    transitions:
      - split: [{to: draw, weight: 50}, {to: a, weight: 50}]
  draw:
    transitions:
      - split: [{to: a, weight: 50}, {to: waiting, weight: 50}]
  waiting:
    transitions:
      - after: 1d
        to: welcome
  a: {final: true}
"""
    )
    assert problems(text) == []


def test_stage_must_be_listed_only_when_stages_are_given() -> None:
    body = "states:\n  welcome:\n    stage: onboarding\n    final: true\n"
    assert problems(HEAD + body) == []
    assert problems(HEAD + "stages: [new, lost]\n" + body) == [("JF311", "error", 9)]


def test_expect_naming_an_unknown_stage() -> None:
    text = (
        HEAD
        + """\
stages: [new]
states:
  welcome: {stage: new, final: true}
tests:
  - name: t
    steps:
      - advance: 1d
      - expect: {customer: c1, state: welcome, stage: old}
"""
    )
    assert problems(text) == [("JF313", "error", 13)]


# --- CEL ---------------------------------------------------------------------------


def test_cel_is_checked_everywhere_the_engine_compiles_it() -> None:
    text = (
        HEAD.replace("  on: [signed_up]\n", "  on: [signed_up]\n  key: 'evnt.x'\n")
        + """\
states:
  welcome:
    on_enter:
      - {send: email, template: t, data: {total: '=event.properties.total +'}}
      - {emit: hello, properties: {who: '=custmer.id'}}
    transitions:
      - at: 'month_end(nw)'
        to: done
        actions: [{set: {ok: '=true', literal: not-cel}}]
  done: {final: true}
exit:
  - on: unsubscribed
    when: 'customer.vip ==='
"""
    )
    assert problems(text) == [
        ("JF402", "error", 5),
        ("JF401", "error", 10),
        ("JF402", "error", 11),
        ("JF402", "error", 13),
        ("JF401", "error", 19),
    ]


def test_unknown_function_warns_without_registry_and_fails_with_one() -> None:
    text = (
        HEAD
        + """\
states:
  welcome:
    transitions:
      - on: scored
        when: 'score(customer) > 3'
        to: done
      - after: 1d
        to: done
  done: {final: true}
"""
    )
    assert problems(text) == [("JF403", "warning", 10)]
    assert problems(text, KNOWN) == []
    assert problems(text, KnownNames(channels=frozenset({"email"}))) == [("JF403", "error", 10)]


# --- names plugins register -------------------------------------------------------------


NAMED = (
    HEAD.replace("  on: [signed_up]\n", "  on: [signed_up]\n  segment: rfm:at_risk\n").replace(
        "initial:", "vertical: fintech\nkpis: [repurchase_rate, nps]\ninitial:"
    )
    + """\
states:
  welcome:
    on_enter:
      - {send: carrier-pigeon, template: hi}
      - {send: email, template: hi}
      - task: {title: Call the customer}
    transitions:
      - after: 1d
        to: done
  done: {final: true}
"""
)


def test_unregistered_names_without_a_registry_are_warnings_for_channels_and_verticals() -> None:
    assert problems(NAMED) == [("JF504", "warning", 6), ("JF501", "warning", 12)]
    message = found(NAMED)[1].message
    assert "carrier-pigeon" in message and "console, email, sms, task, webhook" in message


def test_unregistered_names_with_a_registry_are_errors_naming_what_exists() -> None:
    result = found(NAMED, replace(KNOWN, segments=frozenset({"crm"})))
    assert [(p.code, p.severity, p.line) for p in result] == [
        ("JF502", "error", 5),
        ("JF504", "error", 6),
        ("JF503", "error", 7),
        ("JF501", "error", 12),
    ]
    by_code = {p.code: p.message for p in result}
    assert "registered: crm" in by_code["JF502"]
    assert "registered: food-beverage" in by_code["JF504"]
    assert "registered: email, task" in by_code["JF501"]


def test_a_segment_is_known_by_its_full_name_or_its_segmenter() -> None:
    full = KnownNames(
        channels=frozenset({"email", "task", "carrier-pigeon"}),
        segments=frozenset({"rfm:at_risk"}),
        kpis=frozenset({"repurchase_rate"}),
        verticals=frozenset({"fintech"}),
    )
    assert [p.code for p in found(NAMED, full)] == ["JF503"]


def test_first_party_sets_match_the_contract() -> None:
    assert {"console", "email", "webhook", "sms", "task"} == FIRST_PARTY_CHANNELS
    assert len(BUILTIN_VERTICALS) == 10 and "food-beverage" in BUILTIN_VERTICALS


# --- warnings ------------------------------------------------------------------------


def test_waiting_for_events_without_a_timer_is_a_warning() -> None:
    text = (
        HEAD
        + """\
states:
  welcome:
    transitions:
      - on: contract_signed
        to: done
  done: {final: true}
"""
    )
    [p] = found(text)
    assert (p.code, p.severity, p.line) == ("JF601", "warning", 7)
    assert "may wait for ever" in p.message and "often intended" in p.message


def test_a_transition_beaten_by_an_earlier_unguarded_one_or_by_an_exit() -> None:
    text = (
        HEAD
        + """\
states:
  welcome:
    transitions:
      - on: bought
        when: 'event.properties.total > 100'
        to: done
      - on: bought
        to: done
      - on: bought
        to: welcome
      - on: unsubscribed
        to: done
      - after: 1d
        to: done
  done: {final: true}
exit:
  - on: [unsubscribed]
"""
    )
    assert problems(text) == [("JF602", "warning", 14), ("JF602", "warning", 16)]
    first, second = found(text)
    assert "transition 2 on 'bought' has no `when`" in first.message
    assert "exit rule 1" in second.message


def test_sends_that_never_lead_anywhere() -> None:
    text = (
        HEAD
        + """\
states:
  welcome:
    on_enter: [{send: email, template: hi}]
    transitions:
      - on: unsubscribed
        to: done
  done:
    final: true
    on_exit: [{send: email, template: bye}]
exit:
  - on: unsubscribed
"""
    )
    assert problems(text) == [
        ("JF601", "warning", 7),
        ("JF603", "warning", 8),
        ("JF602", "warning", 10),
        ("JF603", "warning", 14),
    ]


def test_a_goodbye_on_entering_a_final_state_is_fine() -> None:
    text = (
        HEAD
        + """\
states:
  welcome:
    transitions: [{after: 1d, to: done}]
  done:
    final: true
    on_enter: [{send: email, template: bye}]
"""
    )
    assert problems(text) == []


def test_final_state_with_transitions_and_internal_to_another_state() -> None:
    text = (
        HEAD
        + """\
states:
  welcome:
    transitions:
      - on: ping
        internal: true
        to: done
      - after: 1d
        to: done
  done:
    final: true
    transitions: [{after: 1d, to: welcome}]
"""
    )
    assert problems(text) == [("JF605", "warning", 10), ("JF604", "warning", 16)]


@pytest.mark.parametrize("zone", ["UTC", "America/Sao_Paulo", "Europe/Kyiv"])
def test_real_time_zones_pass(zone: str) -> None:
    assert problems(HEAD + f"timezone: {zone}\nstates:\n  welcome: {{final: true}}\n") == []


def test_every_code_is_documented_in_the_module_docstrings_and_docs() -> None:
    used = set()
    documented = set()
    for module in (loader, yaml_reader, schema_problems, checks, limits, cel_literals):
        used |= set(re.findall(r'"(JF\d{3})"', inspect.getsource(module)))
        documented |= set(re.findall(r"\b(JF\d{3})\b", module.__doc__ or ""))
    docs = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
    in_docs = set(re.findall(r"(?:### |\| )(JF\d{3})\b", docs.read_text(encoding="utf-8")))
    assert used <= documented, sorted(used - documented)
    assert used <= in_docs, sorted(used - in_docs)
    assert documented <= used, sorted(documented - used)


def test_a_time_zone_longer_than_a_file_name_is_just_not_a_zone() -> None:
    text = HEAD + "timezone: " + "a" * 3000 + "\nstates:\n  welcome: {final: true}\n"
    assert problems(text) == [("JF310", "error", 6)]
