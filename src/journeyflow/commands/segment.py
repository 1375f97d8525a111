"""`journeyflow segment NAME`: recompute a segmenter's segments over every customer."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from journeyflow.clock import Clock, SystemClock, VirtualClock, as_utc
from journeyflow.commands._common import (
    DATETIME_FORMATS,
    DEFAULT_JOURNEYS,
    DURATION,
    database_option,
    journeys_option,
    load_journeys,
    make_engine,
    plugin_registry,
    segmenter_plugin,
)
from journeyflow.exceptions import JourneyflowError
from journeyflow.plugin.registry import Registry
from journeyflow.runtime.segments import ALL, SegmentationResult, recompute, resolve_segmenters
from journeyflow.store import open_store


@click.command("segment")
@click.argument("name")
@database_option
@journeys_option
@click.option(
    "--at",
    "at",
    type=click.DateTime(formats=DATETIME_FORMATS),
    help="compute as of this moment (UTC; a date is its midnight); default: now",
)
@click.option(
    "--every",
    type=DURATION,
    help="recompute on this cadence with the real clock (e.g. 1d, 6h)",
)
@click.option(
    "--times",
    type=click.IntRange(min=1),
    help="with --every: stop after this many runs (default: run until stopped)",
)
@click.option(
    "--vertical",
    envvar="JOURNEYFLOW_VERTICAL",
    help="apply this vertical's segment thresholds (env JOURNEYFLOW_VERTICAL)",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def command(
    name: str,
    database: str,
    journey_paths: tuple[str, ...],
    at: datetime | None,
    every: timedelta | None,
    times: int | None,
    vertical: str | None,
    fmt: str,
) -> None:
    """Recompute segmenter NAME (or `all`) over every customer and record the changes.

    Each customer keeps the segments of other segmenters; this one's are
    replaced. A customer entering a segment enters the journeys whose
    `entry.segment` names it. Prints members per segment and how many entered.
    """
    if every is not None and at is not None:
        raise click.UsageError("--at and --every do not go together: --every runs at real time")
    if times is not None and every is None:
        raise click.UsageError("--times needs --every")
    registry = plugin_registry()
    resolve_segmenters(registry.segmenters, name)  # an unknown name fails before anything is opened
    thresholds = _thresholds(registry, vertical)
    clock: Clock = VirtualClock(as_utc(at)) if at is not None else SystemClock()
    engine = make_engine(
        journey_paths, open_store(database), clock, journeys=_journeys(journey_paths, registry)
    )
    runs = 0
    failed = False
    try:
        while True:
            moment = as_utc(at) if at is not None else clock.now()
            result = recompute(
                engine,
                registry.segmenters,
                name,
                moment,
                thresholds=thresholds,
                plugin_of=segmenter_plugin(registry),
            )
            failed = failed or bool(result.problems)
            _echo(result, fmt)
            runs += 1
            if every is None or (times is not None and runs >= times):
                break
            time.sleep(max(0.0, (moment + every - clock.now()).total_seconds()))
    except KeyboardInterrupt:  # --every without --times: stopped by hand
        pass
    finally:
        engine.store.close()
    if failed:
        click.get_current_context().exit(1)


def _journeys(paths: tuple[str, ...], registry: Registry) -> list[Any]:
    # Without --journeys and without ./journeys, segments are still recorded;
    # nobody is enrolled.
    if not paths and not Path(DEFAULT_JOURNEYS).is_dir():
        click.echo(
            "note: no journeys loaded (no ./journeys, no --journeys): segments are "
            "recorded, nobody is enrolled",
            err=True,
        )
        return []
    return load_journeys(paths, registry)


def _thresholds(registry: Registry, vertical: str | None) -> dict[str, Any] | None:
    if vertical is None:
        return None
    found = registry.verticals.get(vertical)
    if found is None:
        known = ", ".join(sorted(registry.verticals))
        raise JourneyflowError(f"no vertical {vertical!r} is registered (registered: {known})")
    return dict(found.segment_thresholds)


def _echo(result: SegmentationResult, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(result.as_dict()))
    else:
        click.echo(
            f"{', '.join(result.segmenters) or 'no segmenter'} at "
            f"{result.at.isoformat()}: {result.customers} customers, "
            f"{result.changed} changed"
        )
        width = max((len(n) for n in result.counts), default=0)
        for segment, members in result.counts.items():
            entered, left = result.entered.get(segment, 0), result.left.get(segment, 0)
            click.echo(f"  {segment:<{width}}  {members:>8}   +{entered} entered  -{left} left")
    for problem in result.problems:
        click.echo(f"Error: {problem}", err=True)


__all__ = ["ALL", "command"]
