"""Running one journey test on a fresh in-memory store and a virtual clock."""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from journeyflow.clock import VirtualClock, as_utc
from journeyflow.definition import testspec
from journeyflow.definition.durations import parse_duration
from journeyflow.events import parse_event
from journeyflow.exceptions import EventError, JourneyflowError
from journeyflow.testing.journeytest.collecting import JourneyCase, JourneyTestError
from journeyflow.testing.journeytest.compare import (
    Sent,
    check_include,
    check_sent,
    check_tasks,
    label,
    matches,
    same_value,
    to_customer,
)
from journeyflow.testing.journeytest.formatting import (
    describe_enrolment,
    fmt_time,
    indent,
    show_value,
    trigger,
)
from journeyflow.testing.journeytest.replay import (
    BATCH as REPLAY_BATCH,
)
from journeyflow.testing.journeytest.replay import (
    first_timestamp,
    open_replay,
    replay_events,
)
from journeyflow.testing.journeytest.timeline import Timeline, error_rows

if TYPE_CHECKING:
    from journeyflow.runtime.engine import Engine
    from journeyflow.runtime.semantics import Notification
    from journeyflow.store.records import EnrolmentRecord

DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)

Outcome = Literal["passed", "failed", "error"]


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
    events: int = 0  # events applied (event, identify and replayed ones)
    timeline: list[str] = field(default_factory=list)  # with `trace`: what happened, in time
    engine: Engine | None = None  # with `keep_engine`: the engine, to look at its store

    @property
    def nodeid(self) -> str:
        return self.case.nodeid

    @property
    def headline(self) -> str:
        """One line: what went wrong first (for JUnit's message attribute)."""
        return next(
            (ln.strip() for ln in self.message.splitlines()[1:] if ln.strip()), self.message.strip()
        )


class _ExpectFailed(Exception):
    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


def run_case(
    case: JourneyCase,
    *,
    coverage: bool = False,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    strict: bool = False,
    trace: bool = False,
    keep_engine: bool = False,
) -> CaseResult:
    """Run one journey test on a fresh in-memory store and a virtual clock.

    :param coverage: record the states and transitions the test exercises
    :param functions: extra CEL functions (the installed plugins' ones)
    :param strict: fail a test whose run wrote an `error` row (a run-time
        error of a journey: a guard or `at:` that failed) to any history
    :param trace: keep the timeline of a passing test (`CaseResult.timeline`)
    :param keep_engine: keep the engine on the result (for tests of tests)
    """
    started = _time.perf_counter()
    runner = _CaseRun(case, coverage, functions, trace)
    outcome: Outcome = "passed"
    message = ""
    try:
        runner.run()
        if strict:
            runner.check_no_errors()
    except _ExpectFailed as exc:
        outcome, message = "failed", exc.report
    except JourneyflowError as exc:  # the test or the journey is wrong, not the engine
        outcome, message = "error", f"{case.nodeid}\n{runner.step_where()}: {exc}"
    except Exception as exc:  # an engine bug must not stop the other tests
        import traceback

        outcome = "error"
        message = (
            f"{case.nodeid}\n{runner.step_where()}: the engine raised "
            f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        )
    result = CaseResult(case, outcome, message, _time.perf_counter() - started, runner.step or None)
    result.events = runner.applied
    if coverage:
        result.states, result.transitions = runner.coverage()
    if trace and outcome == "passed":
        result.timeline = runner.timeline.lines(runner.engine)
    if keep_engine and "engine" in runner.__dict__:
        result.engine = runner.engine
    return result


