"""`journeyflow demo`: a year of a synthetic population through every journey.

The population is `simulation.population`, the run `simulation.replay.play`,
the counts `reports.standing`; this module wires them up and prints.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
from tqdm import tqdm

from journeyflow.clock import VirtualClock
from journeyflow.commands._common import (
    journeys_option,
    load_journeys,
    make_engine,
    plugin_registry,
    segmenter_plugin,
)
from journeyflow.reports.standing import build_report, format_report
from journeyflow.runtime.segments import SegmentSchedule
from journeyflow.simulation.population import population
from journeyflow.simulation.replay import play
from journeyflow.store import open_store


@click.command("demo")
@journeys_option
@click.option("--customers", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option(
    "--days", type=click.IntRange(min=1), default=365, show_default=True, help="simulated days"
)
@click.option(
    "--database",
    "-d",
    default="sqlite:///demo.db",
    show_default=True,
    help="a fresh SQLite file each run (deleted first)",
)
@click.option("--seed", default=7, show_default=True)
def command(
    journey_paths: tuple[str, ...], customers: int, days: int, database: str, seed: int
) -> None:
    """Run a synthetic population through all journeys on a SQLite file.

    Customers sign up, buy, open e-mails, have birthdays and unsubscribe over a
    simulated year; others walk each journey's graph. Prints, per journey,
    where customers stand and what was sent.
    """
    registry = plugin_registry()
    loaded = load_journeys(journey_paths, registry)
    if database.startswith("sqlite:///"):
        path = Path(database.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = population([lj.journey for lj in loaded], customers, start, days, seed)
    clock = VirtualClock(start)
    engine = make_engine(
        journey_paths, open_store(database), clock, journeys=loaded, registry=registry
    )
    # segments (RFM, engagement) are recomputed weekly in virtual time, so
    # journeys that enter on a segment (crm-vip: rfm:champions) see entries
    schedule = (
        SegmentSchedule(
            engine,
            registry.segmenters,
            every=timedelta(days=7),
            start=start + timedelta(days=28),
            plugin_of=segmenter_plugin(registry),
        )
        if registry.segmenters
        else None
    )
    began = time.perf_counter()
    with tqdm(
        total=len(events),
        unit=" events",
        file=sys.stderr,
        desc=f"{customers} customers, {days} days",
    ) as bar:
        play(engine, events, start + timedelta(days=days), schedule=schedule, on_batch=bar.update)
    elapsed = time.perf_counter() - began
    click.echo(format_report(build_report(engine)))
    click.echo(
        f"\n{len(events)} events for {customers} customers over {days} days "
        f"in {elapsed:.1f} s ({len(events) / elapsed:,.0f} events/s) -> {database}"
    )
