"""Journeys for people: diagrams (`graph.py`) and the customer-path table (`table.py`).

The business signs off a journey as a table and a diagram; both are generated
from the same `dsl.Journey` the engine runs, so the document *is* the
automation.
The few phrasings both share (how a trigger or a guard reads) live here so a
diagram and a table never describe the same transition differently.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from journeyflow.definition import dsl

if TYPE_CHECKING:
    from journeyflow.definition.dsl import Transition

_SPACE = re.compile(r"\s+")


def one_line(text: str) -> str:
    """Collapse runs of whitespace (newlines included) to single spaces."""
    return _SPACE.sub(" ", text).strip()


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    flat = one_line(text)
    if limit <= 0 or len(flat) <= limit:
        return flat
    return flat[: max(limit - 1, 0)].rstrip() + "…"


def trigger_text(transition: Transition) -> str:
    """What fires a transition, in the journey author's own words.

    `order_completed`, `after 120d`, `at month_end(now)` or `split`; durations
    and CEL are shown as written, since those are what authors search for.
    """
    if transition.on is not None:
        return transition.on
    if transition.after is not None:
        return f"after {transition.after.strip()}"
    if transition.at is not None:
        return f"at {one_line(transition.at)}"
    if transition.split is not None:
        return "split"
    return "(no trigger)"


def guard_text(transition: Transition, limit: int = 0) -> str:
    """The guard as `when ...` (shortened to `limit` characters when > 0), or ''."""
    if transition.when is None:
        return ""
    return "when " + (shorten(transition.when, limit) if limit else one_line(transition.when))


def action_text(action: Any, owner: str | None = None, limit: int = 0) -> str:
    """An action in words: `send email 'offer-120'`, `task for sales: Call`,
    `set last_offer`, `remember cart_id, total` (enrolment variables),
    `emit became_active`; with its `when:` as `only when ...` (shortened to
    `limit` characters when > 0). `owner`: who gets a task naming nobody."""
    if isinstance(action, dsl.SendAction):
        text = f"send {action.send}" + (f" '{action.template}'" if action.template else "")
    elif isinstance(action, dsl.SetAction):
        text = "set " + ", ".join(action.set)
    elif isinstance(action, dsl.VarsAction):
        text = "remember " + ", ".join(action.vars)
    elif isinstance(action, dsl.EmitAction):
        text = f"emit {action.emit}"
    elif isinstance(action, dsl.TaskAction):
        who = action.task.owner or owner
        text = f"task for {who}" if who else "task"
        text += f": {one_line(action.task.title)}"
        if action.task.due:
            text += f" (within {action.task.due})"
    else:
        return one_line(str(action))  # a kind added to dsl.py before it gets its words
    when = getattr(action, "when", None)
    if when:
        text += " only when " + (shorten(when, limit) if limit else one_line(when))
    return text
