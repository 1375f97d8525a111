"""A session: the journey tests of many paths run in turn, the coverage of
their journeys' states and transitions, and the results as JUnit XML."""

from __future__ import annotations

import time as _time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from journeyflow.definition.loader import LoadedJourney
from journeyflow.testing.journeytest.collecting import CollectError, collect
from journeyflow.testing.journeytest.formatting import trigger
from journeyflow.testing.journeytest.running import CaseResult, Outcome, run_case


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


def run(
    paths: Sequence[str | Path],
    *,
    with_all: bool = False,
    keyword: str | None = None,
    coverage: bool = False,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    on_result: Callable[[CaseResult], None] | None = None,
    strict: bool = False,
    trace: bool = False,
) -> Session:
    """Collect and run the journey tests of `paths` (see the package docstring);
    `functions` are extra CEL functions, `on_result` hears each result as it
    comes; `strict` and `trace` as `run_case` takes them."""
    started = _time.perf_counter()
    found = collect(paths, with_all=with_all, keyword=keyword)
    session = Session(errors=found.errors, journeys=found.journeys)
    for case in found.cases:
        result = run_case(case, coverage=coverage, functions=functions, strict=strict, trace=trace)
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
            (name, i, f"{name}[{i}] {trigger(t)}" + (f" -> {t.to}" if t.to else ""))
            for name, state in j.states.items()
            for i, t in enumerate(state.transitions)
        ]
        out.append(
            JourneyCoverage(
                j.journey,
                loaded.path,
                len(mine),
                list(j.states),
                all_transitions,
                [s for s in j.states if s not in states],
                [t for t in all_transitions if (t[0], t[1]) not in taken],
            )
        )
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
            f"{c.tests} test(s)"
        )
        lines += [f"    state never entered: {s}" for s in c.missed_states]
        lines += [f"    transition never taken: {d}" for _, _, d in c.missed_transitions]
    lines.append(f"  total: {total_percent(report):.1f}%")
    return "\n".join(lines)


def junit_xml(session: Session) -> bytes:
    """The session as JUnit XML (one testsuite; collection errors as errored testcases)."""
    suite = ET.Element(
        "testsuite",
        {
            "name": "journeyflow",
            "tests": str(len(session.results) + len(session.errors)),
            "failures": str(session.count("failed")),
            "errors": str(session.error_count),
            "skipped": "0",
            "time": f"{session.duration:.3f}",
        },
    )
    for err in session.errors:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": err.path, "name": "(collect)", "file": err.path, "time": "0"},
        )
        node = ET.SubElement(
            case,
            "error",
            {"message": err.message.splitlines()[0] if err.message else "cannot collect"},
        )
        node.text = err.message
    for r in session.results:
        attrs = {
            "classname": r.case.journey.journey.journey,
            "name": r.case.name,
            "file": r.case.path,
            "time": f"{r.duration:.3f}",
        }
        if r.case.line is not None:
            attrs["line"] = str(r.case.line)
        case = ET.SubElement(suite, "testcase", attrs)
        if r.outcome != "passed":
            tag = "failure" if r.outcome == "failed" else "error"
            node = ET.SubElement(case, tag, {"message": r.headline})
            node.text = r.message
    root = ET.Element(
        "testsuites", {k: suite.get(k, "") for k in ("tests", "failures", "errors", "time")}
    )
    root.append(suite)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
