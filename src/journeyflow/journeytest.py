"""Journey tests: the `tests:` of journey files, run on a virtual clock.

Used by `journeyflow test` (`commands/test.py`) and by the pytest plugin
(`testing.py`); both print the same failure report.

Where tests come from
    Every journey file's `tests:` section, and standalone test files named
    `*.test.yaml` (or `*.test.yml`) that hold tests for a journey kept elsewhere::

        journey: crm-welcome        # the id of a journey among the loaded paths
        tests:                      # the same test format as a journey's `tests:`
          - name: ...
            start: '2026-03-01T00:00:00Z'   # optional
            steps: [...]

    The journey a test file names is looked up among the journey files of the
    paths given (folders are searched recursively), then among the journey
    files next to the test file.

How a test runs
    Each test starts from an empty in-memory store with only its own journey
    loaded (`with_all=True`, `--with-all` on the command line, loads every
    journey of the paths instead, for journeys that react to each other's
    `emit:`), on a virtual clock that starts at the test's `start:`, else at
    its first event's timestamp, else at 2026-01-01T00:00:00Z. Steps, in order:

    - `event: {...}` — a Segment-style call (`type` defaults to `track`). It
      happens at its `timestamp`, or at the virtual now when it has none. A
      later timestamp first moves the clock there, firing every timer due
      *before* that moment (each at its own due time); the event is then
      applied, and then the timers due at that very moment (on the same
      instant, events go before timers). A timestamp earlier than the virtual
      now is an error: tests only move time forward. Without a `messageId`
      each step gets its own, so two identical steps are both applied; give the
      same `messageId` twice to test that a repeated event is ignored.
    - `identify: {userId, traits, timestamp?, messageId?}` — an identify call.
    - `advance: 7d` — move the clock on by a duration, firing every timer due
      up to and including the new now.
    - `advance_to: <datetime>` — the same, to a moment (not in the past).
    - `expect: {customer: ..., ...}` — check where the customer stands:
      `state`, `status` and `stage` of the customer's latest enrolment in the
      journey under test (the one with `key:` in a keyed journey); `sent`,
      every message sent to the customer so far in this test, exactly, in the
      order the engine queued them in the outbox (holdout sends are
      suppressed, so they are not "sent"; tasks are sends on the `task`
      channel, matched as `{channel: task}`); a `template` left out matches
      any template of that channel; `sent_include`, these
      sends in this order, others allowed between; `not_sent`, none of these;
      `attributes`, these customer attributes with these values (others
      allowed); `in_holdout`; `enrolled` (false: no enrolment at all).

    Journeys are loaded without checking channel, segment, KPI and vertical
    names against the installed plugins (`journeyflow validate` does that):
    a test exercises the journey's logic, and nothing is dispatched. The
    plugins' CEL functions are available when the caller passes them (the
    command line and the pytest plugin do).

    A failing `expect` stops the test; the report names the test, the step
    number and its line, expected against actual, the enrolment's pending
    timers and the customer's history. A test that cannot run (an event the
    engine rejects, time going backwards, an engine exception) is an error.
"""

from __future__ import annotations

import dataclasses
import time as _time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError

from journeyflow import dsl
from journeyflow.clock import VirtualClock, as_utc
from journeyflow.durations import parse_duration
from journeyflow.events import parse_event
from journeyflow.exceptions import EventError, JourneyflowError
from journeyflow.loader import LoadedJourney, journey_files, load_file

if TYPE_CHECKING:
    from journeyflow.engine import Engine
    from journeyflow.store.records import EnrolmentRecord

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
TEST_SUFFIXES = (".test.yaml", ".test.yml")

Outcome = Literal["passed", "failed", "error"]


class JourneyTestError(JourneyflowError):
    """Raised when a journey test cannot run as written: an event the engine
    rejects, a step that moves time backwards, a test file naming an unknown
    journey. Reported as an error, not a failure."""


class JourneyTestFile(dsl.Model):
    """A standalone `*.test.yaml` file: tests for a journey kept in another file."""

    schema_: str | None = Field(None, alias="$schema")
    journey: str = Field(pattern=dsl.SLUG, description="id of the journey under test")
    tests: list[dsl.JourneyTest] = Field(min_length=1)


