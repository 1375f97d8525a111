"""Journey diagrams: every journey's Mermaid parses with the real mermaid
library and its DOT with pydot (and Graphviz when installed), and what the
parsers read back is exactly what `build_graph` meant to draw.

The Mermaid check runs `tools/mermaid-check/check.mjs` under node; it needs
`npm ci` there once (done by a session fixture) and is skipped, with the
reason, when node/npm or the npm registry is not available.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from journeyflow.cli import main
from journeyflow.definition.dsl import Journey
from journeyflow.definition.loader import load_file
from journeyflow.render import graph as graph_module
from journeyflow.render.graph import (
    END,
    START,
    GraphvizError,
    JourneyGraph,
    build_graph,
    dot_from_graph,
    mermaid_from_graph,
    render_dot,
    render_graph,
    render_image,
    render_mermaid,
)

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "mermaid-check"
FIXTURES = ROOT / "tests" / "fixtures" / "render"
FILES = sorted((ROOT / "journeys").glob("*.yaml")) + sorted(FIXTURES.glob("*.yaml"))
IDS = [str(p.relative_to(ROOT)) for p in FILES]
MIN_NODE = (20, 19)  # jsdom 29 (used by check.mjs) needs node >= 20.19


def _journey(path: Path) -> Journey:
    return load_file(path).journey


# --- the real mermaid parser ---------------------------------------------------


def _node_version(node: str) -> tuple[int, ...]:
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return tuple(int(x) for x in re.findall(r"\d+", out.stdout)[:2])


@pytest.fixture(scope="session")
def mermaid_tool() -> Path:
    """tools/mermaid-check with its node_modules, installed by `npm ci` if missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node/npm not found: install Node.js >= 20.19 to parse Mermaid for real")
    if _node_version(node) < MIN_NODE:
        pytest.skip(f"node {_node_version(node)} is older than {MIN_NODE} (jsdom needs it)")
    # npm writes node_modules/.package-lock.json last, so it marks a finished install
    installed = TOOL / "node_modules" / ".package-lock.json"
    if not (installed.exists() and (TOOL / "node_modules" / "mermaid").is_dir()):
        started = time.monotonic()
        try:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=TOOL,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.skip("`npm ci` in tools/mermaid-check timed out (npm registry reachable?)")
        took = time.monotonic() - started
        if done.returncode != 0:
            head = (done.stderr or done.stdout).strip().splitlines()[:3]  # code, syscall
            pytest.skip(
                "`npm ci` in tools/mermaid-check failed (is the npm registry reachable?): "
                + " | ".join(head)
            )
        print(f"\nnpm ci in tools/mermaid-check took {took:.1f}s")
    return TOOL


