"""YAML text -> `dsl.Journey`, safely, with every problem at file:line:col.

Journey files come from people (and from the internet, pasted into a repo), so
the loader trusts nothing: it reads YAML 1.2 only (`on:` stays a string),
builds plain Python data itself from ruamel.yaml's node tree (no tags, no
anchors, so no object construction and no alias bombs), validates with
pydantic, maps each pydantic error back to the node it is about, then runs the
static checks of `checks.py`. All errors of a file come back together, in one
`JourneyDefinitionError`; warnings ride along on `LoadedJourney.warnings`.

Error codes (stable; `docs/errors.md` explains each with an example):

    JF100  the file cannot be read (missing, a folder, no permission)
    JF101  the file is larger than 1 MiB
    JF102  the file is not UTF-8
    JF103  YAML syntax error (or a control character YAML forbids)
    JF104  a line indented with a tab
    JF105  the file is empty
    JF106  the top level is not a mapping
    JF107  a YAML tag (`!!python/object`, `!custom`); only `!!str` is allowed
    JF108  an anchor or alias (`&a`, `*a`): they can hide "billion laughs" bombs
    JF109  nesting deeper than 64 levels
    JF110  a duplicate key (the message names both lines)
    JF111  more than one YAML document in the file
    JF112  a `%YAML` directive other than 1.2
    JF113  a mapping key that is not a plain value (a list or mapping as key)
    JF201  unknown field (with a "did you mean")
    JF202  missing field
    JF203  a value of the wrong type
    JF204  a value out of range, not matching its pattern, or not one of a set
    JF205  a bad duration
    JF206  an action that is not exactly one of send, set, emit, task
    JF207  a test step that is not exactly one of event, identify, advance,
           advance_to, expect
    JF3xx, JF4xx, JF5xx, JF6xx: static checks, listed in `checks.py`
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.representer import RoundTripRepresenter

from journeyflow import dsl
from journeyflow.dsl import Journey
from journeyflow.exceptions import JourneyDefinitionError, Problem

if TYPE_CHECKING:
    from journeyflow.checks import KnownNames

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
_CORE = "tag:yaml.org,2002:"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def source_lines(text: str) -> list[str]:
    """The lines of a file as YAML counts them (CR, LF, CRLF; not NEL or LS,
    which `str.splitlines` would also split on), for showing a problem's line."""
    return _LINE_BREAK.split(text)


# --- positions -----------------------------------------------------------------


class Positions:
    """Where each value of a journey file is: pydantic-style paths -> line/col.

    Built from ruamel.yaml's node tree; `at(("states", "a", "transitions", 0))`
    gives the 1-based (line, column) of that value, or of its key with
    `key=True`. A path that goes further than the file (a default value) stops
    at the deepest node that exists, so a message still points near the spot.
    """

    def __init__(self, root: Node | None) -> None:
        self.root = root

    def _walk(self, path: Sequence[str | int]) -> tuple[Node | None, Node | None]:
        key: Node | None = None
        node = self.root
        for element in path:
            if isinstance(node, MappingNode):
                for k, v in node.value:
                    if isinstance(k, ScalarNode) and k.value == str(element):
                        key, node = k, v
                        break
                else:
                    break
            elif isinstance(node, SequenceNode) and isinstance(element, int):
                if not 0 <= element < len(node.value):
                    break
                key, node = None, node.value[element]
            else:
                break
        return key, node

    def at(self, path: Sequence[str | int], *, key: bool = False) -> tuple[int | None, int | None]:
        found_key, node = self._walk(path)
        target = found_key if key and found_key is not None else node
        if target is None:
            return None, None
        return target.start_mark.line + 1, target.start_mark.column + 1

    def owner(self, path: Sequence[str | int]) -> tuple[int | None, int | None]:
        """The line of the key that holds `path` (`active:` for a state), else
        the node itself: where "this thing is missing X" should point."""
        found_key, node = self._walk(path)
        target = found_key if found_key is not None else node
        if target is None:
            return None, None
        return target.start_mark.line + 1, target.start_mark.column + 1


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


def analyse(text: str | bytes, filename: str = "<string>", *,
            known: KnownNames | None = None) -> Analysis:
    """Read, validate and check one journey file; never raises for bad input.

    Results are remembered per (text, filename, known names): the pure-Python
    YAML scanner costs ~0.1 s per 10 KB, and tests, backtests and the engine
    load the same files many times. An Analysis is treated as read-only."""
    return _analyse_cached(text, filename, known)


