"""A newcomer who has only the repository finds everything in `docs/`: every
field of the journey language in docs/reference.md, every error code the
source can raise in docs/errors.md, links that lead somewhere, and nothing
that points outside the repository."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from journeyflow.definition.schema import journey_schema

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference.md"
ERRORS = DOCS / "errors.md"
CODE = re.compile(r"^JF\d{3}$")
# a relative path that climbs out of its folder, and a Markdown page by name
UPWARD = re.compile(r"(?:\.\./)+[\w.\-/]*")
PAGE = re.compile(r"[\w.\-]+\.md\b")
SEED_JARGON = re.compile(r"\bseeds? \d{3}", re.IGNORECASE)
TEXT_SUFFIXES = {".md", ".py", ".yaml", ".yml", ".json", ".jsonl", ".toml", ".txt", ".cfg"}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def schema_fields(node: Any) -> Iterator[str]:
    """Every property name of the schema, following only schema keywords."""
    if not isinstance(node, dict):
        return
    for name, sub in node.get("properties", {}).items():
        yield name
        yield from schema_fields(sub)
    for keyword in ("$defs", "patternProperties"):
        for sub in node.get(keyword, {}).values():
            yield from schema_fields(sub)
    for keyword in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for sub in node.get(keyword, []):
            yield from schema_fields(sub)
    for keyword in ("items", "additionalProperties"):
        yield from schema_fields(node.get(keyword))


def source_codes() -> set[str]:
    """The JFxxx codes the source can raise: every string literal that is one."""
    codes = set()
    for path in (ROOT / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and CODE.match(str(node.value)):
                codes.add(str(node.value))
    return codes


def anchors(markdown: str) -> set[str]:
    """The heading anchors GitHub makes for a Markdown page."""
    found = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def repository_texts() -> Iterator[Path]:
    yield ROOT / "README.md"
    for folder in ("docs", "journeys", "src"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts:
                yield path


def test_every_field_of_the_schema_is_in_the_reference() -> None:
    fields = set(schema_fields(journey_schema()))
    assert len(fields) > 70
    text = REFERENCE.read_text(encoding="utf-8")
    missing = sorted(f for f in fields if f"`{f}`" not in text and f"{f}:" not in text)
    assert missing == []


def test_every_error_code_of_the_source_is_explained() -> None:
    codes = source_codes()
    assert len(codes) > 50
    errors = ERRORS.read_text(encoding="utf-8")
    reference = REFERENCE.read_text(encoding="utf-8")
    assert sorted(c for c in codes if c not in errors) == []
    assert sorted(c for c in codes if f"[{c}](errors.md#" not in reference) == []


def pointers_outside(path: Path, text: str, pages: set[str]) -> list[str]:
    """What `text` (the file at `path`) points to that a user of the
    repository does not have: a `../` path that leaves the repository or
    leads nowhere, a Markdown page no folder of the repository holds."""
    found = []
    for match in UPWARD.finditer(text):
        target = (path.parent / match.group(0)).resolve()
        if not target.is_relative_to(ROOT) or not target.exists():
            found.append(match.group(0))
    found += [m.group(0) for m in PAGE.finditer(text) if m.group(0) not in pages]
    return found


def test_nothing_in_the_repository_points_outside_it() -> None:
    pages = {p.name for p in ROOT.rglob("*.md") if ".venv" not in p.parts}
    found = []
    for path in repository_texts():
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{path.relative_to(ROOT)}: {p}" for p in pointers_outside(path, text, pages)]
        for match in SEED_JARGON.finditer(text):
            found.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert found == []


def test_the_check_finds_a_path_out_of_the_repository_and_a_page_it_lacks() -> None:
    path = DOCS / "reference.md"
    text = "see ../../../elsewhere/NOTES.md, ../README.md and [cel](cel.md)"
    pages = {"README.md", "cel.md"}
    assert pointers_outside(path, text, pages) == ["../../../elsewhere/NOTES.md", "NOTES.md"]


@pytest.mark.parametrize("page", ["reference.md", "editor.md", "events.md"])
def test_the_links_of_the_reference_pages_lead_somewhere(page: str) -> None:
    broken = []
    for target in LINK.findall((DOCS / page).read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file_part, _, anchor = target.partition("#")
        path = (DOCS / file_part).resolve() if file_part else DOCS / page
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path.read_text("utf-8")):
            broken.append(f"{target}: no such heading")
    assert broken == []
