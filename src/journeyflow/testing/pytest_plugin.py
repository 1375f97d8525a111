"""pytest plugin: journey tests under plain pytest, and fixtures for plugin authors.

Installed with journeyflow (entry point `pytest11`); `-p no:journeyflow` turns
it off. It is opt-in about which YAML files are journeys, so a project's own
`tests/` (with its broken YAML fixtures) is never collected as journeys. A
`.yaml`/`.yml` file is collected when

- it lies under a folder named by the ini option `journeyflow_journeys`
  (folders relative to the rootdir; default `journeys`), or
- it was named on the command line (`pytest path/to/journey.yaml`).

A journey file's `tests:` and a `*.test.yaml` file's tests become one pytest
item each (`journeys/crm-welcome.yaml::<test name>`), run exactly as
`journeyflow test` runs them, with the same failure report. The ini option
`journeyflow_with_all = true` loads every journey of the file's folder in each
test (`journeyflow test --with-all`); `journeyflow_strict = true` fails a test
whose run wrote an `error` row to a history (`journeyflow test --strict`).
For example, in `pyproject.toml`::

    [tool.pytest.ini_options]
    testpaths = ["tests", "journeys"]
    journeyflow_journeys = ["journeys"]

Fixture for plugin authors: `journeyflow_engine`, an Engine factory on an
in-memory store (or a store it is given) and a virtual clock.

Importing this module costs nothing beyond pytest itself: journeyflow's
engine is imported only when a journey file is collected or a fixture used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from journeyflow.definition.loader import LoadedJourney
    from journeyflow.runtime.engine import Engine
    from journeyflow.store.base import Store
    from journeyflow.testing.journeytest import CaseResult, JourneyCase

_ROOTS = pytest.StashKey[tuple[list[Path], set[Path]]]()
_NEAR = pytest.StashKey[dict[Path, list["LoadedJourney"]]]()
_FUNCTIONS = pytest.StashKey[dict[str, Callable[..., Any]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "journeyflow_journeys",
        type="linelist",
        default=["journeys"],
        help="journeyflow: folders (relative to the rootdir) whose YAML files "
        "are journeys and journey tests to collect",
    )
    parser.addini(
        "journeyflow_strict",
        type="bool",
        default=False,
        help="journeyflow: fail a journey test whose run wrote an `error` row to a "
        "customer's history (`journeyflow test --strict`)",
    )
    parser.addini(
        "journeyflow_with_all",
        type="bool",
        default=False,
        help="journeyflow: load every journey of the file's folder in each "
        "journey test (for emit-driven interactions)",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> JourneyFile | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    folders, named = _roots(parent.config)
    resolved = file_path.resolve()
    if resolved in named or any(resolved.is_relative_to(f) for f in folders):
        return JourneyFile.from_parent(parent, path=file_path)
    return None


def _roots(config: pytest.Config) -> tuple[list[Path], set[Path]]:
    """The journey folders of the ini option, and the files named as arguments."""
    if _ROOTS not in config.stash:
        folders = [(config.rootpath / f).resolve() for f in config.getini("journeyflow_journeys")]
        here = config.invocation_params.dir
        named = {(here / arg.split("::")[0]).resolve() for arg in config.args}
        config.stash[_ROOTS] = (folders, named)
    return config.stash[_ROOTS]


class JourneyFile(pytest.File):
    """A journey file or a `*.test.yaml` file: one item per journey test."""

    def collect(self) -> Iterator[JourneyItem]:
        from journeyflow.testing.journeytest import collect

        with_all = bool(self.config.getini("journeyflow_with_all"))
        context = self._near() if with_all else []
        found = collect([self.path], with_all=with_all, context=context)
        if found.errors:
            raise self.CollectError(found.errors[0].message)
        try:  # show paths as pytest does, from the rootdir
            shown = self.path.resolve().relative_to(self.config.rootpath).as_posix()
        except ValueError:
            shown = self.path.as_posix()
        for case in found.cases:
            case = dataclasses.replace(case, path=shown)
            yield JourneyItem.from_parent(self, name=case.name, case=case)

    def _near(self) -> list[LoadedJourney]:
        """The journeys in this file's folder, loaded once per folder."""
        from journeyflow.testing.journeytest import load_journeys

        cache = self.config.stash.setdefault(_NEAR, {})
        folder = self.path.parent
        if folder not in cache:
            cache[folder] = load_journeys([folder])
        return cache[folder]


