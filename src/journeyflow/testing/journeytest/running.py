"""Running one journey test on a fresh in-memory store and a virtual clock."""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from journeyflow.clock import VirtualClock, as_utc
from journeyflow.definition import dsl
from journeyflow.definition.durations import parse_duration
from journeyflow.events import parse_event
from journeyflow.exceptions import EventError, JourneyflowError
from journeyflow.testing.journeytest.collecting import JourneyCase, JourneyTestError
from journeyflow.testing.journeytest.compare import (
    Sent,
    check_include,
    check_sent,
    label,
    matches,
    same_value,
)
from journeyflow.testing.journeytest.formatting import (
    describe_enrolment,
    fmt_time,
    indent,
    show_value,
    trigger,
)

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
) -> CaseResult:
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
        message = (
            f"{case.nodeid}\n{runner.step_where()}: the engine raised "
            f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        )
    result = CaseResult(case, outcome, message, _time.perf_counter() - started, runner.step or None)
    if coverage:
        result.states, result.transitions = runner.coverage()
    return result


class _CaseRun:
    def __init__(
        self, case: JourneyCase, coverage: bool, functions: Mapping[str, Callable[..., Any]] | None
    ) -> None:
        self.case = case
        self.journey_id = case.journey.journey.journey
        self.clock = VirtualClock(_start_of(case.test))
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
            if isinstance(step, dsl.EventStep):
                self._event(dict(step.event))
            elif isinstance(step, dsl.IdentifyStepWrapper):
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
            elif isinstance(step, dsl.AdvanceStep):
                self.engine.advance_to(self.clock.now() + parse_duration(step.advance))
            elif isinstance(step, dsl.AdvanceToStep):
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
            at = parse_event(raw, now).timestamp
        except EventError as exc:
            raise JourneyTestError(f"the event is not valid: {exc}") from exc
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

    # --- expect -----------------------------------------------------------------

    def _expect(self, exp: dsl.Expectation) -> None:
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
            problems.extend(check_sent(exp.sent, sends))
        if exp.sent_include is not None:
            problems.extend(check_include(exp.sent_include, sends))
        if exp.not_sent is not None:
            for banned in exp.not_sent:
                hit = [s for s in sends if matches(banned, s)]
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
        # in outbox order, the order the engine queued them: sorting by
        # created_at would hide a transition stamped earlier than its cause
        return [
            Sent(e.channel, e.template, e.created_at, e.journey)
            for e in self.engine.effects(customer_id)
            if e.status != "suppressed"
        ]

    def _report(
        self, exp: dsl.Expectation, problems: list[str], mine: list[EnrolmentRecord]
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
