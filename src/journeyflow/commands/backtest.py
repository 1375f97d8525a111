"""`journeyflow backtest`: what a draft journey would have done with past events."""

from __future__ import annotations

import json
from datetime import datetime

import click

from journeyflow.clock import as_utc
from journeyflow.commands._common import database_option
from journeyflow.definition.loader import load_file
from journeyflow.simulation.backtest import backtest
from journeyflow.store import open_store

_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"]


@click.command("backtest")
@click.argument("draft", type=click.Path(exists=True, dir_okay=False))
@database_option
@click.option("--since", type=click.DateTime(formats=_FORMATS), help="first event time (UTC)")
@click.option(
    "--until",
    type=click.DateTime(formats=_FORMATS),
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
    result = backtest(loaded, events, as_utc(until) if until else None)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    click.echo(
        f"{result.journey}: {result.entries} entries ({result.customers} customers), "
        f"{result.goals} goals, {result.exits} exits"
    )
    order = list(loaded.journey.states)
    for state in order:
        if result.visits[state] or result.standing[state]:
            click.echo(
                f"  {state:<28} reached {result.visits[state]:>6}   "
                f"standing {result.standing[state]:>6}"
            )
    days: dict[str, int] = {}
    for (_day, channel), n in result.sends_per_day.items():
        days[channel] = days.get(channel, 0) + n
    for channel, n in sorted(days.items()):
        active_days = len({d for d, c in result.sends_per_day if c == channel})
        click.echo(f"  sent via {channel}: {n} on {active_days} days")
    if result.suppressed:
        click.echo(f"  held back (holdout): {result.suppressed}")
