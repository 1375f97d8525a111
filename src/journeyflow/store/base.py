"""The store interface: a unit of work per batch of customers.

The engine opens a unit of work, loads the customers it is about to move,
changes records in place, adds history and effects, and commits. Everything in
one unit of work is committed together or not at all, so a crash never leaves
half a transition. Customer state lives here, never in the engine.

A unit of work is run one way, as a context manager:

    with store.unit_of_work() as uow:
        uow.load(customer_ids)
        ...

It commits when the block ends normally and rolls back (re-raising) when the
block raises; a block that already called `commit()` or `rollback()` itself
(a batch that finds nothing to do) is left as it ended.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from journeyflow.events import Event
from journeyflow.store.deadletter import DeadLetters
from journeyflow.store.records import CustomerRecord, Effect, EnrolmentRecord, HistoryRecord


class UnitOfWork(Protocol):
    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Commit on a clean exit, roll back on an exception (which goes on);
        nothing if the unit of work was already committed or rolled back."""
        ...

    def seen_messages(self, message_ids: Sequence[str]) -> set[str]:
        """Which of these messageIds are already stored (idempotent ingest)."""
        ...

    def load(self, customer_ids: Iterable[str]) -> None:
        """Bring these customers and all their enrolments into the unit of work,
        and hold them until it ends: another unit of work loading any of them
        waits (SQLite: the whole file is held from the start; PostgreSQL: an
        advisory lock per customer). Load a batch's customers in one call,
        before asking anything else about them."""
        ...

    def customer(self, customer_id: str) -> CustomerRecord:
        """A loaded customer; a new one (written on commit) if unknown."""
        ...

    def enrolments(self, customer_id: str) -> list[EnrolmentRecord]:
        """All enrolments of a loaded customer, oldest first."""
        ...

    def add_enrolment(self, enrolment: EnrolmentRecord) -> None: ...

    def add_event(self, event: Event) -> None: ...

    def add_history(self, record: HistoryRecord) -> None: ...

    def add_effect(self, effect: Effect) -> None: ...

    def due_customers(self, until: datetime, limit: int) -> list[str]:
        """Customers with an active enrolment whose next timer is due at or before
        `until`, by due time (found through an index, not a scan)."""
        ...

    def commit(self) -> None:
        """Write everything at once, and end the unit of work."""
        ...

    def rollback(self) -> None:
        """Drop everything, and end the unit of work."""
        ...


class Store(DeadLetters, Protocol):
    def unit_of_work(self) -> UnitOfWork: ...

    # Journey versions: what was loaded, so a changed file without a bump is refused.
    def journey_version(self, journey: str, version: int) -> tuple[str, str] | None:
        """(content hash, source) of a stored journey version, or None."""
        ...

    def save_journey_version(
        self, journey: str, version: int, content_hash: str, source: str
    ) -> None: ...

    def journey_versions(self, journey: str) -> list[int]: ...

    # Queries (read-only)
    def get_customer(self, customer_id: str) -> CustomerRecord | None: ...

    def get_enrolments(
        self, customer_id: str | None = None, journey: str | None = None
    ) -> list[EnrolmentRecord]: ...

    def get_history(
        self, customer_id: str | None = None, journey: str | None = None
    ) -> list[HistoryRecord]: ...

    def get_effects(
        self, customer_id: str | None = None, status: str | None = None
    ) -> list[Effect]: ...

    def effects_page(
        self,
        channel: str,
        statuses: Sequence[str] | None,
        *,
        owner: str | None = None,
        key_prefix: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Effect]:
        """A page of one channel's effects with these statuses (None: any), in
        `get_effects`' order, optionally only `data.owner`'s or those whose key
        starts with `key_prefix`: filtered and paged by the store, so listing a
        few tasks never reads the whole outbox."""
        ...

    def update_effect(
        self,
        key: str,
        status: str,
        attempts: int,
        last_error: str | None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Set an effect's delivery fields, whoever holds it (a task marked done);
        `next_attempt_at` is when a retry may run. The dispatcher records through
        `record_attempt`, under its claim."""
        ...

    def claim_effects(
        self,
        due_by: datetime,
        limit: int,
        until: datetime,
        token: str,
        *,
        skip_channels: Collection[str] = (),
    ) -> list[Effect]:
        """Take up to `limit` pending effects due by `due_by`, oldest first, for one
        deliverer: each row gets the claim's `token` and a lease to `until` (its
        retry time), so another deliverer passes them by until the lease runs
        out (a deliverer that died leaves them to be retried then). Effects of
        `skip_channels` (circuits open in this deliverer) are left untouched."""
        ...

    def renew_claim(
        self, token: str, until: datetime, keys: Collection[str] | None = None
    ) -> set[str]:
        """Extend the lease of every effect still held under `token` (pending,
        not re-claimed by another deliverer) to `until`; the keys still held.
        `keys`, when given, are the claim's effects: the store looks them up
        by key instead of searching for the token."""
        ...

    def record_attempt(
        self,
        key: str,
        token: str,
        status: str,
        attempts: int,
        last_error: str | None,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """`update_effect`, only if the effect is still held under `token`; it is
        then no longer held by anyone. False (nothing written) when the lease was
        lost to another deliverer."""
        ...

    def waiting_effects(self, now: datetime) -> int:
        """How many pending effects wait for a retry time (or a lease) after `now`."""
        ...

    # The outbox as an operator sees it (`journeyflow outbox`): filtered, paged
    # and written by the store, never by reading the whole outbox.
    def outbox_page(
        self,
        *,
        statuses: Sequence[str] | None = None,
        channel: str | None = None,
        customer_id: str | None = None,
        key_prefixes: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Effect]:
        """A page of effects, in `get_effects`' order, with these statuses (None:
        any), of this channel and customer, whose key starts with one of
        `key_prefixes` (None: any key)."""
        ...

    def outbox_counts(
        self, *, channel: str | None = None, customer_id: str | None = None
    ) -> dict[str, int]:
        """How many effects each status holds (statuses with none are left out)."""
        ...

    def retry_effects(
        self,
        *,
        statuses: Sequence[str] = ("failed",),
        channel: str | None = None,
        customer_id: str | None = None,
        key_prefixes: Sequence[str] | None = None,
    ) -> int:
        """Put the effects that match (filters as `outbox_page`; by default the
        dead letters, `failed`) back to `pending` with no attempts, no retry
        time and no claim, `last_error` kept; how many."""
        ...

    def purge_effects(
        self,
        before: datetime,
        statuses: Sequence[str],
        *,
        channel: str | None = None,
        except_channel: str | None = None,
        dry_run: bool = False,
    ) -> int:
        """Delete the effects with these statuses created before `before`, of
        `channel` if given, not of `except_channel`; how many (with `dry_run`,
        how many would go, and nothing is deleted)."""
        ...

    def count_events(self) -> int: ...

    def iter_events(self, since: datetime | None = None) -> Iterable[dict[str, Any]]:
        """Stored events in arrival order, as raw Segment-style dicts (for backtests)."""
        ...

    def customer_ids(self) -> list[str]: ...

    def iter_customer_events(
        self,
        until: datetime | None = None,
    ) -> Iterable[tuple[CustomerRecord, list[dict[str, Any]]]]:
        """Each customer with its stored events (oldest first), one customer at a
        time, streamed: what segmenters and KPI collectors read."""
        ...

    def close(self) -> None: ...
