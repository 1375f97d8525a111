"""Journey diagrams: Mermaid `stateDiagram-v2` and Graphviz DOT (and pictures via `dot`).

Both formats are drawn from one `JourneyGraph` built by `build_graph`, so the
two never disagree and tests can compare what a parser read back with what
was meant. States are grouped by stage, the initial state hangs off a start
dot, final states are marked, every edge says what fires it (and its guard),
and the journey's exit rules hang off an "any state" node, because they apply
in every state.

Labels are free text from the journey (CEL guards, stage names with colons,
quotes, `#`, `;`); each format gets its own escaping (`_mermaid_text`,
`_dot_string`), and ids are never built from free text without sanitising.
Output depends only on the journey, so generated diagrams can be committed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from journeyflow.definition.dsl import Journey, Transition, VarsAction
from journeyflow.exceptions import JourneyflowError
from journeyflow.render import action_text, guard_text, one_line, shorten, trigger_text

GUARD_LIMIT = 40
"""Guards longer than this are cut with an ellipsis: a diagram is an overview."""

TEXT_FORMATS = ("mermaid", "dot")
IMAGE_FORMATS = ("svg", "png")

NodeKind = Literal["state", "final", "undefined", "start", "any", "exit", "goal"]


class GraphvizError(JourneyflowError):
    """Raised when a picture (svg/png) is asked for and Graphviz's `dot` is
    missing or fails; the text formats never need it."""


@dataclass(frozen=True)
class Node:
    """A box in the diagram: a state of the journey, or one of the pseudo nodes."""

    id: str  # safe in both Mermaid and DOT: [A-Za-z0-9_]
    label: str  # plain text, unescaped
    kind: NodeKind
    stage: str | None = None


@dataclass(frozen=True)
class Edge:
    """An arrow: `label` is the trigger (and the transition's actions after a
    `/`), `guard` the `when ...` text (or '')."""

    source: str  # node id
    target: str  # node id
    label: str = ""
    guard: str = ""
    dashed: bool = False

    @property
    def text(self) -> str:
        """The label on one line, as Mermaid shows it: `trigger [when ...]`."""
        return f"{self.label} [{self.guard}]" if self.guard else self.label


@dataclass(frozen=True)
class JourneyGraph:
    """What a diagram of a journey shows, independent of the drawing format."""

    journey: str
    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    stages: tuple[tuple[str, str, tuple[str, ...]], ...] = field(default=())
    """(group id, stage name, ids of its state nodes), in funnel order."""

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)


START, END, ANY, EXIT, GOAL = "jf_start", "jf_end", "jf_any", "jf_exit", "jf_goal"
"""Pseudo node ids: state ids all start with `s_`, stage groups with `g_`, so
these can never collide with a journey's names."""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


