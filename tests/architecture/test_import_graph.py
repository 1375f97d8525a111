"""The package's import graph has no circles.

`lint-imports` (the layers contract in pyproject.toml) proves that no import
points up a layer; it does not see circles inside one layer. This test does:
every import counts, those under `if TYPE_CHECKING:` and inside functions
too, since a circle through either still ties two modules together. The
package root is left out: it is the lazy façade that names everything.
"""

from __future__ import annotations

import grimp


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in graph[node]:
                    groups.append(sorted(group))
    return groups


def import_graph() -> dict[str, set[str]]:
    built = grimp.build_graph("journeyflow")
    modules = {m for m in built.modules if m != "journeyflow"}
    return {
        m: {d for d in built.find_modules_directly_imported_by(m) if d in modules} for m in modules
    }


def test_strongly_connected_finds_a_circle() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_circles() -> None:
    circles = strongly_connected(import_graph())
    assert not circles, "modules that import each other: " + "; ".join(
        " <-> ".join(group) for group in circles
    )