def _check_mermaid(tool: Path, diagrams: dict[str, str]) -> dict[str, dict[str, Any]]:
    payload = json.dumps([{"name": k, "text": v} for k, v in diagrams.items()])
    done = subprocess.run(
        ["node", str(tool / "check.mjs"), "-"],
        input=payload,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return {r["name"]: r for r in json.loads(done.stdout)}


@pytest.fixture(scope="session")
def mermaid_results(mermaid_tool: Path) -> dict[str, dict[str, Any]]:
    """Every journey's diagram, parsed in one node process (node starts slowly)."""
    diagrams = {i: render_mermaid(_journey(p)) for i, p in zip(IDS, FILES, strict=True)}
    return _check_mermaid(mermaid_tool, diagrams)


def _expected_mermaid_edges(graph: JourneyGraph) -> list[tuple[str, str, str]]:
    ends = {START: "root_start", END: "root_end"}
    return [
        (ends.get(e.source, e.source), ends.get(e.target, e.target), e.text) for e in graph.edges
    ]


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_mermaid_parses_and_reads_back(
    path: Path, mermaid_results: dict[str, dict[str, Any]]
) -> None:
    result = mermaid_results[str(path.relative_to(ROOT))]
    assert result["ok"], result.get("error")
    assert result["type"] == "stateDiagram"
    graph = build_graph(_journey(path))

    nodes = {n["id"]: n for n in result["nodes"]}
    # No stray states: a `;` or newline leaking into a label would add some.
    boxes = {i for i, n in nodes.items() if not n["group"]} - {"root_start", "root_end"}
    assert boxes == {n.id for n in graph.nodes if n.id != START}
    for node in graph.nodes:
        if node.id != START:
            assert nodes[node.id]["label"] == node.label
            assert ("final" in nodes[node.id]["classes"]) == (node.kind == "final")
    groups = {i: n for i, n in nodes.items() if n["group"]}
    assert {g: n["label"] for g, n in groups.items()} == {g: s for g, s, _ in graph.stages}
    for group, _, members in graph.stages:
        assert all(nodes[m]["parent"] == group for m in members)

    edges = [(e["from"], e["to"], e["label"]) for e in result["edges"]]
    assert edges == _expected_mermaid_edges(graph)


def test_mermaid_checker_reports_errors(mermaid_tool: Path) -> None:
    """The check is not vacuous: a broken diagram is reported as such."""
    results = _check_mermaid(
        mermaid_tool,
        {"unclosed": "stateDiagram-v2\n  state a {\n", "nonsense": "this is not mermaid"},
    )
    assert not results["unclosed"]["ok"]
    assert "Parse error" in results["unclosed"]["error"]
    assert not results["nonsense"]["ok"]


# --- DOT -----------------------------------------------------------------------


def _pydot_parse(text: str) -> Any:
    # pydot builds its grammar on import with pyparsing APIs that pyparsing 3.3
    # deprecates; those warnings are pydot's business, not a failure here.
    with warnings.catch_warnings():
        import pyparsing

        warnings.simplefilter("ignore", pyparsing.PyparsingWarning)
        import pydot

        return pydot.graph_from_dot_data(text)


def _undot(text: str | None) -> str:
    """A DOT quoted string back to the text it carries."""
    if text is None:
        return ""
    inner = text[1:-1] if text.startswith('"') and text.endswith('"') else text
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), inner)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_dot_parses_with_pydot(path: Path) -> None:
    graph = build_graph(_journey(path))
    parsed = _pydot_parse(render_dot(_journey(path)))
    assert parsed is not None and len(parsed) == 1
    dot = parsed[0]
    assert _undot(dot.get_name()) == graph.journey

    defaults = {"graph", "node", "edge"}
    top = {_undot(n.get_name()): n for n in dot.get_nodes() if n.get_name() not in defaults}
    clusters = {_undot(s.get_name()): s for s in dot.get_subgraphs()}
    assert set(clusters) == {"cluster_" + g[2:] for g, _, _ in graph.stages}
    inside: dict[str, Any] = {}
    for group, stage, members in graph.stages:
        cluster = clusters["cluster_" + group[2:]]
        assert _undot(cluster.get_label()) == stage
        found = {_undot(n.get_name()): n for n in cluster.get_nodes()}
        assert list(found) == list(members)
        inside.update(found)
    every = {**top, **inside}
    assert set(every) == {n.id for n in graph.nodes}
    for node in graph.nodes:
        if node.kind == "final":
            assert every[node.id].get_shape() == "doublecircle"
        if node.kind not in ("start",):
            assert _undot(every[node.id].get_label()) == node.label

    edges = [
        (_undot(e.get_source()), _undot(e.get_destination()), _undot(e.get_label()))
        for e in dot.get_edges()
    ]
    expected = [
        (e.source, e.target, e.label + (f"\n[{e.guard}]" if e.guard else ""))
        for e in graph.edges
        if e.target != END
    ]
    # pydot keeps edges grouped by their ends, not in file order
    assert sorted(edges) == sorted(expected)


def test_pydot_rejects_broken_dot() -> None:
    assert _pydot_parse('digraph { "a [label=x]; }') is None


needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz `dot` is not installed (apt-get install graphviz)"
)


