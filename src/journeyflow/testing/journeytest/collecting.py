"""Collecting journey tests: the `tests:` of journey files and the tests of
`*.test.yaml` files, each made a `JourneyCase` ready to run.

A `*.test.yaml` file comes from the same people as a journey file, so it is
read the same way: the journey loader's safe YAML reader (YAML 1.2, no tags,
no anchors, bounded size, nesting and node count; `yaml_reader.py`) and
pydantic errors mapped to file:line. Data too large for those bounds belongs
in a JSON-lines file that a `replay:` step streams."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from journeyflow.definition import dsl, testspec
from journeyflow.definition.loader import LoadedJourney, journey_files, load_file
from journeyflow.definition.schema_problems import problems_from
from journeyflow.definition.yaml_reader import (
    MAX_BYTES,
    Positions,
    construct,
    decode_text,
    kind_of,
    read_bounded,
    read_yaml,
)
from journeyflow.exceptions import JourneyflowError, Problem

TEST_SUFFIXES = (".test.yaml", ".test.yml")


class JourneyTestError(JourneyflowError):
    """Raised when a journey test cannot run as written: an event the engine
    rejects, a step that moves time backwards, a test file naming an unknown
    journey. Reported as an error, not a failure."""


class JourneyTestFile(testspec.TestModel):
    """A standalone `*.test.yaml` file: tests for a journey kept in another file."""

    schema_: str | None = Field(None, alias="$schema")
    journey: str = Field(pattern=dsl.SLUG, description="id of the journey under test")
    tests: list[testspec.JourneyTest] = Field(min_length=1)


def is_test_file(path: str | Path) -> bool:
    return Path(path).name.endswith(TEST_SUFFIXES)


@dataclass(frozen=True)
class JourneyCase:
    """One journey test, ready to run."""

    path: str  # the file holding the test: a journey file or a `*.test.yaml`
    index: int  # position in that file's `tests:`
    test: testspec.JourneyTest
    journey: LoadedJourney  # the journey under test
    loaded: tuple[LoadedJourney, ...]  # what the engine loads for this test
    source: str = ""  # text of `path`
    positions: Positions | None = field(default=None, repr=False, compare=False)
    folder: Path = Path(".")  # the folder of `path`, where `replay:` files are found

    @property
    def name(self) -> str:
        return self.test.name

    @property
    def nodeid(self) -> str:
        return f"{self.path}::{self.test.name}"

    @cached_property
    def _lines(self) -> tuple[int | None, list[int | None]]:
        steps = len(self.test.steps)
        if self.positions is None:
            return None, [None] * steps
        at = ("tests", self.index)
        return (
            self.positions.at(at)[0],
            [self.positions.at((*at, "steps", i))[0] for i in range(steps)],
        )

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


def collect(
    paths: Sequence[str | Path],
    *,
    with_all: bool = False,
    keyword: str | None = None,
    context: Sequence[LoadedJourney] = (),
) -> Collected:
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
                f for f in p.rglob("*") if f.is_file() and is_test_file(f)
            ]
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
        by_file[p] = [
            JourneyCase(
                p.as_posix(),
                i,
                _current(t),
                loaded,
                (loaded,),
                loaded.source,
                loaded.positions,
                p.resolve().parent,
            )
            for i, t in enumerate(loaded.journey.tests)
        ]
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


def load_test_file(path: str | Path, journeys: Sequence[LoadedJourney] = ()) -> list[JourneyCase]:
    """The tests of a `*.test.yaml` file; the journey it names is looked up in
    `journeys`, then among the journey files in the test file's folder."""
    p = Path(path)
    text, positions, parsed = read_test_file(p)
    journey = _find(parsed.journey, journeys)
    if journey is None:
        journey = _find(parsed.journey, load_journeys([p.parent]))
    if journey is None:
        known = sorted({j.journey.journey for j in journeys})
        raise JourneyTestError(
            f"{p.as_posix()}: journey {parsed.journey!r} is not among the loaded journeys "
            f"({', '.join(known) or 'none'}) nor next to the test file; pass its file or "
            "folder as a PATH"
        )
    return [
        JourneyCase(p.as_posix(), i, t, journey, (journey,), text, positions, p.resolve().parent)
        for i, t in enumerate(parsed.tests)
    ]


def read_test_file(p: Path) -> tuple[str, Positions, JourneyTestFile]:
    """A `*.test.yaml` file read as a journey file is: the same safe reader and
    limits; every problem at its line, all of them in one JourneyTestError."""
    name = p.as_posix()
    problems: list[Problem] = []
    try:
        raw = read_bounded(p)
    except OSError as exc:
        raise JourneyTestError(
            f"{name}: cannot read: {exc.strerror or type(exc).__name__}"
        ) from exc
    text = decode_text(raw, name, problems) if raw is not None else None
    if raw is None:
        problems.append(
            Problem(
                "JF101",
                f"the file is larger than {MAX_BYTES // 1024} KiB, the limit of journey and "
                "test files: keep recorded events in a JSON-lines file and `replay:` it",
                name,
                1,
                1,
            )
        )
    root = read_yaml(text.removeprefix("\ufeff"), name, problems) if text is not None else None
    positions = Positions(root)
    data = construct(root, name, problems) if root is not None and not problems else None
    if not problems and not isinstance(data, dict):
        line, col = positions.at(())
        problems.append(
            Problem(
                "JF106",
                f"the top level is {kind_of(data)}, not a mapping: a test file is "
                "`journey: <id>` and `tests: [...]`",
                name,
                line,
                col,
            )
        )
    if problems or text is None or not isinstance(data, dict):
        raise JourneyTestError("\n".join(map(str, problems)))
    try:
        parsed = JourneyTestFile.model_validate(data)
    except ValidationError as exc:
        found = sorted(
            problems_from(exc, data, positions, name), key=lambda q: (q.line or 0, q.column or 0)
        )
        raise JourneyTestError("\n".join(map(str, found))) from None
    return text, positions, parsed


def _current(test: Any) -> testspec.JourneyTest:
    """A journey file's test in the current test format. (The journey models
    may still hold the v1.0 test models; their tests convert losslessly.)"""
    if isinstance(test, testspec.JourneyTest):
        return test
    return testspec.JourneyTest.model_validate(
        test.model_dump(mode="python", by_alias=True, exclude_unset=True)
    )


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
