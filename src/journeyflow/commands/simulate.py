"""`journeyflow simulate`: replay events on a virtual clock and show the outcome.

Where each customer stands is `reports.standing`; this module reads the
options, runs the engine and prints.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from journeyflow.clock import VirtualClock, as_utc
from journeyflow.commands._common import (
    DATETIME_FORMATS,
    load_journeys,
    make_engine,
    plugin_registry,
)
from journeyflow.events.lines import read_lines
from journeyflow.reports.standing import (
    build_report,
    customer_standing,
    format_customer,
    format_report,
)
from journeyflow.simulation.replay import clock_start
from journeyflow.store import open_store


@click.command("simulate")
@click.argument("journeys", type=click.Path(exists=True))
@click.argument("events", type=click.File("rb"))
@click.option(
    "--until",
    "until",
    type=click.DateTime(formats=DATETIME_FORMATS),
    help="run the virtual clock to this moment (UTC) after the last event",
)
@click.option(
    "--database",
    "-d",
    default="memory://",
    show_default=True,
    help="where to keep the simulated customers",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def command(journeys: str, events: Any, until: datetime | None, database: str, fmt: str) -> None:
    """Replay EVENTS (JSON lines) through JOURNEYS (a file or folder) in virtual time.

    The clock starts at the first event and follows the events; timers fire
    at their due times, exactly as they would have. Nothing is sent: the
    output says where each customer stands and what would have been sent.
    """
    loaded = load_journeys([journeys], plugin_registry())
    # read as `journeyflow ingest` reads: a line that cannot be read is rejected
    # with its number and reason, never a crash
    lines = list(read_lines(events))
    clock = VirtualClock(clock_start((line.value for line in lines), until))
    engine = make_engine([journeys], open_store(database), clock, journeys=loaded)
    report = engine.ingest(lines)
    if until is not None:
        engine.advance_to(as_utc(until))
    for rejected in report.rejected:
        where = f"line {rejected.line}" if rejected.line else f"event #{rejected.index + 1}"
        click.echo(f"rejected {where}: {rejected.reason}", err=True)
    customers = sorted({e.customer_id for e in engine.enrolments()})
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "customers": [customer_standing(engine, c) for c in customers],
                    "journeys": [r.as_dict() for r in build_report(engine)],
                },
                indent=2,
                default=str,
            )
        )
        return
    for cid in customers:
        click.echo(format_customer(engine, cid))
    click.echo(format_report(build_report(engine)))
    click.echo(
        f"\n{report.accepted} events applied, {len(report.rejected)} rejected; "
        f"clock at {clock.now():%Y-%m-%d %H:%M}Z"
    )
