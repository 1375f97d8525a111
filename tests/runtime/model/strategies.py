"""Hypothesis strategies: random valid journeys (as YAML text, loaded by the real
loader) and random timelines of events and clock jumps.

Every generated journey is valid by construction: every state is reachable from
`initial` (a spanning tree is drawn first), every non-final state has a way out,
a split state holds only its split, split weights are positive and sum to 100,
and a split never leads to a split (so entering a state always ends).
Timers are never shorter than 45 minutes, so no chain of timers loops at one
instant: every `at:` expression gives a time at least a second after `now`,
except the one already past (`PAST_AT`, which fires at once), and that one only
leads to a final state, in a journey that is never re-entered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from journeyflow.definition.loader import LoadedJourney, load_text

from .reference import AdvanceTo, Identify, Segments, Step, Track

# Names chosen to trip a YAML 1.1 loader: `on`, `yes`, `no`, `off` must stay strings.
STATE_NAMES = ["on", "yes", "no", "off", "start", "wait", "offer", "done"]
TRACK_EVENTS = ["buy", "visit", "on", "yes"]
ENTRY_EVENTS = [*TRACK_EVENTS, "identify"]
TRANSITION_EVENTS = [*TRACK_EVENTS, "identify", "segment_entered"]
SEGMENTS = ["rfm:champions", "rfm:at_risk", "vip"]
EMIT_EVENTS = TRACK_EVENTS  # emitted names are track names, so emits move and enrol
# "a" and "a-b": an id that is a prefix of another (same-instant timers keep journey-id
# order, which is not the order of "a:c1:1" and "a-b:c1:1")
JOURNEY_IDS = ["a", "a-b", "b", "c"]
CUSTOMERS = ["c1", "c2", "c3"]
DURATIONS = ["45m", "2h", "PT2H", "1d", "P1D", "3d", "2w"]
GUARDS: list[str | None] = [
    None,
    "event.properties.n > 1",  # errors without n, and on timers (no event)
    "has(event.properties.n) && event.properties.n % 2 == 0",
    "customer.score >= 2",  # errors until the customer has a score
    "has(customer.score) && customer.score < 2",
    "has(customer.tier) && customer.tier == 1",
    'customer.id == "c1"',
    '"vip" in customer.segments',
    'has(event.properties.segment) && event.properties.segment == "rfm:at_risk"',
    "state.entered_at < now",  # errors on an entry guard (no state yet)
    "true",
    # the enrolling event: the event itself in an entry guard, later the one that enrolled
    "has(trigger.properties.n) && trigger.properties.n > 1",
    "trigger.properties.n % 2 == 1",  # errors on a trigger without n
    'trigger.type == "track"',
    "state.visits < 3",  # errors on an entry guard (no state yet)
]
# guards that read the enrolment: not in an entry guard (there is none yet)
ENROLMENT_GUARDS: list[str] = [
    "has(enrolment.vars.v) && enrolment.vars.v >= 2",
    "enrolment.vars.v > 0",  # errors until a `vars` action set v
    "enrolment.key == null",
    "enrolment.entered_at < now",
    "state.visits == 1",
]
# `when:` of an action
ACTION_GUARDS = [
    "true",
    "false",
    "has(trigger.properties.n) && trigger.properties.n > 1",
    "state.visits < 2",
    "has(enrolment.vars.v)",
    "enrolment.vars.v > 1",  # errors without v
    "event.properties.n > 1",  # errors without n, and on timers
]
SELF_LOOP_GUARD = "state.visits < 3"  # bounds a self-loop to three entries
PAST_AT = 'now - duration("1h")'  # already past on entry: fires at once
AT_EXPRESSIONS = [
    'local_time(now + duration("1h"), "09:00")',  # the customer's 9am, after DST changes too
    'month_start(now + duration("800h"))',  # local midnight on the 1st, 1-2 months on
    'customer.score > 1 ? now + duration("3h") : now + duration("26h")',  # errors without score
    "customer.tier",  # not a timestamp (or an error): no timer, noted
    PAST_AT,
]
# None: UTC. Kyiv and Lord Howe (a 30-minute DST shift) change clocks within the timelines.
JOURNEY_ZONES = [None, None, "UTC", "America/Sao_Paulo", "Europe/Kyiv", "Australia/Lord_Howe"]
TRAIT_ZONES = ["Europe/Kyiv", "Asia/Kolkata", "Mars/Base"]  # the last is no zone: ignored
START = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
GAPS = [
    timedelta(0),
    timedelta(0),
    timedelta(minutes=1),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=5),
    timedelta(days=1),
    timedelta(days=3),
    timedelta(weeks=2),
    timedelta(days=45),
]


# --- YAML text ---------------------------------------------------------------------------

_PLAIN = re.compile(r"^[a-z][a-z0-9_-]*$")
_RESERVED = {"true", "false", "null"}  # YAML 1.2 core schema: not strings when plain


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    text = str(value)
    if _PLAIN.match(text) and text not in _RESERVED:
        return text  # plain, on purpose: `on`, `yes`, `no`, `off` unquoted
    return "'" + text.replace("'", "''") + "'"


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block-style YAML with plain scalars wherever YAML 1.2 keeps them strings."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if _is_scalar(v):
                lines.append(f"{pad}{_scalar(k)}: {_scalar(v)}")
            elif isinstance(v, list) and all(_is_scalar(x) for x in v):
                lines.append(f"{pad}{_scalar(k)}: [{', '.join(_scalar(x) for x in v)}]")
            elif isinstance(v, dict) and all(_is_scalar(x) for x in v.values()) and v:
                inner = ", ".join(f"{_scalar(a)}: {_scalar(b)}" for a, b in v.items())
                lines.append(f"{pad}{_scalar(k)}: {{{inner}}}")
            else:
                lines.append(f"{pad}{_scalar(k)}:")
                lines.append(to_yaml(v, indent + 1))
    elif isinstance(value, list):
        for item in value:
            if _is_scalar(item):
                lines.append(f"{pad}- {_scalar(item)}")
            else:
                body = to_yaml(item, indent + 1).lstrip()
                lines.append(f"{pad}- {body}")
    else:
        lines.append(pad + _scalar(value))
    return "\n".join(lines)


# --- journeys ----------------------------------------------------------------------------


def maybe_guard(entry: bool = False) -> st.SearchStrategy[str | None]:
    """No guard half the time: most GUARDS are false (or errors) on most events, and
    a journey whose every entry and transition is guarded mostly does nothing.
    `entry`: for `entry.when`, where `enrolment` is not in scope."""
    return st.one_of(st.none(), st.sampled_from(GUARDS if entry else GUARDS + ENROLMENT_GUARDS))


@st.composite
def actions(draw: st.DrawFn, emits: list[int], max_size: int = 2) -> list[dict[str, Any]]:
    """0..max_size actions; `emits` is a shared budget of emit actions (a one-item list)."""
    out: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, max_size))):
        kind = draw(st.sampled_from(["send", "set", "vars", "emit", "task"]))
        if kind == "emit" and emits[0] <= 0:
            kind = "send"
        if kind == "send":
            action: dict[str, Any] = {
                "send": draw(st.sampled_from(["email", "sms"])),
                "template": draw(st.sampled_from(["t1", "t2"])),
            }
            data = draw(
                st.sampled_from(
                    [
                        None,
                        {"coupon": "x1"},
                        {"n": "=event.properties.n"},
                        {"n": "=trigger.properties.n", "k": "=enrolment.key"},
                        {"v": "=enrolment.vars.v", "visits": "=state.visits"},
                    ]
                )
            )
            if data:
                action["data"] = data
        elif kind == "set":
            name = draw(st.sampled_from(["score", "tier"]))
            action = {
                "set": {
                    name: draw(
                        st.sampled_from([1, 2, 3, "=event.properties.n", "=customer.score + 1"])
                    )
                }
            }
        elif kind == "vars":
            action = {
                "vars": {
                    "v": draw(
                        st.sampled_from(
                            [
                                1,
                                2,
                                "=trigger.properties.n",
                                "=event.properties.n",
                                "=state.visits",
                                "=enrolment.vars.v + 1",
                            ]
                        )
                    )
                }
            }
        elif kind == "emit":
            emits[0] -= 1
            action = {"emit": draw(st.sampled_from(EMIT_EVENTS))}
            if draw(st.booleans()):
                action["properties"] = {"n": draw(st.integers(0, 3))}
        else:
            task: dict[str, Any] = {"title": draw(st.sampled_from(["Call", "Visit"]))}
            if draw(st.booleans()):
                task["owner"] = "sales"
            action = {"task": task}
        if draw(st.integers(0, 2)) == 0:
            action["when"] = draw(st.sampled_from(ACTION_GUARDS))
        out.append(action)
    return out


@st.composite
def journey_dicts(
    draw: st.DrawFn,
    jid: str,
    emits: list[int],
    keyed: bool = True,
    split_actions: bool = True,
    timers: bool = False,
) -> dict[str, Any]:
    """`timers`: mostly timer transitions, mostly `at:`, in a zone with DST changes."""
    n = draw(st.integers(2, 6))
    names = draw(st.lists(st.sampled_from(STATE_NAMES), min_size=n, max_size=n, unique=True))
    roles = ["normal" if draw(st.integers(0, 3)) else "split"]
    roles += [draw(st.sampled_from(["normal", "normal", "final", "split"])) for _ in names[1:]]
    transitions: dict[str, list[dict[str, Any]]] = {s: [] for s in names}
    branches: dict[str, list[str]] = {s: [] for s in names}

    def event_or_timer() -> dict[str, Any]:
        # an event half the time (a third with `timers`), else a timer
        if draw(st.integers(0, 5)) >= (4 if timers else 3):
            return {"on": draw(st.sampled_from(TRANSITION_EVENTS))}
        if draw(st.integers(0, 3)) >= (1 if timers else 2):
            return {"at": draw(st.sampled_from(AT_EXPRESSIONS))}
        return {"after": draw(st.sampled_from(DURATIONS))}

    def finish(t: dict[str, Any], re_entering: bool = False) -> dict[str, Any]:
        # most GUARDS error without an event: a timer is mostly unguarded, so it fires
        timer = "on" not in t and "split" not in t
        guard = None if timer and draw(st.integers(0, 3)) < 3 else draw(maybe_guard())
        if re_entering and draw(st.booleans()):  # a reminder loop, bounded by its visits
            guard = SELF_LOOP_GUARD
        if guard is not None:
            t["when"] = guard
        acts = draw(actions(emits))
        if acts:
            t["actions"] = acts
        return t

    # a spanning tree from the initial state: every state is reachable
    for i in range(1, n):
        parents = [
            k
            for k in range(i)
            if roles[k] != "final" and not (roles[k] == "split" and roles[i] == "split")
        ]
        if not parents:
            roles[i] = "normal"
            parents = [k for k in range(i) if roles[k] != "final"]
        p = names[draw(st.sampled_from(parents))]
        if roles[names.index(p)] == "split":
            branches[p].append(names[i])
        else:
            transitions[p].append(finish({**event_or_timer(), "to": names[i]}))
    # more ways out, back edges, self-transitions (re-entering or internal)
    for s, role in zip(names, roles, strict=True):
        if role == "normal":
            for _ in range(draw(st.integers(0 if transitions[s] else 1, 2))):
                kind = draw(st.sampled_from(["any", "self", "internal"]))
                t = event_or_timer()
                if kind == "any":
                    t["to"] = draw(st.sampled_from(names))
                else:
                    t["to"] = s
                    if kind == "internal":
                        t["internal"] = True
                transitions[s].append(finish(t, re_entering=kind == "self"))
            transitions[s] = list(draw(st.permutations(transitions[s])))
        elif role == "split":
            not_split = [x for x, r in zip(names, roles, strict=True) if r != "split"]
            for _ in range(draw(st.integers(0 if branches[s] else 1, 1))):
                branches[s].append(draw(st.sampled_from(not_split)))
            k = len(branches[s])
            cuts = sorted(
                draw(st.lists(st.integers(1, 99), min_size=k - 1, max_size=k - 1, unique=True))
            )
            weights = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
            split: dict[str, Any] = {
                "split": [{"to": b, "weight": w} for b, w in zip(branches[s], weights, strict=True)]
            }
            acts = draw(actions(emits, 1)) if split_actions else []
            if acts:
                split["actions"] = acts
            transitions[s] = [split]

    finals = {x for x, r in zip(names, roles, strict=True) if r == "final"}
    for s in names:  # an `at:` already past fires at once: only into a final state
        for t in transitions[s]:
            if t.get("at") == PAST_AT and t.get("to") not in finals:
                t["at"] = AT_EXPRESSIONS[0]
            elif timers and "at" in t and t.get("to") in finals and draw(st.booleans()):
                t["at"] = PAST_AT

    states: dict[str, Any] = {}
    for s, role in zip(names, roles, strict=True):
        body: dict[str, Any] = {}
        if draw(st.booleans()):
            body["owner"] = draw(st.sampled_from(["crm", "ops"]))
        on_enter = draw(actions(emits))
        if on_enter:
            body["on_enter"] = on_enter
        if role != "final":
            on_exit = draw(actions(emits, 1))
            if on_exit:
                body["on_exit"] = on_exit
            body["transitions"] = transitions[s]
        else:
            body["final"] = True
        states[s] = body

    entry: dict[str, Any] = {
        "on": draw(st.lists(st.sampled_from(ENTRY_EVENTS), min_size=1, max_size=2, unique=True))
    }
    if draw(st.integers(0, 3)) == 0:  # enrol on entering a segment, perhaps only so
        entry["segment"] = draw(st.sampled_from(SEGMENTS))
        if draw(st.booleans()):
            del entry["on"]
    reentry = draw(st.sampled_from([None, "never", "after_exit", "always"]))
    if any(t.get("at") == PAST_AT for ts in transitions.values() for t in ts):
        # a past `at:` completes the enrolment at once; with re-entry, an event
        # emitted on the way could enrol again at the same instant, for ever
        reentry = "never"
    if reentry:
        entry["reentry"] = reentry
    guard = draw(maybe_guard(entry=True))
    if guard:
        entry["when"] = guard
    if keyed and draw(st.integers(0, 4)) == 0:
        entry["key"] = draw(st.sampled_from(["event.properties.n", "trigger.properties.n"]))
    out: dict[str, Any] = {"journey": jid, "version": 1, "entry": entry, "initial": names[0]}
    zone = draw(st.sampled_from(JOURNEY_ZONES[3:] if timers else JOURNEY_ZONES))
    if zone:
        out["timezone"] = zone
    holdout = draw(st.sampled_from([0, 0, 50]))
    if holdout:
        out["holdout"] = holdout
    out["states"] = states
    exits = []
    for _ in range(draw(st.integers(0, 2))):
        rule: dict[str, Any] = {
            "on": draw(
                st.lists(st.sampled_from(TRANSITION_EVENTS), min_size=1, max_size=2, unique=True)
            )
        }
        guard = draw(maybe_guard())
        if guard:
            rule["when"] = guard
        if draw(st.booleans()):
            rule["goal"] = True
        exits.append(rule)
    if exits:
        out["exit"] = exits
    return out


def check_loaded(spec: dict[str, Any], loaded: LoadedJourney) -> None:
    """The loader read what was written (YAML 1.2: `on`/`yes` stay strings)."""
    j = loaded.journey
    assert j.journey == spec["journey"] and j.initial == spec["initial"]
    assert list(j.states) == list(spec["states"])
    assert j.entry.on == spec["entry"].get("on", [])
    assert j.entry.segment == spec["entry"].get("segment")
    for name, body in spec["states"].items():
        got = [(t.on, t.after, t.at, t.to, t.internal) for t in j.states[name].transitions]
        want = [
            (t.get("on"), t.get("after"), t.get("at"), t.get("to"), t.get("internal", False))
            for t in body.get("transitions", [])
        ]
        assert got == want, (name, got, want)


@dataclass
class Scenario:
    specs: list[dict[str, Any]]
    journeys: list[LoadedJourney]
    timeline: list[Step]

    @property
    def texts(self) -> list[str]:
        return [j.source for j in self.journeys]

    def describe(self) -> str:
        parts = [f"# --- journey {i + 1}\n{text}" for i, text in enumerate(self.texts)]
        parts.append("# --- timeline")
        parts.extend(repr(s) for s in self.timeline)
        return "\n".join(parts)


@st.composite
def journey_sets(
    draw: st.DrawFn,
    max_journeys: int = 3,
    keyed: bool = True,
    max_emits: int = 3,
    split_actions: bool = True,
    journey_ids: list[str] = JOURNEY_IDS,
    timers: bool = False,
) -> tuple[list[dict[str, Any]], list[LoadedJourney]]:
    count = draw(st.integers(1, max_journeys))
    ids = draw(st.lists(st.sampled_from(journey_ids), min_size=count, max_size=count, unique=True))
    emits = [max_emits]
    specs = [draw(journey_dicts(jid, emits, keyed, split_actions, timers)) for jid in ids]
    loaded = []
    for spec in specs:
        journey = load(to_yaml(spec) + "\n", spec["journey"])
        check_loaded(spec, journey)
        loaded.append(journey)
    return specs, loaded


_LOADED: dict[str, LoadedJourney] = {}


def load(text: str, jid: str) -> LoadedJourney:
    """The real loader (YAML 1.2, validation, static checks), once per distinct text:
    it is the slow part of a test case, and shrinking repeats texts often."""
    if text not in _LOADED:
        if len(_LOADED) > 5000:
            _LOADED.clear()
        _LOADED[text] = load_text(text, f"<{jid}>")
    return _LOADED[text]


@dataclass(frozen=True)
class Aims:
    """What the drawn journeys listen to, so a timeline can mostly say it: the
    events and segments that enrol, and the events that move or end an enrolment."""

    entry_events: tuple[str, ...] = ()  # track names, and "identify"
    entry_segments: tuple[str, ...] = ()
    other_events: tuple[str, ...] = ()  # in transitions and exit rules

    @staticmethod
    def of(specs: list[dict[str, Any]]) -> Aims:
        entry: set[str] = set()
        segments: set[str] = set()
        other: set[str] = set()
        for spec in specs:
            entry.update(spec["entry"].get("on", []))
            if "segment" in spec["entry"]:
                segments.add(spec["entry"]["segment"])
            for body in spec["states"].values():
                other.update(t["on"] for t in body.get("transitions", []) if "on" in t)
            for rule in spec.get("exit", []):
                other.update(rule["on"])
        other.discard("segment_entered")
        return Aims(tuple(sorted(entry)), tuple(sorted(segments)), tuple(sorted(other)))


SPAN = timedelta(days=60)
FINAL_GAPS = [
    timedelta(hours=5),
    timedelta(days=1),
    timedelta(days=3),
    timedelta(days=1),
    timedelta(days=3),
    timedelta(weeks=2),
    timedelta(days=45),
]


@st.composite
def timelines(
    draw: st.DrawFn, max_steps: int = 25, zones: bool = False, aims: Aims = Aims()
) -> list[Step]:
    """`zones`: identify calls carry a `timezone` trait half the time (else a quarter).

    With `aims` (what the journeys listen to), the timeline mostly opens with an
    event that enrols, and its events are mostly ones the journeys listen to, so
    most scenarios enrol someone and move them. It mostly ends by moving the
    clock well on, so timers fire. Two timelines in three retry events: a
    step repeats an earlier event's messageId (mostly the very same event, as a
    client's retry does; sometimes another event under the same id), in the
    same ingest call or a later one. A repeated messageId must be ignored."""
    customers = draw(st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=3, unique=True))
    at = START
    steps: list[Step] = []
    sent: list[Track | Identify] = []  # events so far, for retries
    retrying = draw(st.integers(0, 2)) < 2
    listened = [*aims.entry_events, *aims.other_events]
    listened_tracks = [e for e in listened if e != "identify"]
    kinds = ["track", "track", "track", "identify", "advance", "segments"]
    if "identify" in listened:
        kinds.append("identify")
    for i in range(draw(st.integers(1, max_steps))):
        if i > 0:
            # past SPAN, no more long gaps: an event after months of a 45-minute timer
            # loop makes the engine cut that customer's timers at MAX_STEPS_PER_TIMERS
            # (runtime/semantics.py), which the model does not know (yet)
            at += draw(st.sampled_from(GAPS if at - START < SPAN else GAPS[:7]))
        if sent and retrying and draw(st.integers(0, 3)) == 0:
            earlier = draw(st.sampled_from(sent))
            if draw(st.integers(0, 3)):
                steps.append(earlier)  # the same event again
            else:  # another event under an id already used
                steps.append(Track(earlier.customer, "buy", at, {"n": 1}, earlier.message_id))
            continue
        customer = draw(st.sampled_from(customers))
        opening = i == 0 and (aims.entry_events or aims.entry_segments)
        if opening and draw(st.integers(0, 4)) < 4:  # most timelines open with an entry
            choices = [*aims.entry_events, *(f"segment:{s}" for s in aims.entry_segments)]
            first = draw(st.sampled_from(choices))
            if first.startswith("segment:"):
                steps.append(Segments(customer, at, (first.removeprefix("segment:"),)))
                continue
            kind = "identify" if first == "identify" else "track"
            name = first
        else:
            kind = draw(st.sampled_from(kinds))
            name = ""
        if kind == "advance":
            steps.append(AdvanceTo(at))
            continue
        if kind == "segments":
            pool = [*aims.entry_segments, *SEGMENTS]
            chosen = draw(st.lists(st.sampled_from(pool), max_size=2, unique=True))
            steps.append(Segments(customer, at, tuple(chosen)))
            continue
        step: Track | Identify
        if kind == "track":
            if not name:
                if listened_tracks and draw(st.integers(0, 2)):
                    name = draw(st.sampled_from(listened_tracks))
                else:
                    name = draw(st.sampled_from(TRACK_EVENTS))
            props = {}
            if draw(st.integers(0, 2)) < 2:  # keyed journeys key on n
                props["n"] = draw(st.integers(0, 3))
            step = Track(customer, name, at, props, f"m{i}")
        else:
            traits = {}
            for trait, top in (("score", 3), ("tier", 2)):
                if draw(st.booleans()):
                    traits[trait] = draw(st.integers(0, top))
            if draw(st.integers(0, 3)) < (2 if zones else 1):
                traits["timezone"] = draw(st.sampled_from(TRAIT_ZONES))
            step = Identify(customer, at, traits, f"m{i}")
        steps.append(step)
        sent.append(step)
    if draw(st.integers(0, 4)) < 4:  # mostly: move the clock on, so timers fire
        steps.append(AdvanceTo(at + draw(st.sampled_from(FINAL_GAPS))))
    return steps


@st.composite
def scenarios(
    draw: st.DrawFn,
    max_journeys: int = 3,
    max_steps: int = 25,
    keyed: bool = True,
    split_actions: bool = True,
    journey_ids: list[str] = JOURNEY_IDS,
    timers: bool = False,
) -> Scenario:
    """Journeys and a timeline. `split_actions=False` or other `journey_ids` narrow the
    journeys (to keep clear of an engine bug until it is fixed); `timers=True` leans on
    timers, `at:` and time zones."""
    specs, loaded = draw(
        journey_sets(
            max_journeys,
            keyed,
            split_actions=split_actions,
            journey_ids=journey_ids,
            timers=timers,
        )
    )
    timeline = draw(timelines(max_steps, zones=timers, aims=Aims.of(specs)))
    return Scenario(specs, loaded, timeline)
