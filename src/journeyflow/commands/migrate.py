"""`journeyflow migrate`: move in-flight customers to a journey's newest version."""

from __future__ import annotations

import click

from journeyflow.clock import SystemClock
from journeyflow.commands._common import database_option, journeys_option, make_engine
from journeyflow.runtime.migration import migrate
from journeyflow.store import open_store


@click.command("migrate")
@click.argument("journey")
@journeys_option
@database_option
@click.option("--dry-run", is_flag=True, help="report the moves without making them")
def command(journey: str, journey_paths: tuple[str, ...], database: str, dry_run: bool) -> None:
    """Move JOURNEY's in-flight customers to its newest loaded version.

    Uses the new version's `migrations:` (old state -> new state; a state of
    the same name carries over). Customers whose state has no mapping are
    reported as stranded and stay on their version. Applied moves happen in
    transactions and are written to each customer's history.
    """
    engine = make_engine(journey_paths, open_store(database), SystemClock())
    report = migrate(engine, journey, dry_run=dry_run)
    for line in report.lines():
        click.echo(line)
