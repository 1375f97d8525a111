"""The names a journey's CEL sees beyond the four `cel.py` knows, and the
fields of every name whose fields are fixed.

`trigger` and `enrolment` (journey language v1.1) carry an enrolment's
context into every state; the static checks (`checks.py`) use the field
lists to refuse `enrolment.foo` at load instead of letting it fail as a
history row at run time, and the engine (`runtime/context.py`) puts the
names in scope.
"""

from __future__ import annotations

import re

from journeyflow.definition.cel import SCOPE_NAMES

CONTEXT_NAMES = frozenset({"trigger", "enrolment"})
JOURNEY_NAMES = SCOPE_NAMES | CONTEXT_NAMES

_EVENT_FIELDS = ("name", "type", "properties", "traits", "timestamp")
# The fields of names whose fields are fixed (`customer` holds any attribute).
FIELDS: dict[str, tuple[str, ...]] = {
    "event": _EVENT_FIELDS,
    "trigger": _EVENT_FIELDS,
    "state": ("name", "entered_at", "visits"),
    "enrolment": ("key", "entered_at", "vars"),
}

# CEL string literals (quoted, triple-quoted, with r/b prefixes): what they
# hold is text, not a name
_STRING = re.compile(
    r"""[rRbB]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')"""
)
_READ = re.compile(r"(?<![\w.])(event|trigger|state|enrolment)\s*\.\s*([A-Za-z_]\w*)")
# a comprehension's own variable (`xs.exists(state, ...)`) hides a scope name
_BOUND = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")


def field_reads(source: str) -> list[tuple[str, str]]:
    """The `name.field` selections of fixed-field names in `source`, in order."""
    code = _STRING.sub('""', source)
    bound = set(_BOUND.findall(code))
    return [(m.group(1), m.group(2)) for m in _READ.finditer(code) if m.group(1) not in bound]


def unknown_field(source: str) -> tuple[str, str] | None:
    """The first selection of a field that its name does not have, if any."""
    for root, name in field_reads(source):
        if name not in FIELDS[root]:
            return root, name
    return None