def _plugin_functions(config: pytest.Config) -> dict[str, Callable[..., Any]]:
    """The installed journeyflow plugins' CEL functions, as `journeyflow test` has them."""
    if _FUNCTIONS not in config.stash:
        from journeyflow.plugin.manager import build_manager
        from journeyflow.plugin.registry import Registry

        config.stash[_FUNCTIONS] = Registry.from_manager(build_manager()).functions()
    return config.stash[_FUNCTIONS]


class JourneyTestFailed(Exception):
    """Raised by a journey test item that failed or could not run; carries the report."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.headline)
        self.result = result


class JourneyItem(pytest.Item):
    """One journey test."""

    def __init__(self, *, case: JourneyCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        from journeyflow.testing.journeytest import run_case

        result = run_case(
            self.case,
            functions=_plugin_functions(self.config),
            strict=bool(self.config.getini("journeyflow_strict")),
        )
        if result.outcome != "passed":
            raise JourneyTestFailed(result)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, JourneyTestFailed):
            # pytest heads the report with the test's name: drop the report's own
            # first line (the test id) so its first line says what went wrong
            return excinfo.value.result.message.split("\n", 1)[-1]
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.case.line
        return self.path, (line - 1 if line is not None else None), f"journey test: {self.name}"


# --- fixtures for plugin authors ---------------------------------------------------


class EngineFactory(Protocol):
    """What the `journeyflow_engine` fixture returns (for type annotations)."""

    def __call__(
        self,
        *journeys: str | Path | LoadedJourney,
        start: datetime | str = ...,
        store: Store | str | None = None,
        **engine_options: Any,
    ) -> Engine: ...


@pytest.fixture
def journeyflow_engine() -> EngineFactory:
    """A factory of engines on a fresh in-memory store and a virtual clock.

    ``journeyflow_engine(*journeys, start=..., store=None, **engine_options)``:
    each journey is a path (file or folder), YAML text, or a ``LoadedJourney``;
    ``start`` (a datetime or ISO-8601 string) is where the clock starts, by
    default 2026-01-01T00:00:00Z; ``store`` is the store to run on, a ``Store``
    or a database URL (``sqlite:///...``, ``postgresql+psycopg://...``,
    ``memory://``), by default a fresh in-memory store for each engine; other
    keywords go to ``Engine`` (``functions``, ``listeners``...). Move time with
    ``engine.advance_to(...)``::

        def test_my_channel(journeyflow_engine):
            engine = journeyflow_engine("journeys/crm-welcome.yaml")
            engine.ingest([{"type": "track", "userId": "c1", "event": "signed_up"}])
            assert engine.effects("c1")[0].template == "welcome-first-purchase-coupon"
    """
    from journeyflow.clock import VirtualClock, as_utc
    from journeyflow.definition.loader import LoadedJourney, load_paths, load_text
    from journeyflow.runtime.engine import Engine
    from journeyflow.store import MemoryStore, open_store
    from journeyflow.testing.journeytest import DEFAULT_START

    def make(
        *journeys: str | Path | LoadedJourney,
        start: datetime | str = DEFAULT_START,
        store: Store | str | None = None,
        **engine_options: Any,
    ) -> Engine:
        loaded: list[LoadedJourney] = []
        for j in journeys:
            if isinstance(j, LoadedJourney):
                loaded.append(j)
            elif isinstance(j, str) and "\n" in j:
                loaded.append(load_text(j))
            else:
                loaded.extend(load_paths([j]))
        moment = (
            datetime.fromisoformat(start.replace("Z", "+00:00"))
            if isinstance(start, str)
            else start
        )
        if store is None:
            store = MemoryStore()
        elif isinstance(store, str):
            store = open_store(store)
        return Engine(loaded, store, VirtualClock(as_utc(moment)), **engine_options)

    return make