class _Ids:
    """Sanitised, unique ids: `a-b` and `a_b` are both legal state names."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._given: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        if name not in self._given:
            base = f"{self._prefix}{_safe(name)}"
            candidate, n = base, 1
            while candidate in self._given.values():
                n += 1
                candidate = f"{base}_{n}"
            self._given[name] = candidate
        return self._given[name]

    def name_of(self, given: str) -> str:
        return next(name for name, i in self._given.items() if i == given)


def _effects(transition: Transition) -> str:
    """The transition's actions that decide something, as UML writes a
    transition's effect: ` / a; b`. Those are the conditional ones (`only when
    ...`, shortened like guards) and `vars` (what the enrolment remembers for
    later states); the table lists every action, the diagram keeps to the flow."""
    shown = [
        action_text(a, limit=GUARD_LIMIT)
        for a in transition.actions
        if a.when is not None or isinstance(a, VarsAction)
    ]
    return " / " + "; ".join(shown) if shown else ""


def _transition_edges(source: str, transition: Transition, state_id: _Ids) -> Iterable[Edge]:
    guard = guard_text(transition, GUARD_LIMIT)
    effects = _effects(transition)
    if transition.split is not None:
        for branch in transition.split:
            yield Edge(source, state_id(branch.to), f"split {branch.weight}%{effects}", guard)
        return
    label = trigger_text(transition)
    if transition.internal:
        label += " (internal)"
    label += effects
    if transition.to is not None:
        yield Edge(source, state_id(transition.to), label, guard)
    elif transition.internal:
        yield Edge(source, source, label, guard)


def build_graph(journey: Journey) -> JourneyGraph:
    """The diagram of `journey`: nodes, labelled edges and stage groups."""
    state_id = _Ids("s_")
    for name in journey.states:  # file order decides who keeps the plain id
        state_id(name)

    nodes: list[Node] = [Node(START, "start", "start")]
    for name, state in journey.states.items():
        kind: NodeKind = "final" if state.final else "state"
        nodes.append(Node(state_id(name), name, kind, state.stage))

    edges: list[Edge] = [Edge(START, state_id(journey.initial))]
    for name, state in journey.states.items():
        for transition in state.transitions:
            edges.extend(_transition_edges(state_id(name), transition, state_id))
    edges.extend(Edge(state_id(n), END) for n, s in journey.states.items() if s.final)

    # A target that is not a state (the static checks refuse such a file, but
    # a diagram of a broken journey helps find the mistake) gets its own box.
    known = {n.id for n in nodes}
    for edge in edges:
        if edge.target not in known and edge.target != END:
            name = state_id.name_of(edge.target)
            nodes.append(Node(edge.target, f"{name} (undefined)", "undefined"))
            known.add(edge.target)

    if journey.exit:
        nodes.append(Node(ANY, "any state", "any"))
        kinds = {rule.goal for rule in journey.exit}
        if False in kinds:
            nodes.append(Node(EXIT, "exit", "exit"))
        if True in kinds:
            nodes.append(Node(GOAL, "goal ✓", "goal"))
        for rule in journey.exit:
            guard = f"when {shorten(rule.when, GUARD_LIMIT)}" if rule.when else ""
            target = GOAL if rule.goal else EXIT
            edges.append(Edge(ANY, target, ", ".join(rule.on), guard, dashed=True))
        edges.extend(Edge(t, END) for t in (EXIT, GOAL) if any(n.id == t for n in nodes))

    return JourneyGraph(
        journey=journey.journey,
        title=f"{journey.title or journey.journey} ({journey.journey} v{journey.version})",
        nodes=tuple(nodes),
        edges=tuple(edges),
        stages=_stage_groups(journey, state_id),
    )


def _stage_groups(journey: Journey, state_id: _Ids) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """Stages in funnel order (`stages:` first, then any other in file order),
    each with its states in file order; stages without states are left out."""
    order = list(journey.stages)
    order += [s.stage for s in journey.states.values() if s.stage and s.stage not in order]
    group_id = _Ids("g_")
    groups = []
    for stage in dict.fromkeys(order):
        members = tuple(state_id(n) for n, s in journey.states.items() if s.stage == stage)
        if members:
            groups.append((group_id(stage), stage, members))
    return tuple(groups)


# --- Mermaid -------------------------------------------------------------------

# Mermaid's grammar ends a statement at `;` and reads `#name;` as an entity, so
# those and the quote that closes a label are written as entity codes (which
# mermaid turns back into the characters when it draws). `<`/`>` would be
# taken as HTML. Newlines end a statement, so text is put on one line first.
_MERMAID_ESCAPES = {"#": "#35;", ";": "#59;", '"': "#quot;", "<": "#lt;", ">": "#gt;"}
_MERMAID_SPECIAL = re.compile('[#;"<>]')


def _mermaid_text(text: str) -> str:
    return _MERMAID_SPECIAL.sub(lambda m: _MERMAID_ESCAPES[m.group()], one_line(text))


def _mermaid_node(node: Node) -> str:
    return f'state "{_mermaid_text(node.label)}" as {node.id}'


def render_mermaid(journey: Journey) -> str:
    """A Mermaid `stateDiagram-v2` of the journey (GitHub and GitLab draw these)."""
    return mermaid_from_graph(build_graph(journey))


def mermaid_from_graph(graph: JourneyGraph) -> str:
    """Mermaid text for an already built graph."""
    # Front matter is YAML; a JSON string is a valid YAML scalar, whatever the title holds.
    lines = [
        "---",
        f"title: {json.dumps(one_line(graph.title), ensure_ascii=False)}",
        "---",
        "stateDiagram-v2",
        "  direction LR",
        "  %% generated by `journeyflow graph`; edit the journey, not this diagram",
        "  classDef final stroke-width:3px",
        "  classDef exit fill:#eeeeee,stroke:#777777",
        "  classDef goal fill:#d7f5dd,stroke:#2e7d32",
        "  classDef undefined fill:#fde2e2,stroke:#c62828",
    ]
    grouped = {member for _, _, members in graph.stages for member in members}
    for group, stage, members in graph.stages:
        lines.append(f'  state "{_mermaid_text(stage)}" as {group} {{')
        lines.extend(f"    {_mermaid_node(graph.node(m))}" for m in members)
        lines.append("  }")
    for node in graph.nodes:
        if node.kind != "start" and node.id not in grouped:
            lines.append(f"  {_mermaid_node(node)}")
    for edge in graph.edges:
        source = "[*]" if edge.source == START else edge.source
        target = "[*]" if edge.target == END else edge.target
        label = f" : {_mermaid_text(edge.text)}" if edge.text else ""
        lines.append(f"  {source} --> {target}{label}")
    for kind in ("final", "exit", "goal", "undefined"):
        ids = [n.id for n in graph.nodes if n.kind == kind]
        if ids:
            lines.append(f"  class {','.join(ids)} {kind}")
    return "\n".join(lines) + "\n"


