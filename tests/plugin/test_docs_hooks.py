"""The hook docs stay in step with hookspecs.py (datasette's test_docs.py): each
hook has a section headed by its exact signature, and no section documents a
hook that does not exist."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from journeyflow.plugin import hookspecs

DOCS = Path(__file__).parents[2] / "docs"
HOOK_DOCS = [DOCS / "hooks.md", DOCS / "plugins.md"]


def signature(name: str) -> str:
    """`journeyflow_channels() -> Iterable[Channel]`: the spec's own annotations,
    as written in hookspecs.py (they are strings there: postponed evaluation)."""
    return name + str(inspect.signature(getattr(hookspecs, name))).replace("'", "")


def headings() -> list[str]:
    found = []
    for path in HOOK_DOCS:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                found.append(line.lstrip("#").strip().strip("`"))
    return found


HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("journeyflow_"))


def test_there_are_hooks() -> None:
    assert len(HOOKS) >= 10


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_headed_by_its_signature(hook: str) -> None:
    assert signature(hook) in headings(), (
        f"docs/hooks.md has no section headed `{signature(hook)}`: add one (or fix the "
        "heading to match hookspecs.py exactly)"
    )


def test_no_section_documents_a_missing_hook() -> None:
    documented = {m.group(1) for h in headings() if (m := re.match(r"(journeyflow_\w+)\(", h))}
    assert documented - set(HOOKS) == set()
