"""`journeyflow tasks`: the to-dos journeys give people (channel `task`)."""

from __future__ import annotations

import json

import click

from journeyflow.commands._common import database_option
from journeyflow.plugin.builtin.task import complete_task, list_tasks
from journeyflow.store import open_store

_LABELS = {"pending": "queued", "sent": "assigned", "done": "done"}


@click.group("tasks", invoke_without_command=True)
@database_option
@click.option("--owner", help="only this owner's tasks")
@click.option(
    "--status",
    type=click.Choice(["open", "done", "all"]),
    default="open",
    show_default=True,
    help="open: queued or assigned",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="list at most this many tasks",
)
@click.option(
    "--offset",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="skip this many tasks first (the next page: --offset 50)",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_context
def command(
    ctx: click.Context,
    database: str,
    owner: str | None,
    status: str,
    limit: int,
    offset: int,
    fmt: str,
) -> None:
    """List tasks, oldest first, a page at a time (--limit, --offset);
    `journeyflow tasks done KEY` marks one done."""
    ctx.ensure_object(dict)
    ctx.obj["database"] = database
    if ctx.invoked_subcommand is not None:
        return
    store = open_store(database)
    try:
        # one more than the page, to tell whether another page follows
        tasks = list_tasks(store, owner=owner, status=status, limit=limit + 1, offset=offset)
    finally:
        store.close()
    more, tasks = len(tasks) > limit, tasks[:limit]
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "key": t.key,
                        "status": _LABELS.get(t.status, t.status),
                        "owner": t.data.get("owner"),
                        "title": t.data.get("title"),
                        "description": t.data.get("description"),
                        "due": t.data.get("due"),
                        "customer": t.customer_id,
                        "journey": t.journey,
                        "state": t.data.get("state"),
                        "created_at": t.created_at.isoformat(),
                    }
                    for t in tasks
                ],
                indent=2,
            )
        )
        return
    for t in tasks:
        due = f" (due {t.data['due']})" if t.data.get("due") else ""
        label = _LABELS.get(t.status, t.status)
        click.echo(
            f"{t.key[:12]}  {t.created_at:%Y-%m-%d %H:%M}  {label:<8} "
            f"{t.data.get('owner') or '-':<16} {t.data.get('title')}{due}  "
            f"[{t.journey} / {t.customer_id}]"
        )
    shown = f"{len(tasks)} {status} task{'' if len(tasks) == 1 else 's'}"
    if offset:
        shown += f" after the first {offset}"
    if more:
        shown += f"; more with --offset {offset + limit}"
    click.echo(shown, err=True)


@command.command("done")
@click.argument("key")
@click.option(
    "--database",
    "-d",
    "database",
    default=None,
    help="as for `journeyflow tasks` (may be given before or after `done`)",
)
@click.pass_context
def done(ctx: click.Context, key: str, database: str | None) -> None:
    """Mark the task whose key starts with KEY done (the first 12 characters shown
    by `journeyflow tasks` are enough)."""
    store = open_store(database or ctx.obj["database"])
    try:
        task = complete_task(store, key)
    finally:
        store.close()
    click.echo(f"done: {task.key[:12]} {task.data.get('title')}")
