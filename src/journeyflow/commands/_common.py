"""Options and helpers shared by the commands that run the engine."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from journeyflow.clock import Clock
from journeyflow.definition.durations import parse_duration
from journeyflow.definition.loader import LoadedJourney, load_paths
from journeyflow.exceptions import DurationError, JourneyflowError
from journeyflow.plugin.manager import build_manager
from journeyflow.plugin.observer import Observer
from journeyflow.plugin.registry import Registry
from journeyflow.runtime.engine import Engine
from journeyflow.store.base import Store

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_JOURNEYS = "journeys"
DATETIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"]  # --since, --until, --at


class Duration(click.ParamType[timedelta, Any]):
    """A duration longer than zero (`30m`, `6h`, `1d`, `2w` or ISO-8601): a
    cadence of zero would spin, a negative one means nothing, so both are
    usage errors, as a bad number is."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        if isinstance(value, timedelta):
            found = value
        else:
            try:
                found = parse_duration(str(value))
            except DurationError as exc:
                self.fail(str(exc), param, ctx)
        if found <= timedelta(0):
            self.fail(f"{value!r} is not longer than zero", param, ctx)
        return found


DURATION = Duration()


def journeys_option(func: F) -> F:
    return click.option(
        "--journeys",
        "-j",
        "journey_paths",
        multiple=True,
        type=click.Path(exists=True),
        help="journey files or folders (default: ./journeys)",
    )(func)


def database_option(func: F) -> F:
    return click.option(
        "--database",
        "-d",
        "database",
        envvar="JOURNEYFLOW_DATABASE_URL",
        default="sqlite:///journeyflow.db",
        show_default=True,
        help="SQLAlchemy URL, or memory:// (env JOURNEYFLOW_DATABASE_URL)",
    )(func)


def load_journeys(
    paths: tuple[str, ...] | list[str],
    registry: Registry | None = None,
) -> list[LoadedJourney]:
    """Load journeys; with a registry, names no plugin registers are errors."""
    chosen = list(paths) or [DEFAULT_JOURNEYS]
    if not paths and not Path(DEFAULT_JOURNEYS).is_dir():
        raise JourneyflowError("no ./journeys folder here: pass --journeys PATH")
    loaded = load_paths(chosen, known=registry.known_names() if registry else None)
    if not loaded:
        raise JourneyflowError(f"no journey files in {', '.join(chosen)}")
    return loaded


def plugin_registry() -> Registry:
    """The installed plugins' registry (JOURNEYFLOW_DISABLE_PLUGINS applies)."""
    return Registry.from_manager(build_manager())


def segmenter_plugin(registry: Registry) -> Callable[[str], str | None]:
    """Which installed plugin registered a segmenter, by its name (for the
    message when a segmenter fails)."""
    return functools.partial(registry.owner, "journeyflow_segmenters")


def make_engine(
    paths: tuple[str, ...] | list[str],
    store: Store,
    clock: Clock,
    *,
    batch_size: int = 1000,
    journeys: list[LoadedJourney] | None = None,
    registry: Registry | None = None,
) -> Engine:
    """An engine with the installed plugins: their CEL functions, their
    observers, and journeys checked against the names they register."""
    registry = registry or plugin_registry()
    loaded = journeys if journeys is not None else load_journeys(paths, registry)
    assert registry.manager is not None
    return Engine(
        loaded,
        store,
        clock,
        batch_size=batch_size,
        functions=registry.functions(),
        listeners=[Observer(registry.manager)],
    )