def is_test_file(path: str | Path) -> bool:
    return Path(path).name.endswith(TEST_SUFFIXES)


# --- collecting ----------------------------------------------------------------


@dataclass(frozen=True)
class JourneyCase:
    """One journey test, ready to run."""

    path: str  # the file holding the test: a journey file or a `*.test.yaml`
    index: int  # position in that file's `tests:`
    test: dsl.JourneyTest
    journey: LoadedJourney  # the journey under test
    loaded: tuple[LoadedJourney, ...]  # what the engine loads for this test
    source: str = ""  # text of `path`, for line numbers

    @property
    def name(self) -> str:
        return self.test.name

    @property
    def nodeid(self) -> str:
        return f"{self.path}::{self.test.name}"

    @cached_property
    def _lines(self) -> tuple[int | None, list[int | None]]:
        steps = len(self.test.steps)
        positions = getattr(self.journey, "positions", None)  # kept by the loader
        if positions is not None and self.source == self.journey.source:
            at = ("tests", self.index)
            return positions.at(at)[0], [positions.at((*at, "steps", i))[0]
                                         for i in range(steps)]
        return _test_lines(self.source, self.index, steps)

    @property
    def line(self) -> int | None:
        """1-based line of the test's entry in `tests:` (None if unknown)."""
        return self._lines[0]

    def step_line(self, number: int) -> int | None:
        """1-based line of step `number` (1-based), None if unknown."""
        lines = self._lines[1]
        return lines[number - 1] if 0 < number <= len(lines) else None

    def where(self, number: int) -> str:
        line = self.step_line(number)
        return f"{self.path}:{line}" if line is not None else self.path


@dataclass(frozen=True)
class CollectError:
    """A file that could not be loaded, or a test file naming an unknown journey."""

    path: str
    message: str

    @property
    def nodeid(self) -> str:
        return self.path


@dataclass
class Collected:
    cases: list[JourneyCase] = field(default_factory=list)
    errors: list[CollectError] = field(default_factory=list)
    journeys: list[LoadedJourney] = field(default_factory=list)  # journeys of the paths


def collect(paths: Sequence[str | Path], *, with_all: bool = False,
            keyword: str | None = None, context: Sequence[LoadedJourney] = ()) -> Collected:
    """Find the journey tests of `paths` (files or folders, searched recursively).

    :param with_all: run each test with every journey of the paths (and of
        `context`) loaded, not only the journey under test
    :param keyword: keep only tests whose id (`path::name`) contains it, ignoring case
    :param context: more journeys that test files may name and `with_all`
        loads, whose own tests are not collected (the pytest plugin passes the
        journeys next to the file it collects)
    """
    files: list[Path] = []  # in the order given; a folder's files by name
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = journey_files([p]) + [
                f for f in p.rglob("*") if f.is_file() and is_test_file(f)]
            files.extend(sorted(set(found)))
        else:
            files.append(p)
    files = _unique(files)
    out = Collected()
    by_file: dict[Path, list[JourneyCase] | CollectError] = {}
    for p in files:  # journeys first: test files name them
        if is_test_file(p):
            continue
        try:
            loaded = _load_journey(p)
        except JourneyTestError as exc:
            by_file[p] = CollectError(p.as_posix(), str(exc))
            continue
        out.journeys.append(loaded)
        by_file[p] = [JourneyCase(p.as_posix(), i, t, loaded, (loaded,), loaded.source)
                      for i, t in enumerate(loaded.journey.tests)]
    for p in files:
        if is_test_file(p):
            try:
                by_file[p] = load_test_file(p, [*out.journeys, *context])
            except JourneyTestError as exc:
                by_file[p] = CollectError(p.as_posix(), str(exc))
    for p in files:
        entry = by_file[p]
        if isinstance(entry, CollectError):
            out.errors.append(entry)
            continue
        for case in entry:
            if keyword and keyword.lower() not in case.nodeid.lower():
                continue
            if with_all:
                ids = {case.journey.journey.journey}
                others = []
                for j in [*out.journeys, *context]:
                    if j.journey.journey not in ids:
                        ids.add(j.journey.journey)
                        others.append(j)
                case = dataclasses.replace(case, loaded=(case.journey, *others))
            out.cases.append(case)
    return out