@functools.lru_cache(maxsize=512)
def _analyse_cached(text: str | bytes, filename: str, known: KnownNames | None) -> Analysis:
    result = Analysis(filename)
    if isinstance(text, bytes):
        decoded = _decode(text, filename, result)
        if decoded is None:
            return result
        text = decoded
    result.source = text
    if len(text) > MAX_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        result.problems.append(_too_large(filename))
        return result
    root = _read_yaml(text.removeprefix("\ufeff"), filename, result.problems)
    if root is None:
        return result
    positions = Positions(root)
    result.positions = positions
    data = _construct(root, filename, result.problems)
    if result.problems:
        return result
    if not isinstance(data, dict):
        line, col = positions.at(())
        result.problems.append(Problem(
            "JF106", f"the top level is {_kind(data)}, not a mapping: a journey file is "
            "`key: value` lines starting with `journey:`, `version:`, `entry:`...",
            filename, line, col))
        return result
    try:
        journey = Journey.model_validate(data)
    except ValidationError as exc:
        result.problems.extend(_schema_problems(exc, data, positions, filename))
        result.problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        return result
    from journeyflow.checks import check_journey  # checks needs loader.Positions

    result.journey = journey
    result.problems.extend(check_journey(journey, positions, known=known, filename=filename))
    result.problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return result


def validate_text(text: str | bytes, filename: str = "<string>", *,
                  known: KnownNames | None = None) -> list[Problem]:
    """Every error and warning of one journey file, in file order; never raises."""
    return analyse(text, filename, known=known).problems


def load_text(text: str | bytes, filename: str = "<string>", *,
              known: KnownNames | None = None, strict: bool = False) -> LoadedJourney:
    """Load a journey; raise one JourneyDefinitionError holding every error
    (and every warning too when `strict`)."""
    return _loaded(analyse(text, filename, known=known), strict)


def load_file(path: str | Path, *, known: KnownNames | None = None,
              strict: bool = False) -> LoadedJourney:
    return _loaded(analyse_file(path, known=known), strict)


def analyse_file(path: str | Path, *, known: KnownNames | None = None) -> Analysis:
    """Like `analyse`, reading the file; a file that cannot be read is a JF100."""
    p = Path(path)
    name = p.as_posix()
    try:
        if p.stat().st_size > MAX_BYTES:
            return Analysis(name, problems=[_too_large(name)])
        raw = p.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return Analysis(name, problems=[Problem(
            "JF100", f"cannot read {name!r}: {reason}", name)])
    return analyse(raw, name, known=known)


def journey_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders to their journey files (`*.yaml`, `*.yml`, not
    `*.test.yaml`), skipping hidden folders; files given by name are kept."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.extend(
                f for f in sorted(p.rglob("*"))
                if f.suffix in (".yaml", ".yml") and f.is_file()
                and not f.name.endswith((".test.yaml", ".test.yml"))
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        else:
            found.append(p)
    return found


def analyse_paths(paths: Iterable[str | Path], *,
                  known: KnownNames | None = None) -> list[Analysis]:
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
            r.problems.append(Problem(
                "JF314", f"journey {j.journey!r} version {j.version} is also defined in "
                f"{first.path}: rename one, or bump `version:` if this is a new version",
                r.path, line, col))
    return results


def load_paths(paths: Iterable[str | Path], *, known: KnownNames | None = None,
               strict: bool = False) -> list[LoadedJourney]:
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
    return LoadedJourney(result.journey, result.source, result.path, result.warnings,
                         result.positions)


# --- reading bytes and YAML ----------------------------------------------------


def _too_large(filename: str) -> Problem:
    return Problem("JF101", f"the file is larger than {MAX_BYTES // 1024} KiB: a journey "
                   "this big is almost certainly not hand-written; split it into several "
                   "journeys", filename, 1, 1)


def _decode(raw: bytes, filename: str, result: Analysis) -> str | None:
    if len(raw) > MAX_BYTES:
        result.problems.append(_too_large(filename))
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        result.problems.append(Problem(
            "JF102", f"byte 0x{raw[exc.start]:02x} is not UTF-8: save the file as UTF-8 "
            "(most editors: 'Save with encoding')", filename, line, col))
        return None


