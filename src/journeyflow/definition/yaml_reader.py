"""Safe YAML 1.2 text -> plain Python data, with every problem at file:line:col.

One job: turn the bytes of a journey file into dicts, lists, str, int, float,
bool and None, or into a list of problems. Journey files come from people (and
from the internet, pasted into a repo), so this trusts nothing: it reads YAML
1.2 only (`on:` stays a string), refuses tags (no object construction) and
anchors (no alias bombs), bounds size and nesting, and builds the data itself
from ruamel.yaml's node tree. The tree is kept as `Positions`, so that later
problems (pydantic's, the static checks') can point at a line too.

Error codes (stable; `docs/errors.md` explains each with an example):

    JF101  the file is larger than 1 MiB
    JF102  the file is not UTF-8
    JF103  YAML syntax error (or a control character YAML forbids)
    JF104  a line indented with a tab
    JF105  the file is empty
    JF107  a YAML tag (`!!python/object`, `!custom`); only `!!str` is allowed
    JF108  an anchor or alias (`&a`, `*a`): they can hide "billion laughs" bombs
    JF109  nesting deeper than 64 levels
    JF110  a duplicate key (the message names both lines)
    JF111  more than one YAML document in the file
    JF112  a `%YAML` directive other than 1.2
    JF113  a mapping key that is not a plain value (a list or mapping as key)
    JF114  more than 50,000 values (keys, items and scalars): each costs memory
           long before the file reaches 1 MiB

(JF100, a file that cannot be read, and JF106, a top level that is not a
mapping, are raised by `loader.py`.)
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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

from journeyflow.exceptions import Problem

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
# the largest bundled journey holds ~4,700; a 700 KB flow list of 240,000 items
# took 200 MB and 18 s to read before this limit
MAX_NODES = 50_000
CORE_TAG = "tag:yaml.org,2002:"
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


# --- reading bytes and YAML ----------------------------------------------------


def too_large(filename: str) -> Problem:
    return Problem(
        "JF101",
        f"the file is larger than {MAX_BYTES // 1024} KiB: a journey "
        "this big is almost certainly not hand-written; split it into several "
        "journeys",
        filename,
        1,
        1,
    )


def read_bounded(path: Path) -> bytes | None:
    """The file's bytes, or None when it holds more than MAX_BYTES. Reads at most
    MAX_BYTES + 1 whatever the file is: `/dev/zero` or a pipe that never ends has
    no size to check first. Opened without blocking, so a FIFO nobody writes to
    reads as empty instead of waiting for a writer for ever; OSError as open does."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        os.set_blocking(fd, True)  # only the open must not wait; reading a pipe may
        chunks: list[bytes] = []
        left = MAX_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    return None if left <= 0 else b"".join(chunks)


def decode_text(raw: bytes, filename: str, problems: list[Problem]) -> str | None:
    if len(raw) > MAX_BYTES:
        problems.append(too_large(filename))
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        problems.append(
            Problem(
                "JF102",
                f"byte 0x{raw[exc.start]:02x} is not UTF-8: save the file as UTF-8 "
                "(most editors: 'Save with encoding')",
                filename,
                line,
                col,
            )
        )
        return None


_SYNTAX_HINTS = {
    "mapping values are not allowed": "a value holds ': ' — put the value in quotes",
    "could not find expected ':'": "a key without ':' or a wrong indentation",
    "did not find expected key": "check the indentation of this line and the ones above",
    "did not find expected '-'": "a list item whose indentation differs from the others",
    "found undefined tag handle": "remove the `!` tag or quote the value",
    "while scanning a quoted scalar": "the quote that starts here is never closed",
}


