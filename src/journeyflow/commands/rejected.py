"""`journeyflow rejected list|replay|purge`: the events ingest refused, kept
with their reasons (the dead-letter table, docs/events.md)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from journeyflow.clock import SystemClock, as_utc
from journeyflow.commands._common import (
    DATETIME_FORMATS,
    database_option,
    journeys_option,
    make_engine,
)
from journeyflow.runtime.rejections import replay_rejected
from journeyflow.service.http.accept import SOURCE as HTTP_SOURCE
from journeyflow.service.http.calls import replay_form
from journeyflow.store import open_store
from journeyflow.store.deadletter import RejectedEvent

RAW_SHOWN = 160  # characters of raw text in the text listing


@click.group("rejected")
def command() -> None:
    """Events ingest rejected, each kept with its reason, source and raw text."""


@command.command("list")
@database_option
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--after",
    default=0,
    type=click.IntRange(min=0),
    help="only rows with a higher id (a cursor: the last id of the previous page)",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def list_command(database: str, limit: int, offset: int, after: int, fmt: str) -> None:
    """List rejected events, oldest first, a page at a time."""
    store = open_store(database)
    try:
        page = store.rejected_events(after=after, limit=limit, offset=offset)
        total = store.count_rejected()
    finally:
        store.close()
    last = page[-1].id if page and len(page) == limit else None
    if fmt == "json":
        click.echo(
            json.dumps(
                {"total": total, "rejected": [_as_dict(e) for e in page], "next_after": last},
                indent=2,
            )
        )
        return
    if not page:
        click.echo(f"no rejected events here ({total:,} kept in all)")
        return
    for entry in page:
        click.echo(
            f"#{entry.id}  {entry.received_at.isoformat(timespec='seconds')}  "
            f"{_printable(entry.where)}  [{entry.kind}] {_printable(entry.reason)}"
        )
        raw = entry.raw_text()
        cut = len(raw) > RAW_SHOWN or entry.raw_truncated
        click.echo(f"    {_printable(raw[:RAW_SHOWN])}{' …' if cut else ''}")
    click.echo(f"{len(page)} shown of {total:,} kept")
    if last is not None:
        click.echo(f"next page: journeyflow rejected list --after {last} --limit {limit}")


@command.command("replay")
@click.argument("ids", nargs=-1, type=click.IntRange(min=1))
@click.option("--all", "replay_all", is_flag=True, help="replay every kept rejected event")
@journeys_option
@database_option
def replay_command(
    ids: tuple[int, ...], replay_all: bool, journey_paths: tuple[str, ...], database: str
) -> None:
    """Check rejected events again and apply those that now pass (their rows
    are removed); the others stay, and are listed with their reason."""
    if bool(ids) == replay_all:
        raise click.UsageError("give the ids of the rejected events to replay, or --all")
    engine = make_engine(journey_paths, open_store(database), SystemClock())
    # the HTTP ingest keeps calls as sent: a page call is replayed as its track event
    translate = {HTTP_SOURCE: replay_form}
    report = replay_rejected(engine, None if replay_all else set(ids), translate=translate)
    for entry, reason in report.still_rejected:
        click.echo(f"still rejected #{entry.id} ({entry.where}): {reason}", err=True)
    click.echo(
        f"{report.applied} applied, {report.duplicates} applied before; "
        f"{len(report.still_rejected)} still rejected"
    )
    missing = len(set(ids)) - report.found
    if missing > 0:
        click.echo(f"{missing} of the ids given are not kept (see journeyflow rejected list)")


@command.command("purge")
@click.option(
    "--before",
    type=click.DateTime(DATETIME_FORMATS),
    help="remove the rows received before this moment (UTC)",
)
@click.option("--all", "purge_all", is_flag=True, help="remove every row")
@database_option
def purge_command(before: datetime | None, purge_all: bool, database: str) -> None:
    """Remove kept rejected events without replaying them."""
    if (before is None) == (not purge_all):
        raise click.UsageError("give --before DATE, or --all")
    store = open_store(database)
    try:
        removed = store.purge_rejected(as_utc(before) if before is not None else None)
    finally:
        store.close()
    click.echo(f"{removed:,} rejected events removed")


def _printable(text: str) -> str:
    """Text for a terminal: a control character in a rejected line (an escape
    sequence, a carriage return) is shown as its code, not obeyed."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def _as_dict(entry: RejectedEvent) -> dict[str, Any]:
    return {
        "id": entry.id,
        "received_at": entry.received_at.isoformat(),
        "source": entry.source,
        "line": entry.line,
        "kind": entry.kind,
        "reason": entry.reason,
        "raw": entry.raw_text(),
        "raw_truncated": entry.raw_truncated,
    }
