"""`journeyflow outbox list|retry|purge`: the effects waiting, delivered and
dead-lettered, as an operator needs them.

An effect that failed for good (a permanent failure, an unknown channel, or
out of attempts) stays in the outbox as `failed`: the outbox's dead-letter
state. `list` shows it with its attempts and last error (redacted when it was
recorded), `retry` puts it back to `pending` with its attempts reset, and
`purge` removes old delivered (or dead) rows. Every filter and page is asked
of the store, never read from the whole outbox.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import click

from journeyflow.clock import SystemClock
from journeyflow.commands._common import DURATION, database_option
from journeyflow.exceptions import JourneyflowError
from journeyflow.plugin.builtin.task import CHANNEL as TASK_CHANNEL
from journeyflow.plugin.builtin.task import DONE as TASK_DONE
from journeyflow.store import open_store
from journeyflow.store.records import Effect

DEAD = "failed"  # the dead-letter state's status in the outbox
STATUSES = ("pending", "sent", "failed", "dead", "done", "suppressed")  # dead = failed
MIN_KEY = 6  # characters of a key prefix `retry` takes: a shorter one matches too many
ERROR_SHOWN = 120  # characters of last_error in the text listing


def _statuses(given: Sequence[str]) -> list[str] | None:
    return sorted({DEAD if s == "dead" else s for s in given}) or None


@click.group("outbox")
def command() -> None:
    """The outbox: effects waiting, delivered, and dead-lettered (`failed`)."""


@command.command("list")
@database_option
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES),
    help="only these statuses (repeat; `dead` is `failed`) [default: all]",
)
@click.option("--channel", help="only this channel's effects")
@click.option("--customer", help="only this customer's effects")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--offset",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="skip this many first (the next page: --offset 50)",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def list_command(
    database: str,
    statuses: tuple[str, ...],
    channel: str | None,
    customer: str | None,
    limit: int,
    offset: int,
    fmt: str,
) -> None:
    """List effects oldest first, a page at a time, with their attempts, last
    error and next attempt."""
    store = open_store(database)
    try:
        # one more than the page, to tell whether another page follows
        page = store.outbox_page(
            statuses=_statuses(statuses),
            channel=channel,
            customer_id=customer,
            limit=limit + 1,
            offset=offset,
        )
        counts = store.outbox_counts(channel=channel, customer_id=customer)
    finally:
        store.close()
    more, page = len(page) > limit, page[:limit]
    if fmt == "json":
        shown: dict[str, Any] = {
            "effects": [_as_dict(e) for e in page],
            "counts": counts,
            "next_offset": offset + limit if more else None,
        }
        click.echo(json.dumps(shown, indent=2))
        return
    for e in page:
        after = e.next_attempt_at.isoformat(timespec="seconds") if e.next_attempt_at else "-"
        click.echo(
            f"{e.key[:12]}  {e.created_at:%Y-%m-%d %H:%M}  {e.status:<9} {e.channel:<10} "
            f"{e.customer_id}  attempts {e.attempts}  next {after}"
        )
        if e.last_error:
            error = _printable(e.last_error)
            cut = " …" if len(error) > ERROR_SHOWN else ""
            click.echo(f"    {error[:ERROR_SHOWN]}{cut}")
    tally = ", ".join(f"{n:,} {status}" for status, n in sorted(counts.items())) or "none"
    footer = f"{len(page)} shown; in the outbox{_scope(channel, customer)}: {tally}"
    if more:
        footer += f"; more with --offset {offset + limit}"
    click.echo(footer, err=True)


@command.command("retry")
@click.argument("keys", nargs=-1)
@click.option("--channel", help="every dead-lettered effect of this channel")
@click.option("--customer", help="every dead-lettered effect of this customer")
@click.option("--all", "retry_all", is_flag=True, help="every dead-lettered effect")
@database_option
def retry_command(
    keys: tuple[str, ...],
    channel: str | None,
    customer: str | None,
    retry_all: bool,
    database: str,
) -> None:
    """Put dead-lettered (`failed`) effects back to pending, attempts reset:
    those whose key starts with one of KEYS (the 12 characters `list` shows
    are enough), or all of a channel or customer, or --all. The next delivery
    run (`journeyflow deliver`, or the service) tries them again."""
    chosen = bool(keys) or channel is not None or customer is not None
    if chosen == retry_all:
        raise click.UsageError("give KEYS, --channel or --customer, or --all (not with the others)")
    short = [k for k in keys if len(k) < MIN_KEY]
    if short:
        raise click.UsageError(f"a key prefix needs {MIN_KEY} characters at least: {short[0]!r}")
    store = open_store(database)
    try:
        retried = store.retry_effects(
            statuses=(DEAD,),
            channel=channel,
            customer_id=customer,
            key_prefixes=list(keys) or None,
        )
    finally:
        store.close()
    if retried == 0 and keys:
        raise JourneyflowError(
            f"no dead-lettered effect has a key starting with {', '.join(map(repr, keys))}"
            "; `journeyflow outbox list --status dead` lists them"
        )
    click.echo(
        f"{retried:,} dead-lettered effect{'' if retried == 1 else 's'}"
        f"{_scope(channel, customer)} put back to pending, attempts reset"
    )


@command.command("purge")
@click.option(
    "--older-than",
    "older_than",
    type=DURATION,
    required=True,
    help="remove effects created longer ago than this (30d, 12h, 2w, ISO-8601)",
)
@click.option(
    "--dead", is_flag=True, help="remove dead-lettered (`failed`) effects instead of delivered"
)
@click.option("--channel", help="only this channel's effects")
@click.option("--dry-run", is_flag=True, help="count what would be removed; remove nothing")
@database_option
def purge_command(
    older_than: timedelta, dead: bool, channel: str | None, dry_run: bool, database: str
) -> None:
    """Remove delivered effects (sent; tasks done — an assigned task is still
    open and stays), or with --dead the dead-lettered ones, created before
    now minus --older-than. Funnel reports count what the outbox holds: a
    purged send no longer counts there. Asks nothing; prints what it did."""
    before = SystemClock().now() - older_than
    store = open_store(database)
    try:
        if dead:
            removed = store.purge_effects(before, (DEAD,), channel=channel, dry_run=dry_run)
        else:
            # `sent` is a task's "assigned", still open: tasks go when they are done
            removed = store.purge_effects(
                before, ("sent",), channel=channel, except_channel=TASK_CHANNEL, dry_run=dry_run
            ) + store.purge_effects(before, (TASK_DONE,), channel=channel, dry_run=dry_run)
    finally:
        store.close()
    what = "dead-lettered" if dead else "delivered"
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {removed:,} {what} effect{'' if removed == 1 else 's'}{_scope(channel, None)} "
        f"created before {before.isoformat(timespec='seconds')}"
        + (" (dry run: nothing removed)" if dry_run else "")
    )


def _scope(channel: str | None, customer: str | None) -> str:
    parts = [f"channel {channel}" if channel else "", f"customer {customer}" if customer else ""]
    shown = ", ".join(p for p in parts if p)
    return f" ({shown})" if shown else ""


def _printable(text: str) -> str:
    """Text for a terminal: a control character (an escape sequence, a newline
    in a channel's error) is shown as its code, not obeyed."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def _as_dict(e: Effect) -> dict[str, Any]:
    return {
        "key": e.key,
        "status": e.status,
        "channel": e.channel,
        "customer": e.customer_id,
        "journey": e.journey,
        "created_at": e.created_at.isoformat(),
        "attempts": e.attempts,
        "last_error": e.last_error,
        "next_attempt_at": e.next_attempt_at.isoformat() if e.next_attempt_at else None,
    }
