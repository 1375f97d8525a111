"""`journeyflow ingest`: apply Segment-style events from a JSON-lines file."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import IO

import click
from tqdm import tqdm

from journeyflow.clock import SystemClock
from journeyflow.commands._common import database_option, journeys_option, make_engine
from journeyflow.definition.durations import parse_duration
from journeyflow.events.lines import read_lines
from journeyflow.exceptions import DurationError
from journeyflow.runtime.engine import IngestReport
from journeyflow.store import open_store
from journeyflow.store.deadletter import DEFAULT_KEEP

SHOWN_REJECTIONS = 50  # rejections printed one by one; the rest are counted (and kept)


def _skew(ctx: click.Context, param: click.Parameter, value: str) -> timedelta | None:
    """--max-clock-skew: a duration (`5m`, `30s`, `PT1H`), or `none` for no limit."""
    if value.strip().lower() == "none":
        return None
    try:
        return parse_duration(value)
    except (DurationError, OverflowError) as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("ingest")
@click.argument("source", type=click.File("rb"))
@journeys_option
@database_option
@click.option(
    "--batch-size",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="events per transaction",
)
@click.option(
    "--max-clock-skew",
    "max_skew",
    default="5m",
    show_default=True,
    callback=_skew,
    help="reject events dated further ahead of now than this (a duration, or none)",
)
@click.option(
    "--keep-rejected",
    default=DEFAULT_KEEP,
    show_default=True,
    type=click.IntRange(min=0),
    help="rejected events the database keeps; the oldest go first",
)
@click.option("--no-timers", is_flag=True, help="do not fire timers due by now afterwards")
def command(
    source: IO[bytes],
    journey_paths: tuple[str, ...],
    database: str,
    batch_size: int,
    max_skew: timedelta | None,
    keep_rejected: int,
    no_timers: bool,
) -> None:
    """Apply the events in SOURCE (JSON lines, or - for standard input).

    Each line is accepted or rejected on its own: a line that is not UTF-8 or
    not JSON, or an event that breaks a limit (docs/events.md), is rejected
    with its line and reason and kept in the database (`journeyflow rejected
    list`); it never stops the file. A repeated messageId is ignored, so a
    file can be ingested again after a crash.
    """
    name = "<stdin>" if source.name in ("-", "<stdin>") else os.path.abspath(source.name)
    engine = make_engine(journey_paths, open_store(database), SystemClock(), batch_size=batch_size)
    engine.max_clock_skew = max_skew
    engine.keep_rejected = keep_rejected
    with tqdm(unit=" events", disable=not sys.stderr.isatty(), file=sys.stderr) as bar:
        report = engine.ingest(read_lines(source), source=name, on_batch=bar.update)
    _say_rejections(report)
    fired = 0 if no_timers else engine.run_due()
    click.echo(
        f"{report.accepted} applied, {report.duplicates} duplicates ignored, "
        f"{len(report.rejected)} rejected; {fired} timers fired"
    )
    if report.rejected:
        kinds = ", ".join(f"{kind} {n}" for kind, n in report.rejected_by_kind().items())
        click.echo(f"rejected by reason: {kinds}")
        click.echo("each is kept with its reason: journeyflow rejected list")
    if report.dropped:
        click.echo(
            f"{report.dropped} older rejected events were dropped to keep "
            f"{keep_rejected:,} (--keep-rejected)"
        )


def _say_rejections(report: IngestReport) -> None:
    for rejected in report.rejected[:SHOWN_REJECTIONS]:
        where = f"line {rejected.line}" if rejected.line is not None else f"#{rejected.index + 1}"
        click.echo(f"rejected {where}: {rejected.reason}", err=True)
    more = len(report.rejected) - SHOWN_REJECTIONS
    if more > 0:
        click.echo(f"... and {more} more rejected (journeyflow rejected list)", err=True)
