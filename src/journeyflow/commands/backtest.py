"""`journeyflow backtest`: what a draft journey would have done with past events.

The replay is `simulation.backtest`, the funnel `reports.funnel`; this module
reads the options and prints.
"""

from __future__ import annotations

import json
from datetime import datetime

import click

from journeyflow.clock import as_utc
from journeyflow.commands._common import DATETIME_FORMATS, database_option
from journeyflow.definition.loader import load_file
from journeyflow.reports.funnel import format_funnel, funnel
from journeyflow.simulation.backtest import backtest
from journeyflow.store import open_store


@click.command("backtest")
@click.argument("draft", type=click.Path(exists=True, dir_okay=False))
@database_option
@click.option(
    "--since", type=click.DateTime(formats=DATETIME_FORMATS), help="first event time (UTC)"
)
@click.option(
    "--until",
    type=click.DateTime(formats=DATETIME_FORMATS),
    help="run timers up to this time (default: the last event)",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def command(
    draft: str, database: str, since: datetime | None, until: datetime | None, fmt: str
) -> None:
    """Replay the stored events through DRAFT (a journey file) and report its funnel.

    Nothing live is touched: the draft runs on an in-memory copy with a
    virtual clock. Events emitted by other journeys are not part of a backtest.
    """
    loaded = load_file(draft)
    store = open_store(database)
    events = store.iter_events(as_utc(since) if since else None)
    engine = backtest(loaded, events, as_utc(until) if until else None)
    result = funnel(engine, loaded.journey.journey)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    click.echo(format_funnel(result, loaded.journey.states))