@needs_dot
@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_dot_renders_with_graphviz(path: Path) -> None:
    done = subprocess.run(
        ["dot", "-Tsvg"],
        input=render_dot(_journey(path)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr, done.stderr
    assert "<svg" in done.stdout


# --- what the diagram says ------------------------------------------------------


def test_triggers_guards_splits_and_exits_are_labelled() -> None:
    graph = build_graph(_journey(FIXTURES / "reactivation.yaml"))
    edges = {(e.source, e.target, e.text) for e in graph.edges}
    assert (START, "s_active", "") in edges
    assert ("s_active", "s_active", "order_completed [when event.properties.total > 0]") in edges
    assert ("s_active", "s_inactivating", "after 120d") in edges
    assert ("s_inactivating", "s_inactive", "at month_end(now)") in edges
    assert ("s_inactive", "s_offer_a", "split 50%") in edges
    assert ("s_churned", END, "") in edges
    assert ("jf_any", "jf_exit", "unsubscribed") in edges
    assert ("jf_any", "jf_goal", "order_completed [when event.properties.total >= 100]") in edges
    assert ("jf_goal", END, "") in edges
    assert [g[1] for g in graph.stages] == ["active", "at-risk", "lost"]


def test_long_guards_are_shortened_and_internal_marked() -> None:
    graph = build_graph(_journey(FIXTURES / "tricky-text.yaml"))
    texts = [e.text for e in graph.edges]
    guard = next(t for t in texts if t.startswith("form:submitted"))
    assert guard.endswith("…]") and "\n" not in guard
    assert "ping (internal)" in texts


def test_ids_are_unique_after_sanitising() -> None:
    graph = build_graph(_journey(FIXTURES / "tricky-text.yaml"))
    ids = [n.id for n in graph.nodes]
    assert len(ids) == len(set(ids))
    assert {"s_default_node", "s_default_node_2"} <= set(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_]+", i) for i in ids)


def test_mermaid_escapes_statement_breakers() -> None:
    text = graph_module._mermaid_text('a;b "c" #d <e>\nf')
    assert text == "a#59;b #quot;c#quot; #35;d #lt;e#gt; f"


def test_dot_string_escapes_quotes_backslashes_and_newlines() -> None:
    assert graph_module._dot_string('a "b" \\n\nc') == '"a \\"b\\" \\\\n\\nc"'


def test_undefined_target_gets_a_marked_box() -> None:
    """The loader refuses such a file; a diagram of one (built from the models
    directly) still draws, showing the mistake."""
    journey = Journey.model_validate(
        {
            "journey": "broken",
            "version": 1,
            "entry": {"on": "x"},
            "initial": "a",
            "states": {"a": {"transitions": [{"on": "go", "to": "nowhere"}]}},
        }
    )
    graph = build_graph(journey)
    node = graph.node("s_nowhere")
    assert node.kind == "undefined" and "undefined" in node.label


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_output_is_deterministic(path: Path) -> None:
    first, second = _journey(path), _journey(path)
    assert render_mermaid(first) == render_mermaid(second)
    assert render_dot(first) == render_dot(second)
    graph = build_graph(first)
    assert mermaid_from_graph(graph) == render_mermaid(second)
    assert dot_from_graph(graph) == render_dot(second)


# --- pictures and the command ---------------------------------------------------


def test_pictures_need_graphviz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph_module.shutil, "which", lambda _name: None)
    with pytest.raises(GraphvizError, match="needs Graphviz"):
        render_graph(_journey(FIXTURES / "reactivation.yaml"), "svg")
    result = CliRunner().invoke(
        main, ["graph", "--format", "png", "-o", "x.png", str(FIXTURES / "reactivation.yaml")]
    )
    assert result.exit_code == 1
    assert "needs Graphviz's `dot` program" in result.output
    assert "Traceback" not in result.output


@needs_dot
def test_svg_and_png_with_graphviz(tmp_path: Path) -> None:
    journey = _journey(FIXTURES / "wedding-salon.yaml")
    assert b"<svg" in render_image(render_dot(journey), "svg")
    out = tmp_path / "w.png"
    result = CliRunner().invoke(
        main, ["graph", "-f", "png", "-o", str(out), str(FIXTURES / "wedding-salon.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG")


def test_command_prints_mermaid_and_writes_dot(tmp_path: Path) -> None:
    runner = CliRunner()
    source = FIXTURES / "reactivation.yaml"
    printed = runner.invoke(main, ["graph", str(source)])
    assert printed.exit_code == 0, printed.output
    assert printed.output == render_mermaid(_journey(source))

    out = tmp_path / "sub" / "r.dot"
    wrote = runner.invoke(main, ["graph", str(source), "--format", "dot", "--output", str(out)])
    assert wrote.exit_code == 0, wrote.output
    assert out.read_text(encoding="utf-8") == render_dot(_journey(source))


def test_command_reports_a_broken_journey_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("journey: Bad Id\nversion: 1\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["graph", str(bad)])
    assert result.exit_code == 1
    assert "Error:" in result.output and "Traceback" not in result.output
