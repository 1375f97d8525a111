"""How big a journey may be: the bounds that keep a journey that validates from
crashing, hanging or filling memory when it runs.

One job: measure a CEL expression *before* the CEL library sees it. The
library (the Rust `cel` crate) parses and evaluates by recursion on the
machine stack: a 40 KB `has(customer.a.a…)` or `"a"+"a"+…` kills the process
with SIGSEGV while compiling, and a 40 KB `1+1+…` compiles and then kills
the process evaluating (measured with 0.10.0 on an 8 MiB stack: operator
chains of 5,000 survive, 20,000 do not; on a thread with a 512 KiB stack 500
survive, 1,000 do not; brackets beyond ~100 levels are a clean parse error).
No Python `except` catches a segfault, so the bounds are checked here, on
tokens, in plain Python.

The limits are far below what the library survives, far above what a person
writes (every bundled journey fits with room to spare):

    MAX_EXPRESSION_CHARS   4096   an expression's length
    MAX_EXPRESSION_DEPTH     64   operators and `.` selections, counted along the
                                  deepest bracket path: an upper bound on the
                                  depth of the tree the library recurses over
    MAX_LITERAL_ITEMS       256   items of one list or map literal
    MAX_COMPREHENSION_DEPTH   2   map/filter/all/exists/exists_one inside another:
                                  three nested over 200 items is 8 million steps
    MAX_DURATION      3650 days   the longest duration (10 years): any event time
                                  before the year 9989 plus it still fits a datetime
    MAX_NAME_CHARS          100   a journey id or state name (the SQL columns' width)

One more is checked at run time, since the lists come with the data:
MAX_COMPREHENSION_COST (see `Shape.cost`; cel.py refuses to start beyond it).

Each refusal names the limit and how to get under it; `checks.py` reports it
at the expression's line. Codes raised here:

    JF404  an expression longer than MAX_EXPRESSION_CHARS
    JF405  an expression nested deeper than MAX_EXPRESSION_DEPTH
    JF406  a list or map literal of more than MAX_LITERAL_ITEMS
    JF407  comprehensions nested deeper than MAX_COMPREHENSION_DEPTH

(`checks.py` raises JF208 for a duration and JF209 for a name beyond these;
`cel_literals.py`, on these tokens, JF408 and JF409 for a literal duration or
timestamp that CEL cannot read.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from journeyflow.exceptions import ExpressionError

MAX_EXPRESSION_CHARS = 4096
MAX_EXPRESSION_DEPTH = 64
MAX_LITERAL_ITEMS = 256
MAX_COMPREHENSION_DEPTH = 2
MAX_DURATION = timedelta(days=3650)
MAX_NAME_CHARS = 100
# at run time (cel.py): an expression with comprehensions is not started when
# the lists it may walk would make it take more than this many steps (measured:
# `xs.map(x, x + 1)` over 1,000 items, a million steps, takes 0.15 s; over
# 16,000 items, 38 s, and nothing can interrupt it once started)
MAX_COMPREHENSION_COST = 1_000_000

COMPREHENSIONS = frozenset({"map", "filter", "all", "exists", "exists_one"})

# one token: a string (a raw one has no escapes: `r'\'` ends at its second
# quote, and reading it otherwise would hide what follows from the count), a
# name, a number, a two-character operator, or any other single character
_TOKEN = re.compile(
    r"""
    \s+
  | (?P<raw>[bB]?[rR][bB]?(?:'''.*?'''|\"\"\".*?\"\"\"|'[^'\n]*'|"[^"\n]*"))
  | (?P<str>[bB]?(?:'''(?:\\.|.)*?'''|\"\"\"(?:\\.|.)*?\"\"\"
        |'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<name>[A-Za-z_]\w*)
  | (?P<num>0[xX][0-9a-fA-F]+[uU]?|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[uU]?|\.\d+(?:[eE][+-]?\d+)?)
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%<>!?:.])
  | (?P<open>[(\[{])
  | (?P<close>[)\]}])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokens(source: str) -> Iterator[tuple[str, str]]:
    """The tokens of `source` as (kind, text), without whitespace: kinds are
    `raw` and `str` (string literals), `name`, `num`, `op`, `open`, `close`
    and `other`. One regex pass; never recurses (other checks build on it)."""
    for m in _TOKEN.finditer(source):
        if m.lastgroup is not None:
            yield m.lastgroup, m.group()


class ExpressionLimitError(ExpressionError):
    """An expression beyond one of the limits above; `code` is its JF code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _Group:
    opener: str
    comprehension: bool
    operators: int = 0  # operators and selections in the current item
    deepest_inner: int = 0  # the largest depth of a group inside the current item
    deepest_item: int = 0  # the deepest of the items before (siblings, not nested)
    items: int = 0  # commas, for literals
    any_item: bool = False


@dataclass(frozen=True)
class Shape:
    """What evaluating an expression may cost: how deep its comprehensions
    nest, and whether one builds a list (`map`, `filter`: the library copies
    the list it builds at every item, so they cost the square of a list's length)."""

    comprehensions: int = 0
    builds_lists: bool = False
    literal_items: int = 0  # the longest list or map literal of the expression

    def cost(self, items: int) -> int:
        """About how many steps evaluating takes over collections of `items`."""
        if not self.comprehensions:
            return 0
        return int(items**self.comprehensions) * (items if self.builds_lists else 1)


def check_expression(source: str) -> Shape:
    """Raise ExpressionLimitError if `source` is beyond a limit, else its Shape;
    cheap (one pass over the tokens), and safe on any text: it never recurses."""
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionLimitError(
            "JF404",
            f"the expression is {len(source)} characters long, more than "
            f"{MAX_EXPRESSION_CHARS}: split the condition into several transitions, "
            "or compute the value upstream and send it as a trait or property",
        )
    stack = [_Group("", comprehension=False)]
    previous = ("", "")  # the last two meaningful tokens (for `.map(`)
    deepest, builds_lists, literal_items = 0, False, 0
    for m in _TOKEN.finditer(source):
        kind = m.lastgroup
        if kind is None:  # whitespace
            continue
        text = m.group()
        top = stack[-1]
        if kind != "close":
            top.any_item = True
        if kind == "op":
            top.operators += 1
            _check_depth(stack)
        elif kind == "other" and text == ",":  # the items of a call or literal are siblings
            top.items += 1
            top.deepest_item = _depth(top)
            top.operators = top.deepest_inner = 0
        elif kind == "open":
            comprehension = text == "(" and previous[0] == "." and previous[1] in COMPREHENSIONS
            stack.append(_Group(text, comprehension))
            _check_depth(stack)
            deepest = max(deepest, _check_comprehensions(stack))
            builds_lists = builds_lists or (comprehension and previous[1] in ("map", "filter"))
        elif kind == "close" and len(stack) > 1:
            inner = stack.pop()
            literal_items = max(literal_items, _check_literal(inner))
            parent = stack[-1]
            parent.deepest_inner = max(parent.deepest_inner, _depth(inner) + 1)
            _check_depth(stack)
        previous = (previous[1], text) if kind != "close" else ("", text)
    return Shape(deepest, builds_lists, literal_items)


def _depth(group: _Group) -> int:
    return max(group.deepest_item, group.operators + group.deepest_inner)


def _check_depth(stack: list[_Group]) -> None:
    # the path from the top through every open bracket to here
    depth = sum(g.operators for g in stack) + len(stack) - 1 + stack[-1].deepest_inner
    if depth > MAX_EXPRESSION_DEPTH or _depth(stack[-1]) > MAX_EXPRESSION_DEPTH:
        raise ExpressionLimitError(
            "JF405",
            f"the expression nests more than {MAX_EXPRESSION_DEPTH} levels deep "
            "(operators, `.` selections and brackets, counted along one path): "
            "split it into several conditions, or keep nested data shallower",
        )


def _check_comprehensions(stack: list[_Group]) -> int:
    comprehensions = sum(g.comprehension for g in stack)
    if comprehensions > MAX_COMPREHENSION_DEPTH:
        raise ExpressionLimitError(
            "JF407",
            f"{comprehensions} comprehensions (map, filter, all, exists, exists_one) "
            f"inside one another, more than {MAX_COMPREHENSION_DEPTH}: each level "
            "multiplies the work by the length of a list; flatten the data upstream "
            "or test fewer levels",
        )
    return comprehensions


def _check_literal(group: _Group) -> int:
    if group.opener not in ("[", "{"):
        return 0
    items = group.items + 1 if group.any_item else 0
    if items > MAX_LITERAL_ITEMS:
        kind = "list" if group.opener == "[" else "map"
        raise ExpressionLimitError(
            "JF406",
            f"a {kind} literal of {items} items, more than {MAX_LITERAL_ITEMS}: "
            "keep long lists out of expressions (a segment, or a trait computed "
            "upstream, holds membership better)",
        )
    return items