_SYNTAX_HINTS = {
    "mapping values are not allowed": "a value holds ': ' — put the value in quotes",
    "could not find expected ':'": "a key without ':' or a wrong indentation",
    "did not find expected key": "check the indentation of this line and the ones above",
    "did not find expected '-'": "a list item whose indentation differs from the others",
    "found undefined tag handle": "remove the `!` tag or quote the value",
    "while scanning a quoted scalar": "the quote that starts here is never closed",
}


def _read_yaml(text: str, filename: str, problems: list[Problem]) -> Node | None:
    """Parse to a node tree, refusing what safe YAML for journeys must not hold.

    One pass over the parser's events checks each event before its node is
    built: an alias bomb is refused before anything could expand it, and a
    deep nesting before anything recurses into it.
    """
    too_deep = _flow_too_deep(text)
    if too_deep is not None:
        problems.append(_depth_problem(filename, *too_deep))
        return None
    tab_lines = [i for i, line in enumerate(source_lines(text), 1)
                 if "\t" in line[: len(line) - len(line.lstrip(" \t"))]]
    y = _yaml()
    tree = _Tree(text, filename, y.resolver)
    try:
        for event in y.parse(text):
            if not tree.add(event):
                break
    except YAMLError as exc:
        if tab_lines:  # a tab in the indentation is the likely cause: say that instead
            problems.append(_tab_problem(text, tab_lines, filename))
        else:
            problems.append(_syntax_problem(exc, text, filename))
        return None
    problems.extend(tree.problems)
    if problems:
        return None
    tab_lines = [n for n in tab_lines if not any(a < n <= b for a, b in tree.quoted)]
    if tab_lines:
        problems.append(_tab_problem(text, tab_lines, filename))
        return None
    if tree.root is None or (isinstance(tree.root, ScalarNode) and tree.root.value == ""
                             and tree.root.tag == _CORE + "null"):
        problems.append(Problem(
            "JF105", "the file is empty: a journey needs at least `journey:`, `version:`, "
            "`entry:`, `initial:` and `states:`", filename, 1, 1))
        return None
    return tree.root


def _yaml() -> YAML:
    y = YAML(typ="safe", pure=True)
    y.version = (1, 2)
    return y


