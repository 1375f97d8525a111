"""The `task` channel: a to-do for a person (the state's `owner`), kept in the outbox.

A journey's `task:` action queues an effect on channel `task` whose `data`
holds `title`, `owner`, `description`, `due` and `state`. Delivering it means
assigning it: the row becomes `sent` ("assigned"). `journeyflow tasks` lists
open tasks (queued or assigned) and `journeyflow tasks done KEY` marks one
`done` — a status only task rows take. No other table: the outbox row is the task.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from journeyflow.exceptions import JourneyflowError
from journeyflow.plugin.markers import hookimpl
from journeyflow.types import Channel, Delivery, Effect

if TYPE_CHECKING:
    from journeyflow.store.base import Store

CHANNEL = "task"
OPEN = ("pending", "sent")  # queued, or assigned by `journeyflow deliver`
DONE = "done"


def deliver(effect: Effect) -> Delivery:
    """Assign the task: nothing leaves the process, so redelivery is harmless."""
    owner = effect.data.get("owner") or "nobody"
    return Delivery.sent(f"assigned to {owner}")


def list_tasks(
    store: Store,
    *,
    owner: str | None = None,
    status: str = "open",
    limit: int | None = None,
    offset: int = 0,
) -> list[Effect]:
    """Tasks by status (`open`, `done` or `all`), oldest first, optionally one
    owner's: at most `limit` of them after skipping `offset`, asked of the store
    page by page (an outbox holds every e-mail ever queued beside the tasks)."""
    if status not in ("open", "done", "all"):
        raise JourneyflowError(f"task status {status!r} is not one of open, done, all")
    wanted = {"open": OPEN, "done": (DONE,), "all": (*OPEN, DONE)}[status]
    return store.effects_page(CHANNEL, wanted, owner=owner, limit=limit, offset=offset)


def complete_task(store: Store, key: str) -> Effect:
    """Mark a task done; `key` may be any unique prefix of the effect key.

    :raises JourneyflowError: no task, several tasks, or the task is not open
    """
    # six are enough to tell "one" from "several" and show five of them
    tasks = store.effects_page(CHANNEL, None, key_prefix=key, limit=6)
    if not tasks:
        raise JourneyflowError(
            f"no task has a key starting with {key!r}; `journeyflow tasks --status all` lists them"
        )
    if len(tasks) > 1:
        shown = ", ".join(t.key[:12] for t in tasks[:5])
        more = "more than 5" if len(tasks) > 5 else str(len(tasks))
        raise JourneyflowError(
            f"{more} tasks have keys starting with {key!r} ({shown}...); give more of the key"
        )
    task = tasks[0]
    if task.status not in OPEN:
        raise JourneyflowError(
            f"task {task.key[:12]} ({task.data.get('title')!r}) is {task.status}, not open"
        )
    store.update_effect(task.key, DONE, task.attempts, None)
    return task


@hookimpl
def journeyflow_channels() -> Iterable[Channel]:
    return [
        Channel(
            CHANNEL,
            deliver=deliver,
            description="a to-do for the state's owner (`journeyflow tasks`)",
            timeout=5.0,
        )
    ]
