"""Property tests of the loader: dump -> load is the identity on valid journeys,
and no text whatsoever makes the loader raise anything but JourneyDefinitionError."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeyflow.definition.checks import BUILTIN_VERTICALS
from journeyflow.definition.dsl import Journey
from journeyflow.definition.loader import analyse, dump_journey, load_text
from journeyflow.exceptions import JourneyDefinitionError

# Text YAML 1.1 (or a careless dumper) would turn into something else.
TRICKY = [
    "on",
    "off",
    "yes",
    "no",
    "y",
    "n",
    "true",
    "True",
    "null",
    "Null",
    "~",
    "",
    "1e3",
    "0o12",
    "012",
    "0x1F",
    ".inf",
    "-.inf",
    ".nan",
    "2026-01-01",
    "2026-01-01T10:00:00Z",
    "12:30",
    "- x",
    "a: b",
    "#c",
    "&a",
    "*a",
    "!t",
    "@",
    "`",
    "'q'",
    '"q"',
    "  lead",
    "trail  ",
    "multi\nline",
    "tab\there",
    "ação",
    "Київ",
    "emoji 🎉",
    "\u2028",
    "\x85",
    "\ufeffbom",
    "%YAML",
    "---",
    "...",
    "<<",
]

text = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12))
nonempty = text.filter(bool)
plain_values = text.filter(lambda s: not s.startswith("="))  # `=` starts CEL
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, width=64),
    plain_values,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
data_dicts = st.dictionaries(text, json_values, max_size=3)

DURATIONS = ["30m", "2h", "14d", "2w", "P14D", "PT2H", "1s", "P1W", "PT90M"]
CEL = [
    'customer.email != ""',
    "event.properties.total > 0",
    "has(customer.vip)",
    "size(customer.segments) >= 1",
    'state.name == "a"',
    "now > state.entered_at",
]
AT = ["month_end(now)", "month_start(now)", 'local_time(now, "09:00")', "now"]
CHANNELS = ["email", "sms", "console", "webhook"]

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
state_names = st.one_of(
    st.sampled_from(["on", "off", "yes", "no", "null", "true", "y", "_", "s-1", "Fim"]),
    st.builds(str.__add__, st.sampled_from(LETTERS), st.text(LETTERS + "0123456789-", max_size=6)),
)
slugs = st.lists(
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=5), min_size=1, max_size=3
).map("-".join)
moments = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2090, 1, 1),
    timezones=st.none()
    | st.just(timezone.utc)
    | st.builds(lambda h: timezone(timedelta(hours=h)), st.integers(-12, 12)),
)


def actions() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(
            lambda c, t, d: {"send": c, "template": t, "data": d},
            st.sampled_from(CHANNELS),
            st.none() | text,
            data_dicts,
        ),
        st.builds(
            lambda d, cel: {"set": {**d, "computed": "=" + cel}},
            data_dicts,
            st.sampled_from(["customer.id", "event.name", "now"]),
        ),
        st.builds(lambda e, p: {"emit": e, "properties": p}, nonempty, data_dicts),
        st.builds(
            lambda t, o, due: {"task": {"title": t, "owner": o, "due": due}},
            nonempty,
            st.none() | text,
            st.none() | st.sampled_from(DURATIONS),
        ),
    )


@st.composite
def journeys(draw: st.DrawFn) -> Journey:
    """Structurally valid journeys: every state reachable (state i leads to
    i+1), the last one final, one trigger per transition, splits summing to 100
    and only leading forward."""
    names = draw(st.lists(state_names, min_size=2, max_size=4, unique=True))
    stages = draw(st.lists(nonempty, max_size=3, unique=True))
    states: dict[str, Any] = {}
    for i, name in enumerate(names):
        state: dict[str, Any] = {
            "description": draw(st.none() | text),
            "owner": draw(st.none() | text),
            "touchpoints": draw(st.lists(text, max_size=2)),
            "on_enter": draw(st.lists(actions(), max_size=2)),
            "on_exit": draw(st.lists(actions(), max_size=1)),
        }
        if stages:
            state["stage"] = draw(st.none() | st.sampled_from(stages))
        if i == len(names) - 1:
            state["final"] = True
            state["on_exit"] = []
        else:
            state["transitions"] = draw(_transitions(names[i + 1], names))
        states[name] = state
    events = st.lists(nonempty, min_size=1, max_size=2)
    data = {
        "journey": draw(slugs),
        "version": draw(st.integers(1, 10**6)),
        "title": draw(st.none() | text),
        "description": draw(st.none() | text),
        "vertical": draw(st.none() | st.sampled_from(sorted(BUILTIN_VERTICALS))),
        "stages": stages,
        "timezone": draw(st.none() | st.sampled_from(["UTC", "America/Sao_Paulo"])),
        "entry": {
            "on": draw(events),
            "when": draw(st.none() | st.sampled_from(CEL)),
            "reentry": draw(st.sampled_from(["never", "after_exit", "always"])),
        },
        "initial": names[0],
        "states": states,
        "exit": [
            {"on": on, "goal": goal}
            for on, goal in draw(st.lists(st.tuples(events, st.booleans()), max_size=2))
        ],
        "holdout": draw(st.integers(0, 100)),
        "tests": draw(st.lists(_test(names), max_size=1)),
        "migrations": [
            {
                "from_version": 1,
                "states": {
                    old: draw(st.sampled_from(names)) for old in draw(st.lists(text, max_size=2))
                },
            }
        ],
    }
    return Journey.model_validate(data)


@st.composite
def _transitions(draw: st.DrawFn, following: str, names: list[str]) -> list[dict[str, Any]]:
    kind = draw(st.sampled_from(["on", "after", "at", "split"]))
    if kind == "split":
        first = draw(st.integers(1, 99))
        # only forward: split states leading back round to each other are JF315
        other = draw(st.sampled_from(names[names.index(following) :]))
        return [
            {"split": [{"to": following, "weight": first}, {"to": other, "weight": 100 - first}]}
        ]
    out = [_transition(draw, kind, following)]
    for _ in range(draw(st.integers(0, 2))):
        out.append(
            _transition(
                draw, draw(st.sampled_from(["on", "after", "at"])), draw(st.sampled_from(names))
            )
        )
    return out


def _transition(draw: st.DrawFn, kind: str, to: str) -> dict[str, Any]:
    trigger = {"on": nonempty, "after": st.sampled_from(DURATIONS), "at": st.sampled_from(AT)}
    return {
        kind: draw(trigger[kind]),
        "to": to,
        "when": draw(st.none() | st.sampled_from(CEL)),
        "actions": draw(st.lists(actions(), max_size=1)),
    }


@st.composite
def _test(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    step = st.one_of(
        st.builds(lambda e: {"event": e}, data_dicts),
        st.builds(lambda u, t: {"identify": {"userId": u, "traits": t}}, nonempty, data_dicts),
        st.builds(lambda d: {"advance": d}, st.sampled_from(DURATIONS)),
        st.builds(lambda m: {"advance_to": m}, moments),
        st.builds(
            lambda c, s: {"expect": {"customer": c, "state": s}}, nonempty, st.sampled_from(names)
        ),
    )
    return {
        "name": draw(nonempty),
        "start": draw(st.none() | moments),
        "steps": draw(st.lists(step, min_size=1, max_size=3)),
    }


FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(journeys())
def test_dump_then_load_gives_an_equal_journey(journey: Journey) -> None:
    text = dump_journey(journey)
    assert load_text(text).journey == journey, text


# --- garbage in, JourneyDefinitionError out ---------------------------------------------

TOKENS = [
    "a",
    "on",
    ":",
    ": ",
    " ",
    "  ",
    "\n",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&x ",
    "*x",
    "!!python/object ",
    "!t ",
    "'",
    '"',
    "# c",
    "|",
    ">",
    "\t",
    "? ",
    "%YAML 1.2\n",
    "---\n",
    "...\n",
    "1e3",
    "~",
    "\\",
    "@",
    "`",
    "<<: ",
    "journey: a\n",
    "states:\n",
    "\x00",
    "\x85",
    "\ufeff",
    "é",
    "\r\n",
]

yamlish = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)


def _only_definition_errors(source: str | bytes) -> None:
    analyse(source, "fuzz.yaml")  # never raises
    try:
        load_text(source, "fuzz.yaml")
    except JourneyDefinitionError as exc:
        assert exc.problems and all(p.code.startswith("JF") for p in exc.problems)


@settings(max_examples=100, deadline=None)
@given(st.one_of(yamlish, st.text(max_size=60), st.binary(max_size=60)))
def test_garbage_raises_only_journey_definition_error(source: str | bytes) -> None:
    _only_definition_errors(source)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journeys(), st.data())
def test_mangled_journeys_raise_only_journey_definition_error(
    journey: Journey, data: st.DataObject
) -> None:
    text = dump_journey(journey)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 5))
        text = text[:at] + data.draw(st.sampled_from(TOKENS)) + text[at + cut :]
    _only_definition_errors(text)


def test_awkward_text_round_trips() -> None:
    """The cases a YAML 1.1 reader or a naive dumper gets wrong, spelled out."""
    source = """\
journey: awkward
version: 1
description: "NEL\\N LS\\L BOM\\uFEFF tab\\t CR\\r"
entry: {on: ['on', 'yes', 'null']}
initial: 'off'
states:
  'off':
    on_enter: [{set: {'on': 'no', '1e3': '0o12', '2026-01-01': '~', 'true': ''}}]
    transitions: [{on: 'y', to: 'no'}, {after: 1d, to: 'no'}]
  'no': {final: true}
"""
    journey = load_text(source).journey
    assert journey.states["off"].on_enter[0].set == {  # type: ignore[union-attr]
        "on": "no",
        "1e3": "0o12",
        "2026-01-01": "~",
        "true": "",
    }
    assert load_text(dump_journey(journey)).journey == journey