def load_test_file(path: str | Path, journeys: Sequence[LoadedJourney] = ()
                   ) -> list[JourneyCase]:
    """The tests of a `*.test.yaml` file; the journey it names is looked up in
    `journeys`, then among the journey files in the test file's folder."""
    p = Path(path)
    text = _read(p)
    try:
        data = _yaml_safe(text)
        parsed = JourneyTestFile.model_validate(data)
    except ValidationError as exc:
        raise JourneyTestError(f"{p.as_posix()}: not a journey test file: {exc}") from exc
    except Exception as exc:  # YAML syntax errors come in many classes
        raise JourneyTestError(f"{p.as_posix()}: cannot read YAML: {exc}") from exc
    journey = _find(parsed.journey, journeys)
    if journey is None:
        journey = _find(parsed.journey, load_journeys([p.parent]))
    if journey is None:
        known = sorted({j.journey.journey for j in journeys})
        raise JourneyTestError(
            f"{p.as_posix()}: journey {parsed.journey!r} is not among the loaded journeys "
            f"({', '.join(known) or 'none'}) nor next to the test file; pass its file or "
            "folder as a PATH")
    return [JourneyCase(p.as_posix(), i, t, journey, (journey,), text)
            for i, t in enumerate(parsed.tests)]


def load_journeys(paths: Sequence[str | Path]) -> list[LoadedJourney]:
    """The journey files of `paths` that load; the others are left out (they
    are reported where their own tests are collected)."""
    out = []
    for f in journey_files(list(paths)):
        try:
            out.append(_load_journey(f))
        except JourneyTestError:
            continue
    return out


def _load_journey(p: Path) -> LoadedJourney:
    try:
        return load_file(p)
    except JourneyflowError as exc:
        raise JourneyTestError(str(exc)) from exc
    except Exception as exc:  # the loader lets some YAML errors through as they are
        raise JourneyTestError(f"{p.as_posix()}: cannot load: {exc}") from exc


def _find(journey_id: str, journeys: Iterable[LoadedJourney]) -> LoadedJourney | None:
    matching = [j for j in journeys if j.journey.journey == journey_id]
    return max(matching, key=lambda j: j.journey.version) if matching else None


def _unique(paths: list[Path]) -> list[Path]:
    seen: dict[Path, Path] = {}
    for p in paths:
        seen.setdefault(p.resolve(), p)
    return list(seen.values())