def _flow_too_deep(text: str) -> tuple[int, int] | None:
    """A cheap upper bound of `[`/`{` nesting: ruamel's scanner is quadratic in
    flow depth, so a `[[[[...` bomb is refused before it is parsed. Brackets in
    prose only count when more than 64 are left open, which prose never does."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth = 0
    line, col = 1, 0
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line, col
        elif ch in "]}" and depth:
            depth -= 1
    return None


def _depth_problem(filename: str, line: int, col: int) -> Problem:
    return Problem("JF109", f"nesting deeper than {MAX_DEPTH} levels: a journey never needs "
                   "this; flatten the data (this limit stops nesting bombs)",
                   filename, line, col)


class _Tree:
    """Checks parser events one by one and builds ruamel nodes from the good
    ones (ruamel's own composer would need a second, slow, parse)."""

    def __init__(self, text: str, filename: str, resolver: Any) -> None:
        self.lines = source_lines(text)
        self.filename = filename
        self.resolver = resolver
        self.problems: list[Problem] = []
        self.quoted: list[tuple[int, int]] = []  # line spans of quoted/block scalars
        self.root: Node | None = None
        self.stack: list[Node] = []
        self.keys: list[Node | None] = []  # per open mapping: a key awaiting its value
        self.documents = 0
        self.anchors_reported = False

    def problem(self, code: str, message: str, line: int, col: int) -> None:
        self.problems.append(Problem(code, message, self.filename, line, col))

    def add(self, ev: Any) -> bool:
        """Take one event; False once reading further is pointless."""
        mark = ev.start_mark
        line, col = mark.line + 1, mark.column + 1
        if isinstance(ev, DocumentStartEvent):
            return self._document(ev, line, col)
        is_anchor = isinstance(ev, AliasEvent) or (isinstance(ev, NodeEvent) and ev.anchor)
        if is_anchor and not self.anchors_reported:
            self.anchors_reported = True  # one is enough: a bomb has thousands
            sign = "*" if isinstance(ev, AliasEvent) else "&"
            self.problem("JF108", f"anchors and aliases ({sign}{ev.anchor}) are not allowed "
                         "in journeys: write the value out in full (aliases can hide "
                         "exponential 'billion laughs' expansions)", line, col)
        tag: str | None = getattr(ev, "tag", None) if not isinstance(ev, AliasEvent) else None
        if tag and tag != _CORE + "str":
            shown = "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag
            self.problem("JF107", f"the tag {shown} is not allowed: journeys are plain data; "
                         "remove the tag (quote the value if it must stay text)", line, col)
        if isinstance(ev, ScalarEvent):
            if ev.style in ("'", '"', "|", ">"):
                self.quoted.append((line, ev.end_mark.line + 1))
            node_tag = tag or self.resolver.resolve(ScalarNode, ev.value, ev.implicit)
            self._attach(ScalarNode(node_tag, ev.value, ev.start_mark, ev.end_mark,
                                    style=ev.style))
        elif isinstance(ev, CollectionStartEvent):
            if len(self.stack) >= MAX_DEPTH:
                self.problems.append(_depth_problem(self.filename, line, col))
                return False
            kind = MappingNode if isinstance(ev, MappingStartEvent) else SequenceNode
            node = kind(tag or self.resolver.resolve(kind, None, ev.implicit), [],
                        ev.start_mark, None)
            self._attach(node)
            self.stack.append(node)
            self.keys.append(None)
        elif isinstance(ev, CollectionEndEvent):
            self.stack.pop().end_mark = ev.end_mark
            self.keys.pop()
        return True

    def _document(self, ev: DocumentStartEvent, line: int, col: int) -> bool:
        self.documents += 1
        if self.documents > 1:
            self.problem("JF111", "a second YAML document (`---`): one journey per file; "
                         "move it to a file of its own", line, col)
            return False
        version = getattr(ev, "version", None)
        if version is not None and tuple(version) != (1, 2):
            line = next((i for i, t in enumerate(self.lines, 1) if t.startswith("%YAML")), line)
            self.problem("JF112", f"`%YAML {version[0]}.{version[1]}`: journeys are read as "
                         "YAML 1.2 (where `on:` is a string); remove the directive", line, 1)
        return True

    def _attach(self, node: Node) -> None:
        if not self.stack:
            self.root = node
            return
        parent = self.stack[-1]
        if isinstance(parent, SequenceNode):
            parent.value.append(node)
        elif self.keys[-1] is None:
            self.keys[-1] = node
        else:
            parent.value.append((self.keys[-1], node))
            self.keys[-1] = None


def _tab_problem(text: str, lines: list[int], filename: str) -> Problem:
    first = lines[0]
    line_text = source_lines(text)[first - 1]
    more = f" (and {len(lines) - 1} more lines)" if len(lines) > 1 else ""
    return Problem("JF104", f"line {first} is indented with a tab{more}: YAML indents with "
                   "spaces only; replace each tab with spaces", filename, first,
                   line_text.index("\t") + 1)


def _syntax_problem(exc: YAMLError, text: str, filename: str) -> Problem:
    if isinstance(exc, ReaderError):
        before = source_lines(text[: exc.position])
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return Problem("JF103", f"the character U+{ord(char):04X} is not allowed in YAML: "
                       "remove it (control characters must be written as escapes inside "
                       "double quotes)", filename, len(before), len(before[-1]) + 1)
    line: int | None = None
    col: int | None = None
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or exc.context or message
        if "end of stream" in message and exc.context_mark is not None:
            # the file ended inside something: where that began is what to fix
            mark = exc.context_mark
            message = f"the file ends {exc.context}".replace("while scanning", "inside")
        elif exc.context and exc.problem and exc.context_mark is not None:
            message = f"{message} ({exc.context} at line {exc.context_mark.line + 1})"
        if mark is not None:
            line, col = mark.line + 1, mark.column + 1
    hint = next((h for k, h in _SYNTAX_HINTS.items() if k in str(exc)), None)
    return Problem("JF103", f"YAML syntax error: {message}" + (f": {hint}" if hint else ""),
                   filename, line, col)


# --- nodes -> plain data -------------------------------------------------------


def _construct(node: Node, filename: str, problems: list[Problem]) -> Any:
    """Plain dicts, lists, str, int, float, bool and None from a node tree.

    Dates and times stay text (as in JSON events): the models that need a
    datetime parse it, and an event's `timestamp` keeps the author's spelling.
    Recursion is bounded: `_check_events` refused anything deeper than 64.
    """
    if isinstance(node, MappingNode):
        out: dict[Any, Any] = {}
        first_seen: dict[Any, Node] = {}
        for key_node, value_node in node.value:
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key_node, ScalarNode):
                problems.append(Problem("JF113", "a key must be a plain value, not a list or "
                                        "a mapping", filename, line, col))
                continue
            key = _scalar(key_node)
            if key in first_seen:
                first = first_seen[key].start_mark.line + 1
                problems.append(Problem(
                    "JF110", f"duplicate key {key!r} on line {line} (first on line {first}): "
                    "YAML would silently keep only the last one; merge them or rename one",
                    filename, line, col))
                continue
            first_seen[key] = key_node
            out[key] = _construct(value_node, filename, problems)
        return out
    if isinstance(node, SequenceNode):
        return [_construct(item, filename, problems) for item in node.value]
    return _scalar(node)


