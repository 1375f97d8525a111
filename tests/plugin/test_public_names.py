"""The public names plugins and users import: the lazy façade (`journeyflow`),
the one `hookimpl` marker, and the first-party plugins keeping to public
modules so the deep paths stay free to move."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import journeyflow
from journeyflow.plugin import markers

ROOT = Path(__file__).parents[2]

# What a first-party plugin may import from journeyflow: the façade, the
# channel kit, the testing kits, the store (to query), the command line (to
# drive it in tests). Never `journeyflow.commands` or a private module.
PUBLIC = {
    "journeyflow",
    "journeyflow.cli",
    "journeyflow.delivery",
    "journeyflow.store",
    "journeyflow.testing",
    "journeyflow.testing.conformance",
    "journeyflow.testing.journeytest",
}
# Known, and owned elsewhere in #13: the KPI plugin's test reads the stage
# history the `kpis` command builds, until that has a public name.
KNOWN = {("journeyflow-kpis/tests/test_kpis.py", "journeyflow.reports.kpis")}


@pytest.mark.parametrize("name", journeyflow.__all__)
def test_every_facade_name_resolves(name: str) -> None:
    assert getattr(journeyflow, name) is not None
    assert name in dir(journeyflow)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        journeyflow.Nope  # noqa: B018


def test_import_journeyflow_stays_cheap() -> None:
    """Every pytest run imports journeyflow (the journey-test plugin): it must
    not drag in the plugin system, the store or the engine."""
    code = (
        "import sys, journeyflow, journeyflow.delivery; "
        "print(','.join(sorted(m for m in ('pluggy', 'sqlalchemy', 'structlog', 'urllib.request') "
        "if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_there_is_one_hookimpl_marker() -> None:
    assert journeyflow.hookimpl is markers.hookimpl
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.py")]
    assert sum(s.count("HookimplMarker(") for s in sources) == 1


def _journeyflow_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "journeyflow" or m.startswith("journeyflow.")}


def test_first_party_plugins_import_only_public_names() -> None:
    files = sorted((ROOT / "plugins").glob("journeyflow-*/src/**/*.py"))
    files += sorted((ROOT / "plugins").glob("journeyflow-*/tests/*.py"))
    assert len(files) > 10
    wrong = []
    for path in files:
        where = path.relative_to(ROOT / "plugins").as_posix()
        for module in _journeyflow_imports(path):
            if module not in PUBLIC and (where, module) not in KNOWN:
                wrong.append(f"{where}: {module}")
    assert not wrong, "import these from `journeyflow` (the façade) instead: " + "; ".join(wrong)
