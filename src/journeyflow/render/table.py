"""The "customer path" table of a journey, generated from its file.

A business reads its journey as a table: one row per step, with what we do
there, who does it, how it is measured, what it needs, and where the customer
goes next. Generating the table from the same file the engine runs keeps the
document and the automation from drifting apart. Rows follow the customer:
breadth-first from the initial state, ways out in file order, so a reader
meets the steps roughly in the order a customer does; states no path reaches
come last.

Formats: Markdown (for repositories and wikis), CSV (for spreadsheets; via
the csv module, so commas, quotes and newlines in cells survive) and a
standalone HTML page (every text escaped). Cells are plain words; guards and
durations are shown as the author wrote them.
"""

from __future__ import annotations

import csv
import html
import io
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, fields

from journeyflow.definition.dsl import (
    EmitAction,
    Journey,
    SendAction,
    SetAction,
    State,
    TaskAction,
    Transition,
    VarsAction,
)
from journeyflow.render import action_text, guard_text, one_line, trigger_text

FORMATS = ("md", "csv", "html")


@dataclass(frozen=True)
class PathRow:
    """One step of the customer path: a state, in the business's words."""

    stage: str
    state: str
    description: str
    what_we_do: tuple[str, ...]
    owner: str
    kpis: tuple[str, ...]
    resources: tuple[str, ...]
    touchpoints: tuple[str, ...]
    questions: tuple[str, ...]
    pain_points: tuple[str, ...]
    ways_out: tuple[str, ...]

    def cells(self) -> tuple[str | tuple[str, ...], ...]:
        """The row's values in `COLUMNS` order; lists stay lists for each format to join."""
        return tuple(getattr(self, f.name) for f in fields(self))


COLUMNS: tuple[str, ...] = (
    "Stage",
    "State",
    "Description",
    "What we do",
    "Owner",
    "KPIs",
    "Resources",
    "Touchpoints",
    "Questions",
    "Pain points",
    "Ways out",
)


# --- words -----------------------------------------------------------------------


def describe_action(
    action: SendAction | SetAction | VarsAction | EmitAction | TaskAction,
    owner: str | None = None,
) -> str:
    """An action as a person would say it: `send email 'offer-120'`,
    `task for sales: Call the customer`, `set last_offer`, `remember cart_id`,
    `emit became_active`, each followed by its condition (`only when ...`).

    `owner` is the state's owner, who gets a task that names nobody.
    """
    return action_text(action, owner)


def describe_transition(transition: Transition, owner: str | None = None) -> str:
    """A way out in words: `on order_completed → active`, `after 120d → inactivating`,
    `split: 50% → offer_a, 50% → offer_b`, with `when ...` and `then ...` actions."""
    trigger = trigger_text(transition)
    if transition.on is not None:
        trigger = f"on {trigger}"
    guard = guard_text(transition)
    if guard:
        trigger += f" {guard}"
    if transition.split is not None:
        text = "split: " + ", ".join(f"{b.weight}% → {b.to}" for b in transition.split)
        if guard:
            text += f" ({guard})"
    elif transition.internal or transition.to is None:
        text = f"{trigger} → stay (internal)" if transition.internal else f"{trigger} → (no target)"
    else:
        text = f"{trigger} → {transition.to}"
    if transition.actions:
        text += ", then " + "; ".join(describe_action(a, owner) for a in transition.actions)
    return text


def _what_we_do(state: State) -> tuple[str, ...]:
    done = [describe_action(a, state.owner) for a in state.on_enter]
    done += [f"on leaving: {describe_action(a, state.owner)}" for a in state.on_exit]
    return tuple(done)


def _ways_out(state: State) -> tuple[str, ...]:
    ways = [describe_transition(t, state.owner) for t in state.transitions]
    if state.final:
        ways.append("end of the journey")
    return tuple(ways)


def entry_text(journey: Journey) -> str:
    """How a customer enters, in words: `on engaged, or on entering segment rfm:lost`."""
    ways = []
    if journey.entry.on:
        ways.append("on " + ", ".join(journey.entry.on))
    if journey.entry.segment:
        ways.append(f"on entering segment {journey.entry.segment}")
    text = " or ".join(ways)
    if journey.entry.when:
        text += f" when {one_line(journey.entry.when)}"
    return f"{text} → {journey.initial}"


def exit_rules(journey: Journey) -> list[str]:
    """The journey's exit rules in words; they apply in every state."""
    rules = []
    for rule in journey.exit:
        text = "on " + ", ".join(rule.on)
        if rule.when:
            text += f" when {one_line(rule.when)}"
        text += " → goal reached (counts as a conversion)" if rule.goal else " → leaves the journey"
        rules.append(text)
    return rules


# --- rows --------------------------------------------------------------------------


def state_order(journey: Journey) -> list[str]:
    """States breadth-first from `initial`, following ways out in file order;
    states no path reaches (or not defined) follow in file order."""
    order: list[str] = []
    queue = deque([journey.initial])
    while queue:
        name = queue.popleft()
        if name in order or name not in journey.states:
            continue
        order.append(name)
        for transition in journey.states[name].transitions:
            queue.extend(transition.targets)
    order += [name for name in journey.states if name not in order]
    return order