_INT_BASES = {"0b": 2, "0o": 8, "0x": 16}


def _scalar(node: Node) -> Any:
    """The YAML 1.2 core-schema value of a scalar; a number that does not
    parse stays text (ruamel's resolver is more lenient than int())."""
    tag, value = node.tag, node.value
    if tag == _CORE + "null":
        return None
    if tag == _CORE + "bool":
        return value.lower() == "true"
    try:
        if tag == _CORE + "int":
            digits = value.replace("_", "")
            sign = -1 if digits.startswith("-") else 1
            digits = digits.lstrip("+-")
            base = _INT_BASES.get(digits[:2].lower(), 10)
            return sign * int(digits[2:] if base != 10 else digits, base)
        if tag == _CORE + "float":
            lowered = value.replace("_", "").lower()
            if lowered.endswith((".inf", ".nan")):
                return float(lowered.replace(".", ""))
            return float(lowered)
    except ValueError:
        return value
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null (empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    return f"the number {value}"


# --- pydantic errors -> problems -----------------------------------------------

_ACTION_TAGS = {"send", "set", "emit", "task"}
_STEP_TAGS = {"event", "identify", "advance", "advance_to", "expect"}
_EXPECTED = {
    "int": "a whole number (no quotes)",
    "bool": "true or false",
    "string": "text (put it in quotes)",
    "list": "a list: `[a, b]` or one `- item` per line",
    "dict": "a mapping of `key: value` lines",
    "model": "a mapping of `key: value` lines",
    "datetime": "a date-time such as 2026-01-01T10:00:00Z",
    "float": "a number",
}
_PATTERN_HINTS = {
    dsl.SLUG: "use lowercase letters, digits and single dashes, e.g. crm-reactivation",
    dsl.STATE_NAME: "a state name starts with a letter or `_` and holds letters, digits, "
    "`_` and `-`",
}
_DURATION_FIELDS = {"after", "due", "advance"}


def _schema_problems(exc: ValidationError, data: dict[str, Any], positions: Positions,
                     filename: str) -> list[Problem]:
    problems = []
    seen: set[tuple[str, tuple[Any, ...]]] = set()
    for err in exc.errors():
        loc = tuple(err["loc"])
        path = _yaml_path(loc)
        code, message = _describe(err, loc, path, data)
        if (code, path) in seen:  # union members may report the same spot twice
            continue
        seen.add((code, path))
        if err["type"] == "missing":
            line, col = positions.owner(path[:-1])
        elif err["type"] == "extra_forbidden" or loc[-1:] == ("[key]",):
            line, col = positions.at(path, key=True)
        else:
            line, col = positions.at(path)
        problems.append(Problem(code, message, filename, line, col))
    return problems


def _yaml_path(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """A pydantic `loc` without union tags and `[key]` markers: a path in the YAML."""
    out: list[str | int] = []
    for i, element in enumerate(loc):
        if element == "[key]":
            continue
        prev = loc[i - 1] if i else None
        tags = _ACTION_TAGS if i >= 2 and loc[i - 2] in ("on_enter", "on_exit", "actions") \
            else _STEP_TAGS if i >= 2 and loc[i - 2] == "steps" else set()
        if isinstance(prev, int) and element in tags:
            continue
        out.append(element)
    return tuple(out)


def _describe(err: Any, loc: tuple[Any, ...], path: tuple[str | int, ...],
              data: dict[str, Any]) -> tuple[str, str]:
    kind: str = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        name = str(path[-1])
        allowed = _fields_at(loc[:-1])
        where = _where(path[:-1], data)
        owner = next((t for t in sorted(_ACTION_TAGS) if t in allowed), None)
        if name in _ACTION_TAGS and owner is not None:
            return "JF206", (f"{where} does two things ({owner!r} and {name!r}): an action "
                             "does exactly one; write them as two actions")
        guess = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.6)
        hint = f" — did you mean {guess[0]!r}?" if guess else (
            f"; allowed here: {', '.join(sorted(allowed))}" if allowed else "")
        return "JF201", f"unknown field {name!r} in {where}{hint}"
    if kind == "missing":
        name = str(path[-1])
        return "JF202", f"{_where(path[:-1], data)} is missing {name!r}: add `{name}: ...`"
    if kind in ("action_kind", "step_kind"):
        return _kind_problem(kind, value, path, data)
    subject = _subject(path, data)
    if kind == "value_error" and path and path[-1] in _DURATION_FIELDS:
        reason = str(err["msg"]).removeprefix("Value error, ")
        return "JF205", f"{subject}: {reason}"
    family = kind.split("_")[0]
    if kind.endswith(("_type", "_parsing", "_from_float")) and family in _EXPECTED:
        return "JF203", f"{subject} should be {_EXPECTED[family]}, not {_kind(value)}"
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        noun = {dsl.SLUG: "journey id", dsl.STATE_NAME: "state name"}.get(pattern, "value")
        hint = _PATTERN_HINTS.get(pattern, f"it must match {pattern}")
        if loc[-1:] == ("[key]",) or path == ("journey",):
            return "JF204", f"{value!r} is not a valid {noun}: {hint}"
        return "JF204", f"{value!r} is not a valid {noun} ({subject}): {hint}"
    if kind == "literal_error":
        return "JF204", f"{subject} should be one of {ctx.get('expected')}, not {_kind(value)}"
    if kind in ("too_short", "string_too_short"):
        return "JF204", f"{subject} must not be empty"
    msg = str(err["msg"]).replace("Input should be", "should be")
    return "JF204", f"{subject} {msg}, not {_kind(value)}" if msg.startswith("should") \
        else f"{subject}: {msg}"


def _kind_problem(kind: str, value: Any, path: tuple[str | int, ...],
                  data: dict[str, Any]) -> tuple[str, str]:
    tags = ("send", "set", "emit", "task") if kind == "action_kind" else (
        "event", "identify", "advance", "advance_to", "expect")
    what = "an action" if kind == "action_kind" else "a test step"
    code = "JF206" if kind == "action_kind" else "JF207"
    keys = [str(k) for k in value] if isinstance(value, dict) else []
    present = [k for k in keys if k in tags]
    if len(present) > 1:
        found = f"it has {' and '.join(map(repr, present))}; write one per item"
    elif keys:
        guesses = [g for k in keys for g in difflib.get_close_matches(k, tags, n=1)]
        found = f"found {', '.join(map(repr, keys))}" + (
            f" — did you mean {guesses[0]!r}?" if guesses else "")
    else:
        found = f"found {_kind(value)}"
    return code, (f"{_where(path, data)}: {what} needs exactly one of {', '.join(tags)}; "
                  f"{found}")


def _fields_at(loc: tuple[Any, ...]) -> set[str]:
    """Field names allowed at `loc`, found by walking the model types along it."""
    tp: Any = Journey
    for element in loc:
        tp = _step_type(tp, element)
        if tp is None:
            return set()
    model = _model_in(tp)
    if model is None:
        return set()
    return {f.alias or name for name, f in model.model_fields.items()}


def _step_type(tp: Any, element: Any) -> Any:
    tp = _strip(tp)
    model = _model_in(tp) if not isinstance(element, int) else None
    if model is not None and isinstance(element, str):
        for name, f in model.model_fields.items():
            if element in (name, f.alias):
                return f.annotation
        return None
    origin = get_origin(tp)
    if origin is Union or (origin is not None and str(origin) == "types.UnionType"):
        for member in get_args(tp):
            tag = next((m for m in getattr(member, "__metadata__", ()) if hasattr(m, "tag")), None)
            if tag is not None and tag.tag == element:
                return member.__origin__
        inner = [m for m in get_args(tp) if m is not type(None)]
        return _step_type(inner[0], element) if len(inner) == 1 else None
    args = get_args(tp)
    if origin is list and isinstance(element, int):
        return args[0]
    if origin is dict:
        return args[1]
    return None


def _strip(tp: Any) -> Any:
    while hasattr(tp, "__metadata__"):
        tp = tp.__origin__
    return tp


def _model_in(tp: Any) -> type[BaseModel] | None:
    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    members = [_strip(m) for m in get_args(tp) if m is not type(None)]
    models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
    return models[0] if len(models) == 1 and len(members) == 1 else None


def _where(path: Sequence[str | int], data: dict[str, Any]) -> str:
    """A human name for the thing at `path`: "transition 2 of state 'active'"."""
    p = list(path)
    if not p:
        return "the journey"
    head, rest = p[0], p[1:]
    if head == "states" and rest:
        state = f"state {rest[0]!r}"
        more = rest[1:]
        if len(more) >= 2 and more[0] == "transitions" and isinstance(more[1], int):
            base = f"transition {more[1] + 1} of {state}"
            tail = more[2:]
            if len(tail) >= 2 and tail[0] == "split" and isinstance(tail[1], int):
                return _tail(f"split branch {tail[1] + 1} of {base}", tail[2:])
            if len(tail) >= 2 and tail[0] == "actions" and isinstance(tail[1], int):
                return _tail(f"action {tail[1] + 1} of {base}", tail[2:])
            return _tail(base, tail)
        if len(more) >= 2 and more[0] in ("on_enter", "on_exit") and isinstance(more[1], int):
            return _tail(f"action {more[1] + 1} of {more[0]} of {state}", more[2:])
        if len(more) >= 2 and more[0] == "checklist" and isinstance(more[1], int):
            return _tail(f"checklist item {more[1] + 1} of {state}", more[2:])
        return _tail(state, more)
    if head in ("exit", "migrations") and rest and isinstance(rest[0], int):
        noun = "exit rule" if head == "exit" else "migration"
        return _tail(f"{noun} {rest[0] + 1}", rest[1:])
    if head == "tests" and rest and isinstance(rest[0], int):
        test = _test_name(data, rest[0])
        more = rest[1:]
        if len(more) >= 2 and more[0] == "steps" and isinstance(more[1], int):
            return _tail(f"step {more[1] + 1} of {test}", more[2:])
        return _tail(test, more)
    return _tail(str(head), rest)


def _tail(base: str, rest: Sequence[str | int]) -> str:
    if not rest:
        return base
    dotted = "".join(f"[{r}]" if isinstance(r, int) else f".{r}" for r in rest).lstrip(".")
    return f"{dotted!s} of {base}" if base != "the journey" else dotted


def _test_name(data: dict[str, Any], index: int) -> str:
    tests = data.get("tests")
    if isinstance(tests, list) and index < len(tests) and isinstance(tests[index], dict):
        name = tests[index].get("name")
        if isinstance(name, str):
            return f"test {name!r}"
    return f"test {index + 1}"


def _subject(path: Sequence[str | int], data: dict[str, Any]) -> str:
    """"'to' in transition 1 of state 'a'" — the field and where it is."""
    if not path:
        return "the journey"
    *owner, last = path
    if isinstance(last, int):
        return f"item {last + 1} of {_subject(owner, data)}"
    if not owner:
        return f"{last!r}"
    if owner[0] == "states" and len(owner) == 1:
        return f"state {last!r}"
    return f"{last!r} in {_where(owner, data)}"


# --- dumping -------------------------------------------------------------------


class _Representer(RoundTripRepresenter):
    """Double-quotes text holding characters that some YAML readers take for
    line breaks or drop (NEL, LS, PS, BOM), so a dump always loads back equal."""


def _represent_str(representer: RoundTripRepresenter, value: str) -> Any:
    style = '"' if _AWKWARD.search(value) else None
    return representer.represent_scalar(_CORE + "str", value, style=style)


_AWKWARD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]")
_Representer.add_representer(str, _represent_str)


def dump_journey(journey: Journey) -> str:
    """YAML 1.2 text of a journey that loads back to an equal model.

    Defaults are left out so the text reads like a hand-written file; field
    order follows the models (`$schema`, `journey`, `version` first).
    """
    data = _plain(journey.model_dump(mode="python", by_alias=True, exclude_defaults=True))
    y = YAML(typ="rt", pure=True)
    y.Representer = _Representer
    y.version = None
    y.width = 4096  # no folding: long CEL lines stay on one line
    y.allow_unicode = True
    y.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value
