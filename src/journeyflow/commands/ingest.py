"""`journeyflow ingest`: apply Segment-style events from a JSON-lines file."""

from __future__ import annotations

import sys
from typing import IO

import click
from tqdm import tqdm

from journeyflow.clock import SystemClock
from journeyflow.commands._common import database_option, journeys_option, make_engine, read_jsonl
from journeyflow.store import open_store


@click.command("ingest")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@journeys_option
@database_option
@click.option("--batch-size", default=1000, show_default=True, help="events per transaction")
@click.option("--no-timers", is_flag=True, help="do not fire timers due by now afterwards")
def command(
    source: IO[str],
    journey_paths: tuple[str, ...],
    database: str,
    batch_size: int,
    no_timers: bool,
) -> None:
    """Apply the events in SOURCE (JSON lines, or - for standard input).

    A repeated messageId is ignored, so a file can be ingested again after a
    crash. Invalid events are reported with their line and reason; they never
    stop the file.
    """
    engine = make_engine(journey_paths, open_store(database), SystemClock(), batch_size=batch_size)
    with tqdm(unit=" events", disable=not sys.stderr.isatty(), file=sys.stderr) as bar:
        report = engine.ingest(read_jsonl(source), on_batch=bar.update)
    for rejected in report.rejected:
        reason = rejected.reason
        if "is not JSON" in reason:
            reason = reason.split("got ", 1)[-1].strip("'<>")
        click.echo(f"rejected event #{rejected.index + 1}: {reason}", err=True)
    fired = 0 if no_timers else engine.run_due()
    click.echo(
        f"{report.accepted} applied, {report.duplicates} duplicates ignored, "
        f"{len(report.rejected)} rejected; {fired} timers fired"
    )
