"""`journeyflow deliver`: hand the outbox's pending effects to their channels, once."""

from __future__ import annotations

from datetime import timedelta

import click

from journeyflow.clock import SystemClock
from journeyflow.commands._common import DURATION, database_option
from journeyflow.delivery.breaker import DEFAULT_FAILURES_TO_OPEN
from journeyflow.delivery.outbox import Deliverer
from journeyflow.plugin.manager import build_manager
from journeyflow.plugin.registry import Registry
from journeyflow.store import open_store


@click.command("deliver")
@database_option
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="deliveries in this run at most",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="a temporary failure on this attempt dead-letters the effect (status failed)",
)
@click.option(
    "--failures-to-open",
    type=click.IntRange(min=1),
    default=DEFAULT_FAILURES_TO_OPEN,
    show_default=True,
    help="temporary failures in a row that open a channel's circuit: its other "
    "effects wait, attempts untouched",
)
@click.option(
    "--cool-down",
    type=DURATION,
    default="1m",
    show_default=True,
    help="how long an open circuit holds its channel's effects back before one trial",
)
@click.option(
    "--lease",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="seconds claimed effects stay this run's past the claim or its last renewal; "
    "renewed before each send, for at least that send's channel timeout + 1 s "
    "[default: the slowest channel's timeout + 1 s, plus a minute]",
)
def command(
    database: str,
    limit: int,
    max_attempts: int,
    failures_to_open: int,
    cool_down: timedelta,
    lease: float | None,
) -> None:
    """Deliver pending effects (sends, tasks) whose time has come, then print counts.

    A temporary failure stays pending and is retried by a later run after an
    exponential backoff with jitter (or the receiver's Retry-After, when
    longer); a permanent one, an unknown channel, or the last attempt
    dead-letters the effect (`journeyflow outbox list --status dead`). A
    channel that keeps failing has its circuit opened: its effects wait for
    the cool-down, the other channels go on. Run it after `ingest`, or every
    minute from cron: runs that overlap share the work, each effect handed to
    its channel by one of them.
    """
    store = open_store(database)
    try:
        registry = Registry.from_manager(build_manager())
        deliverer = Deliverer(
            store,
            registry,
            clock=SystemClock(),
            max_attempts=max_attempts,
            lease=None if lease is None else timedelta(seconds=lease),
            failures_to_open=failures_to_open,
            cool_down=cool_down,
        )
        report = deliverer.run(limit)
    finally:
        store.close()
    for channel, counts in sorted(report.by_channel.items()):
        shown = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        click.echo(f"  {channel}: {shown}")
    click.echo(report.summary())
