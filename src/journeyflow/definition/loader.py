"""YAML text -> `dsl.Journey`, safely, with every problem at file:line:col.

Journey files come from people (and from the internet, pasted into a repo), so
the loader trusts nothing: it reads YAML 1.2 only (`on:` stays a string),
builds plain Python data itself from ruamel.yaml's node tree (no tags, no
anchors, so no object construction and no alias bombs), validates with
pydantic, maps each pydantic error back to the node it is about, then runs the
static checks of `checks.py`. All errors of a file come back together, in one
`JourneyDefinitionError`; warnings ride along on `LoadedJourney.warnings`.

This module is the public API and its results; each step has a module of its
own, which lists the error codes it raises (stable; `docs/errors.md` explains
each with an example):

    yaml_reader.py      bytes -> plain data, refusing unsafe YAML  JF1xx
    schema_problems.py  pydantic errors -> problems at file:line   JF2xx
    checks.py           static checks                              JF3xx to JF6xx
    yaml_writer.py      a journey back to YAML text (`dump_journey`)

Raised here:

    JF100  the file cannot be read (missing, a folder, no permission)
    JF106  the top level is not a mapping
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from journeyflow.definition.checks import KnownNames, check_journey
from journeyflow.definition.dsl import Journey
from journeyflow.definition.schema_problems import problems_from
from journeyflow.definition.yaml_reader import (
    MAX_BYTES,
    Positions,
    construct,
    decode_text,
    kind_of,
    read_bounded,
    read_yaml,
    source_lines,
    too_large,
)
from journeyflow.definition.yaml_writer import dump_journey
from journeyflow.exceptions import JourneyDefinitionError, Problem

__all__ = [
    # re-exported: callers import these from the loader
    "MAX_BYTES",
    "Analysis",
    "LoadedJourney",
    "Positions",
    "analyse",
    "analyse_file",
    "analyse_paths",
    "dump_journey",
    "journey_files",
    "load_file",
    "load_paths",
    "load_text",
    "source_lines",
    "validate_text",
]


# --- the result ----------------------------------------------------------------


@dataclass(frozen=True)
class LoadedJourney:
    """A journey together with where it came from."""

    journey: Journey
    source: str  # the file's text
    path: str  # file name for messages ("<string>" when loaded from text)
    warnings: list[Problem] = field(default_factory=list)
    positions: Positions | None = field(default=None, repr=False, compare=False)

    @property
    def content_hash(self) -> str:
        """sha256 of the file's text: a changed hash without a version bump is refused."""
        return hashlib.sha256(self.source.encode("utf-8")).hexdigest()


@dataclass
class Analysis:
    """Everything `analyse` learned about one file: problems, and the journey if valid."""

    path: str
    source: str = ""
    problems: list[Problem] = field(default_factory=list)
    journey: Journey | None = None
    positions: Positions | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


# --- public API ----------------------------------------------------------------


def analyse(
    text: str | bytes, filename: str = "<string>", *, known: KnownNames | None = None
) -> Analysis:
    """Read, validate and check one journey file; never raises for bad input.

    Results are remembered per (text, filename, known names): the pure-Python
    YAML scanner costs ~0.1 s per 10 KB, and tests, backtests and the engine
    load the same files many times. An Analysis is treated as read-only."""
    return _analyse_cached(text, filename, known)


@functools.lru_cache(maxsize=512)
def _analyse_cached(text: str | bytes, filename: str, known: KnownNames | None) -> Analysis:
    result = Analysis(filename)
    if isinstance(text, bytes):
        decoded = decode_text(text, filename, result.problems)
        if decoded is None:
            return result
        text = decoded
    result.source = text
    if len(text) > MAX_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        result.problems.append(too_large(filename))
        return result
    root = read_yaml(text.removeprefix("\ufeff"), filename, result.problems)
    if root is None:
        return result
    positions = Positions(root)
    result.positions = positions
    data = construct(root, filename, result.problems)
    if result.problems:
        return result
    if not isinstance(data, dict):
        line, col = positions.at(())
        result.problems.append(
            Problem(
                "JF106",
                f"the top level is {kind_of(data)}, not a mapping: a journey file is "
                "`key: value` lines starting with `journey:`, `version:`, `entry:`...",
                filename,
                line,
                col,
            )
        )
        return result
    try:
        journey = Journey.model_validate(data)
    except ValidationError as exc:
        result.problems.extend(problems_from(exc, data, positions, filename))
        result.problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        return result
    result.journey = journey
    result.problems.extend(check_journey(journey, positions, known=known, filename=filename))
    result.problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return result