def read_yaml(text: str, filename: str, problems: list[Problem]) -> Node | None:
    """Parse to a node tree, refusing what safe YAML for journeys must not hold.

    One pass over the parser's events checks each event before its node is
    built: an alias bomb is refused before anything could expand it, and a
    deep nesting before anything recurses into it.
    """
    too_deep = _flow_too_deep(text)
    if too_deep is not None:
        problems.append(_depth_problem(filename, *too_deep))
        return None
    tab_lines = [
        i
        for i, line in enumerate(source_lines(text), 1)
        if "\t" in line[: len(line) - len(line.lstrip(" \t"))]
    ]
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
    if tree.root is None or (
        isinstance(tree.root, ScalarNode)
        and tree.root.value == ""
        and tree.root.tag == CORE_TAG + "null"
    ):
        problems.append(
            Problem(
                "JF105",
                "the file is empty: a journey needs at least `journey:`, `version:`, "
                "`entry:`, `initial:` and `states:`",
                filename,
                1,
                1,
            )
        )
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
    return Problem(
        "JF109",
        f"nesting deeper than {MAX_DEPTH} levels: a journey never needs "
        "this; flatten the data (this limit stops nesting bombs)",
        filename,
        line,
        col,
    )


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
        self.nodes = 0

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
            self.problem(
                "JF108",
                f"anchors and aliases ({sign}{ev.anchor}) are not allowed "
                "in journeys: write the value out in full (aliases can hide "
                "exponential 'billion laughs' expansions)",
                line,
                col,
            )
        tag: str | None = getattr(ev, "tag", None) if not isinstance(ev, AliasEvent) else None
        if tag and tag != CORE_TAG + "str":
            shown = "!!" + tag[len(CORE_TAG) :] if tag.startswith(CORE_TAG) else tag
            self.problem(
                "JF107",
                f"the tag {shown} is not allowed: journeys are plain data; "
                "remove the tag (quote the value if it must stay text)",
                line,
                col,
            )
        if isinstance(ev, (ScalarEvent, CollectionStartEvent)):
            self.nodes += 1
            if self.nodes > MAX_NODES:
                self.problem(
                    "JF114",
                    f"more than {MAX_NODES:,} values (keys, list items, texts): a journey "
                    "this big is not hand-written; split it, or keep long lists in a "
                    "segment or plugin instead of the file",
                    line,
                    col,
                )
                return False
        if isinstance(ev, ScalarEvent):
            if ev.style in ("'", '"', "|", ">"):
                self.quoted.append((line, ev.end_mark.line + 1))
            node_tag = tag or self.resolver.resolve(ScalarNode, ev.value, ev.implicit)
            self._attach(ScalarNode(node_tag, ev.value, ev.start_mark, ev.end_mark, style=ev.style))
        elif isinstance(ev, CollectionStartEvent):
            if len(self.stack) >= MAX_DEPTH:
                self.problems.append(_depth_problem(self.filename, line, col))
                return False
            kind = MappingNode if isinstance(ev, MappingStartEvent) else SequenceNode
            node = kind(
                tag or self.resolver.resolve(kind, None, ev.implicit), [], ev.start_mark, None
            )
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
            self.problem(
                "JF111",
                "a second YAML document (`---`): one journey per file; "
                "move it to a file of its own",
                line,
                col,
            )
            return False
        version = getattr(ev, "version", None)
        if version is not None and tuple(version) != (1, 2):
            line = next((i for i, t in enumerate(self.lines, 1) if t.startswith("%YAML")), line)
            self.problem(
                "JF112",
                f"`%YAML {version[0]}.{version[1]}`: journeys are read as "
                "YAML 1.2 (where `on:` is a string); remove the directive",
                line,
                1,
            )
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
    return Problem(
        "JF104",
        f"line {first} is indented with a tab{more}: YAML indents with "
        "spaces only; replace each tab with spaces",
        filename,
        first,
        line_text.index("\t") + 1,
    )


def _syntax_problem(exc: YAMLError, text: str, filename: str) -> Problem:
    if isinstance(exc, ReaderError):
        before = source_lines(text[: exc.position])
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return Problem(
            "JF103",
            f"the character U+{ord(char):04X} is not allowed in YAML: "
            "remove it (control characters must be written as escapes inside "
            "double quotes)",
            filename,
            len(before),
            len(before[-1]) + 1,
        )
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
    return Problem(
        "JF103",
        f"YAML syntax error: {message}" + (f": {hint}" if hint else ""),
        filename,
        line,
        col,
    )


# --- nodes -> plain data -------------------------------------------------------


def construct(node: Node, filename: str, problems: list[Problem]) -> Any:
    """Plain dicts, lists, str, int, float, bool and None from a node tree.

    Dates and times stay text (as in JSON events): the models that need a
    datetime parse it, and an event's `timestamp` keeps the author's spelling.
    Recursion is bounded: `_Tree` refused anything nested deeper than MAX_DEPTH.
    """
    if isinstance(node, MappingNode):
        out: dict[Any, Any] = {}
        first_seen: dict[Any, Node] = {}
        for key_node, value_node in node.value:
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key_node, ScalarNode):
                problems.append(
                    Problem(
                        "JF113",
                        "a key must be a plain value, not a list or a mapping",
                        filename,
                        line,
                        col,
                    )
                )
                continue
            key = _scalar(key_node)
            if key in first_seen:
                first = first_seen[key].start_mark.line + 1
                problems.append(
                    Problem(
                        "JF110",
                        f"duplicate key {key!r} on line {line} (first on line {first}): "
                        "YAML would silently keep only the last one; merge them or rename one",
                        filename,
                        line,
                        col,
                    )
                )
                continue
            first_seen[key] = key_node
            out[key] = construct(value_node, filename, problems)
        return out
    if isinstance(node, SequenceNode):
        return [construct(item, filename, problems) for item in node.value]
    return _scalar(node)


_INT_BASES = {"0b": 2, "0o": 8, "0x": 16}


def _scalar(node: Node) -> Any:
    """The YAML 1.2 core-schema value of a scalar; a number that does not
    parse stays text (ruamel's resolver is more lenient than int())."""
    tag, value = node.tag, node.value
    if tag == CORE_TAG + "null":
        return None
    if tag == CORE_TAG + "bool":
        return value.lower() == "true"
    try:
        if tag == CORE_TAG + "int":
            digits = value.replace("_", "")
            sign = -1 if digits.startswith("-") else 1
            digits = digits.lstrip("+-")
            base = _INT_BASES.get(digits[:2].lower(), 10)
            return sign * int(digits[2:] if base != 10 else digits, base)
        if tag == CORE_TAG + "float":
            lowered = value.replace("_", "").lower()
            if lowered.endswith((".inf", ".nan")):
                return float(lowered.replace(".", ""))
            return float(lowered)
    except ValueError:
        return value
    return value


def kind_of(value: Any) -> str:
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