# --- Graphviz DOT --------------------------------------------------------------


def _dot_string(text: str) -> str:
    """A quoted DOT string. Backslashes are doubled because Graphviz reads
    `\\n`, `\\l`, `\\N` in labels as escapes; a newline becomes `\\n`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r\n", "\n").replace("\n", "\\n") + '"'


_DOT_NODE_ATTRS: dict[NodeKind, str] = {
    "state": "",
    "final": ", shape=doublecircle",
    "undefined": ', color="#c62828", style="rounded,dashed"',
    "start": ', shape=point, width=0.2, label=""',
    "any": ", shape=plaintext",
    "exit": ', shape=octagon, style=filled, fillcolor="#eeeeee"',
    "goal": ', shape=doubleoctagon, style=filled, fillcolor="#d7f5dd"',
}


def _dot_node(node: Node) -> str:
    attrs = f"label={_dot_string(node.label)}" + _DOT_NODE_ATTRS[node.kind]
    if node.kind == "start":
        attrs = _DOT_NODE_ATTRS["start"].lstrip(", ")
    return f"{_dot_string(node.id)} [{attrs}];"


def render_dot(journey: Journey) -> str:
    """A Graphviz DOT digraph of the journey, stages as clusters."""
    return dot_from_graph(build_graph(journey))


def dot_from_graph(graph: JourneyGraph) -> str:
    """DOT text for an already built graph."""
    lines = [
        f"digraph {_dot_string(graph.journey)} {{",
        f"  graph [rankdir=LR, labelloc=t, fontname=Helvetica, label={_dot_string(graph.title)}];",
        "  node [shape=box, style=rounded, fontname=Helvetica];",
        "  edge [fontname=Helvetica, fontsize=10];",
    ]
    # The start dot first: Graphviz places nodes in the order it meets them.
    lines.append(f"  {_dot_node(graph.node(START))}")
    grouped = {member for _, _, members in graph.stages for member in members}
    for group, stage, members in graph.stages:
        lines.append(f"  subgraph {_dot_string('cluster_' + group[2:])} {{")
        lines.append(f'    label={_dot_string(stage)}; style="rounded,dashed"; color=gray60;')
        lines.extend(f"    {_dot_node(graph.node(m))}" for m in members)
        lines.append("  }")
    for node in graph.nodes:
        if node.id not in grouped and node.kind != "start":
            lines.append(f"  {_dot_node(node)}")
    for edge in graph.edges:
        if edge.target == END:
            continue  # DOT marks final states by their shape instead
        attrs = []
        if edge.label:
            text = edge.label + (f"\n[{edge.guard}]" if edge.guard else "")
            attrs.append(f"label={_dot_string(text)}")
        if edge.dashed:
            attrs.append("style=dashed")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {_dot_string(edge.source)} -> {_dot_string(edge.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- pictures ------------------------------------------------------------------


def render_image(dot_text: str, fmt: str, timeout: float = 60) -> bytes:
    """Draw DOT text as `svg` or `png` with Graphviz's `dot`."""
    if fmt not in IMAGE_FORMATS:
        raise GraphvizError(f"cannot draw {fmt!r}: choose one of {', '.join(IMAGE_FORMATS)}")
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizError(
            f"--format {fmt} needs Graphviz's `dot` program, which is not installed: "
            "install Graphviz (e.g. `apt-get install graphviz`, `brew install graphviz`) "
            "or use --format mermaid or --format dot"
        )
    result = subprocess.run(
        [exe, f"-T{fmt}"], input=dot_text.encode("utf-8"), capture_output=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise GraphvizError(f"Graphviz `dot` failed: {message}")
    return result.stdout


def render_graph(journey: Journey, fmt: str = "mermaid") -> str | bytes:
    """The journey in `fmt`: text for mermaid/dot, bytes for svg/png."""
    if fmt == "mermaid":
        return render_mermaid(journey)
    if fmt == "dot":
        return render_dot(journey)
    return render_image(render_dot(journey), fmt)