def validate_text(
    text: str | bytes, filename: str = "<string>", *, known: KnownNames | None = None
) -> list[Problem]:
    """Every error and warning of one journey file, in file order; never raises."""
    return analyse(text, filename, known=known).problems


def load_text(
    text: str | bytes,
    filename: str = "<string>",
    *,
    known: KnownNames | None = None,
    strict: bool = False,
) -> LoadedJourney:
    """Load a journey; raise one JourneyDefinitionError holding every error
    (and every warning too when `strict`)."""
    return _loaded(analyse(text, filename, known=known), strict)


def load_file(
    path: str | Path, *, known: KnownNames | None = None, strict: bool = False
) -> LoadedJourney:
    return _loaded(analyse_file(path, known=known), strict)


def analyse_file(path: str | Path, *, known: KnownNames | None = None) -> Analysis:
    """Like `analyse`, reading the file; a file that cannot be read is a JF100."""
    p = Path(path)
    name = p.as_posix()
    try:
        raw = read_bounded(p)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return Analysis(name, problems=[Problem("JF100", f"cannot read {name!r}: {reason}", name)])
    if raw is None:
        return Analysis(name, problems=[too_large(name)])
    return analyse(raw, name, known=known)


def journey_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders to their journey files (`*.yaml`, `*.yml`, not
    `*.test.yaml`), skipping hidden folders; files given by name are kept."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(
                f
                for f in sorted(p.rglob("*"))
                if f.suffix in (".yaml", ".yml")
                and f.is_file()
                and not f.name.endswith((".test.yaml", ".test.yml"))
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        else:
            found.append(p)
    return found


def analyse_paths(
    paths: Iterable[str | Path], *, known: KnownNames | None = None
) -> list[Analysis]:
    """Analyse every journey file under `paths`. Two otherwise valid files with
    the same journey id and version are a JF314 error on the later one (several
    versions of one journey may be loaded side by side: the engine keeps
    in-flight customers on theirs)."""
    results = [analyse_file(f, known=known) for f in journey_files(paths)]
    seen: dict[tuple[str, int], Analysis] = {}
    for r in results:
        if r.journey is None or r.errors:
            continue
        j = r.journey
        first = seen.setdefault((j.journey, j.version), r)
        if first is not r and r.positions is not None:
            line, col = r.positions.at(("version",))
            r.problems.append(
                Problem(
                    "JF314",
                    f"journey {j.journey!r} version {j.version} is also defined in "
                    f"{first.path}: rename one, or bump `version:` if this is a new version",
                    r.path,
                    line,
                    col,
                )
            )
    return results


def load_paths(
    paths: Iterable[str | Path], *, known: KnownNames | None = None, strict: bool = False
) -> list[LoadedJourney]:
    """Load every journey file under `paths`; one JourneyDefinitionError holds
    the errors of all files."""
    results = analyse_paths(paths, known=known)
    failing = [p for r in results for p in (r.problems if strict else r.errors)]
    if failing:
        raise JourneyDefinitionError(failing)
    return [_loaded(r, strict) for r in results]


def _loaded(result: Analysis, strict: bool) -> LoadedJourney:
    failing = result.problems if strict else result.errors
    if failing or result.journey is None:
        raise JourneyDefinitionError(failing or result.problems)
    return LoadedJourney(
        result.journey, result.source, result.path, result.warnings, result.positions
    )