def _read(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JourneyTestError(f"{p.as_posix()}: cannot read: {exc}") from exc


def _yaml_safe(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def _test_lines(source: str, index: int, steps: int) -> tuple[int | None, list[int | None]]:
    """1-based lines of test `index` and of its steps, from a round-trip parse
    (the loader's safe parse keeps no positions)."""
    unknown: list[int | None] = [None] * steps
    if not source:
        return None, unknown
    try:
        from ruamel.yaml import YAML

        data = YAML().load(source)
        tests = data["tests"]
        test_line = tests.lc.item(index)[0] + 1
        seq = tests[index]["steps"]
        return test_line, [seq.lc.item(i)[0] + 1 for i in range(min(steps, len(seq)))] + (
            [None] * max(0, steps - len(seq)))
    except Exception:  # positions are a nicety: never fail a test run over them
        return None, unknown


# --- running ---------------------------------------------------------------------


@dataclass
class CaseResult:
    """What happened when one journey test ran."""

    case: JourneyCase
    outcome: Outcome
    message: str = ""  # the failure report, or the error
    duration: float = 0.0  # seconds
    step: int | None = None  # 1-based step that failed or errored
    states: set[str] = field(default_factory=set)  # states of the journey entered
    transitions: set[tuple[str, int]] = field(default_factory=set)  # (state, index) taken

    @property
    def nodeid(self) -> str:
        return self.case.nodeid

    @property
    def headline(self) -> str:
        """One line: what went wrong first (for JUnit's message attribute)."""
        return next((ln.strip() for ln in self.message.splitlines()[1:] if ln.strip()),
                    self.message.strip())


class _ExpectFailed(Exception):
    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


def run_case(case: JourneyCase, *, coverage: bool = False,
             functions: Mapping[str, Callable[..., Any]] | None = None) -> CaseResult:
    """Run one journey test on a fresh in-memory store and a virtual clock.

    :param coverage: record the states and transitions the test exercises
    :param functions: extra CEL functions (the installed plugins' ones)
    """
    started = _time.perf_counter()
    runner = _CaseRun(case, coverage, functions)
    outcome: Outcome = "passed"
    message = ""
    try:
        runner.run()
    except _ExpectFailed as exc:
        outcome, message = "failed", exc.report
    except JourneyflowError as exc:  # the test or the journey is wrong, not the engine
        outcome, message = "error", f"{case.nodeid}\n{runner.step_where()}: {exc}"
    except Exception as exc:  # an engine bug must not stop the other tests
        import traceback

        outcome = "error"
        message = (f"{case.nodeid}\n{runner.step_where()}: the engine raised "
                   f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    result = CaseResult(case, outcome, message, _time.perf_counter() - started,
                        runner.step or None)
    if coverage:
        result.states, result.transitions = runner.coverage()
    return result


class _CaseRun:
    def __init__(self, case: JourneyCase, coverage: bool,
                 functions: Mapping[str, Callable[..., Any]] | None) -> None:
        self.case = case
        self.journey_id = case.journey.journey.journey
        self.clock = VirtualClock(_start_of(case.test))
        self.taken: set[tuple[str, str, int]] = set()
        self.step = 0
        self._watch = coverage
        self._functions = dict(functions or {})

    @cached_property
    def engine(self) -> Engine:
        from journeyflow.store import MemoryStore

        return _engine(list(self.case.loaded), MemoryStore(), self.clock,
                       self.taken if self._watch else None, self._functions)

    def step_where(self) -> str:
        if not self.step:
            return "before the first step"
        return f"step {self.step} ({self.case.where(self.step)})"

    def run(self) -> None:
        assert self.engine is not None  # built here, so a journey it refuses is an error
        for number, step in enumerate(self.case.test.steps, 1):
            self.step = number
            if isinstance(step, dsl.EventStep):
                self._event(dict(step.event))
            elif isinstance(step, dsl.IdentifyStepWrapper):
                ident = step.identify
                raw: dict[str, Any] = {"type": "identify", "userId": ident.userId,
                                       "traits": dict(ident.traits)}
                if ident.timestamp is not None:
                    raw["timestamp"] = as_utc(ident.timestamp).isoformat()
                if ident.messageId is not None:
                    raw["messageId"] = ident.messageId
                self._event(raw)
            elif isinstance(step, dsl.AdvanceStep):
                self.engine.advance_to(self.clock.now() + parse_duration(step.advance))
            elif isinstance(step, dsl.AdvanceToStep):
                moment = as_utc(step.advance_to)
                if moment < self.clock.now():
                    raise JourneyTestError(
                        f"advance_to {_fmt(moment)} is before the virtual now "
                        f"{_fmt(self.clock.now())}: tests only move time forward")
                self.engine.advance_to(moment)
            else:
                self._expect(step.expect)

    def _event(self, raw: dict[str, Any]) -> None:
        if "event" in raw:
            raw.setdefault("type", "track")
        raw.setdefault("messageId", f"journeytest-{self.case.index}-{self.step}")
        now = self.clock.now()
        try:
            at = parse_event(raw, now).timestamp
        except EventError as exc:
            raise JourneyTestError(f"the event is not valid: {exc}") from exc
        if at < now:
            raise JourneyTestError(
                f"the event's timestamp {_fmt(at)} is before the virtual now {_fmt(now)}: "
                "tests only move time forward (reorder the steps or fix `start:`)")
        raw["timestamp"] = at.isoformat()
        if at > now:
            # timers due strictly before the event fire first, each at its due time;
            # those due at the event's instant wait: events go before timers
            self.engine.advance_to(at - timedelta(microseconds=1))
            self.clock.set(at)
        report = self.engine.ingest([raw])
        if report.rejected:
            raise JourneyTestError(f"the engine rejected the event: {report.rejected[0].reason}")
        self.engine.advance_to(at)

    # --- expect -----------------------------------------------------------------

    def _expect(self, exp: dsl.Expectation) -> None:
        problems: list[str] = []
        mine = self.engine.enrolments(exp.customer, self.journey_id)
        if exp.key is not None:
            mine = [e for e in mine if e.key == exp.key]
        latest = max(mine, key=lambda e: e.started_at) if mine else None  # stable: last wins ties
        if mine:
            latest = [e for e in mine if e.started_at == latest.started_at][-1]  # type: ignore[union-attr]
        whose = (f"customer {exp.customer!r}" + (f" (key {exp.key!r})" if exp.key else "")
                 + f" in {self.journey_id}")
        if exp.enrolled is not None and exp.enrolled != bool(mine):
            problems.append(
                f"enrolled: expected {str(exp.enrolled).lower()}, got "
                + (f"{len(mine)} enrolment(s), latest {_describe(latest)}" if latest
                   else "no enrolment"))
        wanted = {"state": exp.state, "status": exp.status, "stage": exp.stage,
                  "in_holdout": exp.in_holdout}
        if latest is None:
            asked = [k for k, v in wanted.items() if v is not None]
            if asked:
                problems.append(f"{', '.join(asked)}: expected "
                                + ", ".join(f"{k} {_show(wanted[k])}" for k in asked)
                                + f", but {whose} has no enrolment")
        else:
            stage = self.engine.machine(latest.journey, latest.version).journey.stage_of(
                latest.state)
            actual = {"state": latest.state, "status": latest.status, "stage": stage,
                      "in_holdout": latest.in_holdout}
            for k, v in wanted.items():
                if v is not None and v != actual[k]:
                    problems.append(f"{k}: expected {_show(v)}, got {_show(actual[k])}")
        sends = self._sends(exp.customer)
        if exp.sent is not None:
            problems.extend(_check_sent(exp.sent, sends))
        if exp.sent_include is not None:
            problems.extend(_check_include(exp.sent_include, sends))
        if exp.not_sent is not None:
            for banned in exp.not_sent:
                hit = [s for s in sends if _matches(banned, s)]
                if hit:
                    problems.append(f"not_sent: {_msg(banned)} was sent at {_fmt(hit[0].at)} "
                                    f"({hit[0].journey})")
        if exp.attributes is not None:
            problems.extend(self._check_attributes(exp.customer, exp.attributes))
        if problems:
            raise _ExpectFailed(self._report(exp, problems, mine))

    def _check_attributes(self, customer_id: str, wanted: dict[str, Any]) -> list[str]:
        record = self.engine.customer(customer_id)
        if record is None:
            return [f"attributes: customer {customer_id!r} does not exist (no event named them)"]
        out = []
        for name, value in wanted.items():
            if name not in record.attributes:
                out.append(f"attributes.{name}: expected {_show(value)}, but it is not set")
            elif not _same(value, record.attributes[name]):
                out.append(f"attributes.{name}: expected {_show(value)}, "
                           f"got {_show(record.attributes[name])}")
        return out

    def _sends(self, customer_id: str) -> list[_Sent]:
        # in outbox order, the order the engine queued them: sorting by
        # created_at would hide a transition stamped earlier than its cause
        return [_Sent(e.channel, e.template, e.created_at, e.journey)
                for e in self.engine.effects(customer_id) if e.status != "suppressed"]

    def _report(self, exp: dsl.Expectation, problems: list[str],
                mine: list[EnrolmentRecord]) -> str:
        case = self.case
        total = len(case.test.steps)
        lines = [case.nodeid,
                 f"step {self.step} of {total} (expect, {case.where(self.step)}) at virtual "
                 f"time {_fmt(self.clock.now())}, customer {exp.customer!r}"
                 + (f", key {exp.key!r}" if exp.key else "") + ":"]
        lines += [_indent(p, 2) for p in problems]
        if mine:
            lines.append(f"  enrolments in {self.journey_id}:")
            for e in mine:
                lines.append(f"    {_describe(e)}")
                machine = self.engine.machine(e.journey, e.version)
                for index, due in sorted(e.timers, key=lambda t: t[1]):
                    spec = machine.journey.states[e.state].transitions[index]
                    lines.append(f"      timer {e.state}[{index}] ({_trigger(spec)} -> "
                                 f"{spec.to}) due {_fmt(due)}")
        history = self.engine.history(exp.customer)
        lines.append(f"  history of {exp.customer!r}:" if history
                     else f"  history of {exp.customer!r}: (empty)")
        several = len({h.journey for h in history}) > 1
        for h in history:
            move = (f"{h.from_state or '(start)'} -> {h.to_state or '(end)'}")
            tail = f"  [{h.detail}]" if h.detail else ""
            journey = f"{h.journey}  " if several else ""
            lines.append(f"    {_fmt(h.at)}  {journey}{h.kind:<10} {move:<40} {h.cause}{tail}")
        return "\n".join(lines)

    # --- coverage ----------------------------------------------------------------

    def coverage(self) -> tuple[set[str], set[tuple[str, int]]]:
        if "engine" not in self.__dict__:  # the engine refused the journey
            return set(), set()
        states = {h.to_state for h in self.engine.history(journey=self.journey_id)
                  if h.kind in ("enter", "transition") and h.to_state is not None}
        taken = {(s, i) for (j, s, i) in self.taken if j == self.journey_id}
        return states, taken


def _start_of(test: dsl.JourneyTest) -> datetime:
    if test.start is not None:
        return as_utc(test.start)
    for step in test.steps:
        stamp: Any = None
        if isinstance(step, dsl.EventStep):
            stamp = step.event.get("timestamp")
        elif isinstance(step, dsl.IdentifyStepWrapper):
            stamp = step.identify.timestamp
        else:
            continue
        if isinstance(stamp, datetime):
            return as_utc(stamp)
        if isinstance(stamp, str):
            try:
                return as_utc(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
            except ValueError:
                pass  # the step itself reports the bad timestamp
        break  # the first event has no timestamp: it happens at the default start
    return DEFAULT_START


def _engine(journeys: list[LoadedJourney], store: Any, clock: VirtualClock,
            taken: set[tuple[str, str, int]] | None,
            functions: dict[str, Callable[..., Any]]) -> Engine:
    from journeyflow.engine import Engine

    if taken is None:
        return Engine(journeys, store, clock, functions=functions)
    # Coverage needs the index of each transition taken; the history names only
    # its cause and target, and two guarded `on: nps_answered` transitions of one
    # state look alike there. So watch the one place every transition goes through.
    # TODO: replace with a public engine hook carrying (state, index).
    from journeyflow.customer import CustomerRun

    seen = taken

    class _Watched(CustomerRun):
        def _apply(self, enrolment: Any, machine: Any, transition: Any, *args: Any) -> None:
            seen.add((machine.id, transition.state, transition.index))
            super()._apply(enrolment, machine, transition, *args)

    class _WatchedEngine(Engine):
        def _run(self, uow: Any, customer_id: str) -> CustomerRun:
            return _Watched(self, uow, customer_id)

    return _WatchedEngine(journeys, store, clock, functions=functions)


# --- comparing sends ------------------------------------------------------------


@dataclass(frozen=True)
class _Sent:
    channel: str
    template: str | None
    at: datetime
    journey: str

    def __str__(self) -> str:
        return f"{_msg(self)}  ({_fmt(self.at)}, {self.journey})"


def _msg(m: dsl.SentMessage | _Sent) -> str:
    return m.channel if m.template is None else f"{m.channel} {m.template}"


def _matches(expected: dsl.SentMessage, actual: _Sent) -> bool:
    return expected.channel == actual.channel and (
        expected.template is None or expected.template == actual.template)


def _align(expected: Sequence[dsl.SentMessage], actual: Sequence[_Sent]
           ) -> list[tuple[str, str]]:
    """A diff of the two lists (longest common subsequence): ("  " | "- " | "+ ", text)."""
    n, m = len(expected), len(actual)
    best = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best[i][j] = (best[i + 1][j + 1] + 1 if _matches(expected[i], actual[j])
                          else max(best[i + 1][j], best[i][j + 1]))
    rows: list[tuple[str, str]] = []
    i = j = 0
    while i < n or j < m:
        if i < n and j < m and _matches(expected[i], actual[j]) and \
                best[i][j] == best[i + 1][j + 1] + 1:
            rows.append(("  ", str(actual[j])))
            i, j = i + 1, j + 1
        elif j < m and (i == n or best[i][j + 1] >= best[i + 1][j]):
            rows.append(("+ ", str(actual[j])))
            j += 1
        else:
            rows.append(("- ", _msg(expected[i])))
            i += 1
    return rows


def _check_sent(expected: Sequence[dsl.SentMessage], actual: Sequence[_Sent]) -> list[str]:
    if len(expected) == len(actual) and all(map(_matches, expected, actual)):
        return []
    rows = _align(expected, actual)
    head = (f"sent: expected {len(expected)} message(s), got {len(actual)} "
            "(- expected only, + actual only):")
    return [head + "".join(f"\n    {mark}{text}" for mark, text in rows)
            + ("\n    (nothing was sent)" if not rows else "")]


def _check_include(expected: Sequence[dsl.SentMessage], actual: Sequence[_Sent]) -> list[str]:
    j = 0
    for i, want in enumerate(expected):
        while j < len(actual) and not _matches(want, actual[j]):
            j += 1
        if j == len(actual):
            listing = "".join(f"\n    {s}" for s in actual) or "\n    (nothing was sent)"
            later = "" if i == 0 else f" after {_msg(expected[i - 1])}"
            return [f"sent_include: {_msg(want)} (item {i + 1} of {len(expected)}) was not "
                    f"sent{later}; sent so far:{listing}"]
        j += 1
    return []


def _same(expected: Any, actual: Any) -> bool:
    """YAML values against stored attributes: True is not 1, 2.0 is 2, and a
    date or datetime in the YAML matches its ISO-8601 string."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, datetime) and isinstance(actual, str):
        try:
            return as_utc(expected) == as_utc(datetime.fromisoformat(actual.replace("Z", "+00:00")))
        except ValueError:
            return False
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(
            _same(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(map(_same, expected, actual))
    if hasattr(expected, "isoformat") and isinstance(actual, str):  # a YAML date
        return bool(expected.isoformat() == actual)
    return bool(expected == actual)


# --- formatting -----------------------------------------------------------------


def _fmt(moment: datetime) -> str:
    moment = as_utc(moment)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())


def _describe(e: EnrolmentRecord | None) -> str:
    if e is None:
        return "none"
    text = (f"{e.id}: state {e.state}, status {e.status}, entered {_fmt(e.entered_at)}")
    if e.ended_at is not None:
        text += f", ended {_fmt(e.ended_at)} ({e.end_reason})"
    if e.in_holdout:
        text += ", in holdout"
    return text


def _trigger(spec: dsl.Transition) -> str:
    if spec.on is not None:
        return f"on {spec.on}" + (" (internal)" if spec.internal else "")
    if spec.after is not None:
        return f"after {spec.after}"
    if spec.at is not None:
        return f"at {spec.at}"
    if spec.split is not None:
        return "split " + "/".join(f"{b.to}:{b.weight}" for b in spec.split)
    return "?"


# --- a session: many tests, coverage, JUnit ----------------------------------------


@dataclass
class Session:
    """The results of `run`: one per test, plus files that could not be collected."""

    results: list[CaseResult] = field(default_factory=list)
    errors: list[CollectError] = field(default_factory=list)
    journeys: list[LoadedJourney] = field(default_factory=list)
    duration: float = 0.0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def error_count(self) -> int:
        return self.count("error") + len(self.errors)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0 and self.error_count == 0

    def summary(self) -> str:
        text = f"{self.count('passed')} passed, {self.count('failed')} failed"
        return text + (f", {self.error_count} errors" if self.error_count else "")


def run(paths: Sequence[str | Path], *, with_all: bool = False, keyword: str | None = None,
        coverage: bool = False, functions: Mapping[str, Callable[..., Any]] | None = None,
        on_result: Callable[[CaseResult], None] | None = None) -> Session:
    """Collect and run the journey tests of `paths` (see the module docstring);
    `functions` are extra CEL functions, `on_result` hears each result as it comes."""
    started = _time.perf_counter()
    found = collect(paths, with_all=with_all, keyword=keyword)
    session = Session(errors=found.errors, journeys=found.journeys)
    for case in found.cases:
        result = run_case(case, coverage=coverage, functions=functions)
        session.results.append(result)
        if on_result is not None:
            on_result(result)
    session.duration = _time.perf_counter() - started
    return session


@dataclass
class JourneyCoverage:
    """What a journey's tests exercised: states entered, transitions taken."""

    journey: str
    path: str
    tests: int
    states: list[str]
    transitions: list[tuple[str, int, str]]  # (state, index, description)
    missed_states: list[str]
    missed_transitions: list[tuple[str, int, str]]

    @property
    def total(self) -> int:
        return len(self.states) + len(self.transitions)

    @property
    def covered(self) -> int:
        return self.total - len(self.missed_states) - len(self.missed_transitions)

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 100.0


def coverage(session: Session) -> list[JourneyCoverage]:
    """Per journey of the paths: the states and transitions its tests never
    exercised (only the tests that ran count, so `-k` narrows it)."""
    out = []
    for loaded in session.journeys:
        j = loaded.journey
        mine = [r for r in session.results if r.case.journey is loaded]
        states: set[str] = set().union(*(r.states for r in mine)) if mine else set()
        taken: set[tuple[str, int]] = set().union(*(r.transitions for r in mine)) if mine else set()
        all_transitions = [
            (name, i, f"{name}[{i}] {_trigger(t)}" + (f" -> {t.to}" if t.to else ""))
            for name, state in j.states.items() for i, t in enumerate(state.transitions)]
        out.append(JourneyCoverage(
            j.journey, loaded.path, len(mine), list(j.states), all_transitions,
            [s for s in j.states if s not in states],
            [t for t in all_transitions if (t[0], t[1]) not in taken]))
    return out


def total_percent(report: Sequence[JourneyCoverage]) -> float:
    total = sum(c.total for c in report)
    return 100.0 * sum(c.covered for c in report) / total if total else 100.0


def format_coverage(report: Sequence[JourneyCoverage]) -> str:
    lines = ["coverage (states entered and transitions taken by each journey's tests):"]
    for c in report:
        lines.append(
            f"  {c.journey} ({c.path}): {c.percent:.1f}% — "
            f"{len(c.states) - len(c.missed_states)}/{len(c.states)} states, "
            f"{len(c.transitions) - len(c.missed_transitions)}/{len(c.transitions)} transitions, "
            f"{c.tests} test(s)")
        lines += [f"    state never entered: {s}" for s in c.missed_states]
        lines += [f"    transition never taken: {d}" for _, _, d in c.missed_transitions]
    lines.append(f"  total: {total_percent(report):.1f}%")
    return "\n".join(lines)


def junit_xml(session: Session) -> bytes:
    """The session as JUnit XML (one testsuite; collection errors as errored testcases)."""
    suite = ET.Element("testsuite", {
        "name": "journeyflow", "tests": str(len(session.results) + len(session.errors)),
        "failures": str(session.count("failed")), "errors": str(session.error_count),
        "skipped": "0", "time": f"{session.duration:.3f}"})
    for err in session.errors:
        case = ET.SubElement(suite, "testcase", {"classname": err.path, "name": "(collect)",
                                                 "file": err.path, "time": "0"})
        node = ET.SubElement(case, "error", {"message": err.message.splitlines()[0]
                                             if err.message else "cannot collect"})
        node.text = err.message
    for r in session.results:
        attrs = {"classname": r.case.journey.journey.journey, "name": r.case.name,
                 "file": r.case.path, "time": f"{r.duration:.3f}"}
        if r.case.line is not None:
            attrs["line"] = str(r.case.line)
        case = ET.SubElement(suite, "testcase", attrs)
        if r.outcome != "passed":
            tag = "failure" if r.outcome == "failed" else "error"
            node = ET.SubElement(case, tag, {"message": r.headline})
            node.text = r.message
    root = ET.Element("testsuites", {k: suite.get(k, "") for k in
                                     ("tests", "failures", "errors", "time")})
    root.append(suite)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