class _CaseRun:
    def __init__(
        self,
        case: JourneyCase,
        coverage: bool,
        functions: Mapping[str, Callable[..., Any]] | None,
        trace: bool = False,
    ) -> None:
        self.case = case
        self.applied = 0  # events applied
        self.timeline = Timeline(enabled=trace)
        self.journey_id = case.journey.journey.journey
        self.clock = VirtualClock(_start_of(case))
        self.entered: set[str] = set()  # states of the journey under test entered
        self.taken: set[tuple[str, int]] = set()  # its transitions taken: (state, index)
        self.step = 0
        self._watch = coverage
        self._functions = dict(functions or {})

    @cached_property
    def engine(self) -> Engine:
        from journeyflow.runtime.engine import Engine
        from journeyflow.store import MemoryStore

        return Engine(
            list(self.case.loaded),
            MemoryStore(),
            self.clock,
            batch_size=REPLAY_BATCH,  # an in-memory store copies each customer once a batch
            functions=self._functions,
            listeners=[self._heard] if self._watch else (),
        )

    def step_where(self) -> str:
        if not self.step:
            return "before the first step"
        return f"step {self.step} ({self.case.where(self.step)})"

    def run(self) -> None:
        assert self.engine is not None  # built here, so a journey it refuses is an error
        for number, step in enumerate(self.case.test.steps, 1):
            self.step = number
            if isinstance(step, testspec.EventStep):
                self._event(dict(step.event))
            elif isinstance(step, testspec.ReplayStep):
                self._replay(step.replay)
            elif isinstance(step, testspec.IdentifyStepWrapper):
                ident = step.identify
                raw: dict[str, Any] = {
                    "type": "identify",
                    "userId": ident.userId,
                    "traits": dict(ident.traits),
                }
                if ident.timestamp is not None:
                    raw["timestamp"] = as_utc(ident.timestamp).isoformat()
                if ident.messageId is not None:
                    raw["messageId"] = ident.messageId
                self._event(raw)
            elif isinstance(step, testspec.AdvanceStep):
                self.engine.advance_to(self.clock.now() + parse_duration(step.advance))
            elif isinstance(step, testspec.AdvanceToStep):
                moment = as_utc(step.advance_to)
                if moment < self.clock.now():
                    raise JourneyTestError(
                        f"advance_to {fmt_time(moment)} is before the virtual now "
                        f"{fmt_time(self.clock.now())}: tests only move time forward"
                    )
                self.engine.advance_to(moment)
            else:
                self._expect(step.expect)

    def _event(self, raw: dict[str, Any]) -> None:
        if "event" in raw:
            raw.setdefault("type", "track")
        raw.setdefault("messageId", f"journeytest-{self.case.index}-{self.step}")
        now = self.clock.now()
        try:
            event = parse_event(raw, now)
        except EventError as exc:
            raise JourneyTestError(f"the event is not valid: {exc}") from exc
        at = event.timestamp
        if at < now:
            raise JourneyTestError(
                f"the event's timestamp {fmt_time(at)} is before the virtual now {fmt_time(now)}: "
                "tests only move time forward (reorder the steps or fix `start:`)"
            )
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
        self.applied += 1
        self.timeline.event(at, event.customer_id, event.name)

    def _replay(self, name: str) -> None:
        """Every event of a JSON-lines file, as that many `event:` steps (see replay.py)."""
        with open_replay(self.case.folder, name) as stream:
            self.applied += replay_events(
                self.engine,
                self.clock,
                stream,
                name,
                f"journeytest-{self.case.index}-{self.step}",
                self.timeline,
            )

    # --- expect -----------------------------------------------------------------

    def _expect(self, exp: testspec.Expectation) -> None:
        problems: list[str] = []
        mine = self.engine.enrolments(exp.customer, self.journey_id)
        if exp.key is not None:
            mine = [e for e in mine if e.key == exp.key]
        latest = max(mine, key=lambda e: e.started_at) if mine else None  # stable: last wins ties
        if mine:
            latest = [e for e in mine if e.started_at == latest.started_at][-1]  # type: ignore[union-attr]
        whose = (
            f"customer {exp.customer!r}"
            + (f" (key {exp.key!r})" if exp.key else "")
            + f" in {self.journey_id}"
        )
        if exp.enrolled is not None and exp.enrolled != bool(mine):
            problems.append(
                f"enrolled: expected {str(exp.enrolled).lower()}, got "
                + (
                    f"{len(mine)} enrolment(s), latest {describe_enrolment(latest)}"
                    if latest
                    else "no enrolment"
                )
            )
        wanted = {
            "state": exp.state,
            "status": exp.status,
            "stage": exp.stage,
            "in_holdout": exp.in_holdout,
        }
        if latest is None:
            asked = [k for k, v in wanted.items() if v is not None]
            if asked:
                problems.append(
                    f"{', '.join(asked)}: expected "
                    + ", ".join(f"{k} {show_value(wanted[k])}" for k in asked)
                    + f", but {whose} has no enrolment"
                )
        else:
            stage = self.engine.machine(latest.journey, latest.version).journey.stage_of(
                latest.state
            )
            actual = {
                "state": latest.state,
                "status": latest.status,
                "stage": stage,
                "in_holdout": latest.in_holdout,
            }
            for k, v in wanted.items():
                if v is not None and v != actual[k]:
                    problems.append(f"{k}: expected {show_value(v)}, got {show_value(actual[k])}")
        sends = self._sends(exp.customer)
        if exp.sent is not None:
            problems.extend(check_sent(exp.sent, to_customer(sends, exp.sent)))
        if exp.sent_include is not None:
            problems.extend(check_include(exp.sent_include, to_customer(sends, exp.sent_include)))
        if exp.tasks is not None:
            problems.extend(check_tasks(exp.tasks, sends))
        if exp.not_sent is not None:
            for banned in exp.not_sent:
                hit = [s for s in to_customer(sends, exp.not_sent) if matches(banned, s)]
                if hit:
                    problems.append(
                        f"not_sent: {label(banned)} was sent at {fmt_time(hit[0].at)} "
                        f"({hit[0].journey})"
                    )
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
                out.append(f"attributes.{name}: expected {show_value(value)}, but it is not set")
            elif not same_value(value, record.attributes[name]):
                out.append(
                    f"attributes.{name}: expected {show_value(value)}, "
                    f"got {show_value(record.attributes[name])}"
                )
        return out

    def _sends(self, customer_id: str) -> list[Sent]:
        # in the store's order of effects, the order the outbox lists them
        return [
            Sent(e.channel, e.template, e.created_at, e.journey, dict(e.data))
            for e in self.engine.effects(customer_id)
            if e.status != "suppressed"
        ]

    def check_no_errors(self) -> None:
        """`--strict`: a run-time error of a journey (a history `error` row) fails the test."""
        rows = error_rows(self.engine)
        if rows:
            case = self.case
            raise _ExpectFailed(
                "\n".join(
                    [
                        case.nodeid,
                        f"after the last step (--strict): the run wrote {len(rows)} error "
                        "row(s) to customers' histories (a guard, `at:` or value that "
                        "failed at run time):",
                        *(f"  {row}" for row in rows),
                    ]
                )
            )

    def _report(
        self, exp: testspec.Expectation, problems: list[str], mine: list[EnrolmentRecord]
    ) -> str:
        case = self.case
        total = len(case.test.steps)
        lines = [
            case.nodeid,
            f"step {self.step} of {total} (expect, {case.where(self.step)}) at virtual "
            f"time {fmt_time(self.clock.now())}, customer {exp.customer!r}"
            + (f", key {exp.key!r}" if exp.key else "")
            + ":",
        ]
        lines += [indent(p, 2) for p in problems]
        if mine:
            lines.append(f"  enrolments in {self.journey_id}:")
            for e in mine:
                lines.append(f"    {describe_enrolment(e)}")
                machine = self.engine.machine(e.journey, e.version)
                for index, due in sorted(e.timers, key=lambda t: t[1]):
                    spec = machine.journey.states[e.state].transitions[index]
                    lines.append(
                        f"      timer {e.state}[{index}] ({trigger(spec)} -> "
                        f"{spec.to}) due {fmt_time(due)}"
                    )
        history = self.engine.history(exp.customer)
        lines.append(
            f"  history of {exp.customer!r}:"
            if history
            else f"  history of {exp.customer!r}: (empty)"
        )
        several = len({h.journey for h in history}) > 1
        for h in history:
            move = f"{h.from_state or '(start)'} -> {h.to_state or '(end)'}"
            tail = f"  [{h.detail}]" if h.detail else ""
            journey = f"{h.journey}  " if several else ""
            lines.append(f"    {fmt_time(h.at)}  {journey}{h.kind:<10} {move:<40} {h.cause}{tail}")
        return "\n".join(lines)

    # --- coverage ----------------------------------------------------------------

    def _heard(self, note: Notification) -> None:
        """The engine's listener: an `enter` or a transition taken, in the journey under test."""
        h = note.history
        if note.kind != "transition" or h is None or h.journey != self.journey_id:
            return
        if h.to_state is not None:
            self.entered.add(h.to_state)
        if note.transition_index is not None and h.from_state is not None:
            self.taken.add((h.from_state, note.transition_index))

    def coverage(self) -> tuple[set[str], set[tuple[str, int]]]:
        """The states entered and the transitions taken so far."""
        return set(self.entered), set(self.taken)


def _start_of(case: JourneyCase) -> datetime:
    test = case.test
    if test.start is not None:
        return as_utc(test.start)
    for step in test.steps:
        stamp: Any = None
        if isinstance(step, testspec.EventStep):
            stamp = step.event.get("timestamp")
        elif isinstance(step, testspec.IdentifyStepWrapper):
            stamp = step.identify.timestamp
        elif isinstance(step, testspec.ReplayStep):
            stamp = first_timestamp(case.folder, step.replay)
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