def customer_path(journey: Journey) -> list[PathRow]:
    """The table's rows, one per state, in `state_order`."""
    rows = []
    for name in state_order(journey):
        state = journey.states[name]
        rows.append(
            PathRow(
                stage=state.stage or "",
                state=name,
                description=(state.description or "").strip(),
                what_we_do=_what_we_do(state),
                owner=state.owner or "",
                kpis=tuple(state.kpis),
                resources=tuple(state.resources),
                touchpoints=tuple(state.touchpoints),
                questions=tuple(state.questions),
                pain_points=tuple(state.pain_points),
                ways_out=_ways_out(state),
            )
        )
    return rows


def _heading(journey: Journey) -> str:
    return f"{journey.title or journey.journey} ({journey.journey} v{journey.version})"


# --- Markdown ----------------------------------------------------------------------


def _md_text(text: str) -> str:
    """Escape for a GitHub-flavoured Markdown table cell: `|` ends a cell, a
    newline ends the row, `<` could open an HTML tag (`>` alone cannot)."""
    escaped = text.replace("\\", "\\\\").replace("|", "\\|")
    escaped = escaped.replace("<", "&lt;")
    return "<br>".join(line.strip() for line in escaped.splitlines())


def _md_cell(value: str | Sequence[str]) -> str:
    if isinstance(value, str):
        return _md_text(value)
    return "<br>".join(_md_text(v) for v in value)


def render_markdown(journey: Journey) -> str:
    """The customer path as a Markdown page: a heading, the table, the exit rules."""
    lines = [f"# {_md_text(one_line(_heading(journey)))}", ""]
    if journey.description:
        lines += [_md_text(one_line(journey.description)), ""]
    lines += [f"**Starts:** {_md_text(entry_text(journey))}", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join("---" for _ in COLUMNS) + "|")
    for row in customer_path(journey):
        lines.append("| " + " | ".join(_md_cell(c) for c in row.cells()) + " |")
    rules = exit_rules(journey)
    if rules:
        lines += ["", "**From any state:**", ""]
        lines += [f"- {_md_text(rule)}" for rule in rules]
    return "\n".join(lines) + "\n"


# --- CSV ---------------------------------------------------------------------------


def render_csv(journey: Journey) -> str:
    """The customer path as CSV (RFC 4180, CRLF): a header row, then one row per
    state; list cells hold one item per line, which spreadsheets show as is."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in customer_path(journey):
        writer.writerow(c if isinstance(c, str) else "\n".join(c) for c in row.cells())
    return buffer.getvalue()


# --- HTML --------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
h1 { font-size: 1.4rem; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.4rem 0.5rem; vertical-align: top; text-align: left; }
th { background: #f3f3f3; position: sticky; top: 0; }
tbody tr:nth-child(even) { background: #fafafa; }
td.state { font-weight: 600; white-space: nowrap; }
ul { margin: 0; padding-left: 1.1rem; }
footer { margin-top: 1.5rem; font-size: 0.8rem; color: #666; }
""".strip()


def _html_cell(value: str | Sequence[str]) -> str:
    if isinstance(value, str):
        return "<br>".join(html.escape(line) for line in value.splitlines())
    if not value:
        return ""
    return "<ul>" + "".join(f"<li>{html.escape(v)}</li>" for v in value) + "</ul>"


def render_html(journey: Journey) -> str:
    """The customer path as a standalone HTML page (no scripts, no external files)."""
    title = html.escape(_heading(journey))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{title}</h1>",
    ]
    if journey.description:
        out.append(f"<p>{html.escape(one_line(journey.description))}</p>")
    out.append(f"<p><strong>Starts:</strong> {html.escape(entry_text(journey))}</p>")
    out.append("<table>")
    out.append(
        "<thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS) + "</tr></thead>"
    )
    out.append("<tbody>")
    for row in customer_path(journey):
        cells = [_html_cell(c) for c in row.cells()]
        tds = "".join(
            f'<td class="state">{c}</td>' if name == "State" else f"<td>{c}</td>"
            for name, c in zip(COLUMNS, cells, strict=True)
        )
        out.append(f"<tr>{tds}</tr>")
    out += ["</tbody>", "</table>"]
    rules = exit_rules(journey)
    if rules:
        out.append("<h2>From any state</h2>")
        out.append("<ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in rules) + "</ul>")
    out.append(
        f"<footer>Generated by <code>journeyflow table</code> from "
        f"{html.escape(journey.journey)} version {journey.version}.</footer>"
    )
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def render_table(journey: Journey, fmt: str = "md") -> str:
    """The customer path in `fmt`: `md`, `csv` or `html`."""
    renderers = {"md": render_markdown, "csv": render_csv, "html": render_html}
    if fmt not in renderers:
        raise ValueError(f"unknown table format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return renderers[fmt](journey)
