"""An in-memory store: what `journeyflow test`, simulations and backtests use.

It follows the same unit-of-work contract as the SQL store: records are copied
in on `load` and copied back on `commit`, so a rolled-back unit of work leaves
nothing behind, exactly as a database transaction would.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from journeyflow.store.deadletter import MemoryDeadLetters
from journeyflow.store.records import (
    CustomerRecord,
    Effect,
    EnrolmentRecord,
    HistoryRecord,
    effect_order,
)
from journeyflow.store.unit import LoadedRecords


class MemoryStore(MemoryDeadLetters):
    def __init__(self) -> None:
        super().__init__()  # the rejected events (deadletter.py)
        self.customers: dict[str, CustomerRecord] = {}
        self.enrolments: dict[str, EnrolmentRecord] = {}
        self.by_customer: dict[str, list[str]] = {}
        self.events: dict[str, dict[str, Any]] = {}  # messageId -> raw event, in arrival order
        self.history: list[HistoryRecord] = []
        self.effects: dict[str, Effect] = {}
        self.versions: dict[tuple[str, int], tuple[str, str]] = {}
        self.claims: dict[str, str] = {}  # effect key -> the token of the claim holding it

    def unit_of_work(self) -> _MemoryUnitOfWork:
        return _MemoryUnitOfWork(self)

    # journey versions
    def journey_version(self, journey: str, version: int) -> tuple[str, str] | None:
        return self.versions.get((journey, version))

    def save_journey_version(
        self, journey: str, version: int, content_hash: str, source: str
    ) -> None:
        self.versions.setdefault((journey, version), (content_hash, source))

    def journey_versions(self, journey: str) -> list[int]:
        return sorted(v for (j, v) in self.versions if j == journey)

    # queries
    def get_customer(self, customer_id: str) -> CustomerRecord | None:
        found = self.customers.get(customer_id)
        return copy.deepcopy(found) if found else None

    def get_enrolments(
        self, customer_id: str | None = None, journey: str | None = None
    ) -> list[EnrolmentRecord]:
        # the SQL store's order: by customer, then the customer's n-th enrolment
        ids = (
            self.by_customer.get(customer_id, [])
            if customer_id is not None
            else [i for c in sorted(self.by_customer) for i in self.by_customer[c]]
        )
        return [
            copy.deepcopy(self.enrolments[i])
            for i in ids
            if journey is None or self.enrolments[i].journey == journey
        ]

    def get_history(
        self, customer_id: str | None = None, journey: str | None = None
    ) -> list[HistoryRecord]:
        return [
            h
            for h in self.history
            if (customer_id is None or h.customer_id == customer_id)
            and (journey is None or h.journey == journey)
        ]

    def get_effects(
        self, customer_id: str | None = None, status: str | None = None
    ) -> list[Effect]:
        found = [
            e
            for e in self.effects.values()
            if (customer_id is None or e.customer_id == customer_id)
            and (status is None or e.status == status)
        ]
        # the SQL store's order: time, then enrolment, then (transition, action)
        return sorted(found, key=effect_order)

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
        found = [
            e
            for e in self.get_effects()
            if e.channel == channel
            and (statuses is None or e.status in statuses)
            and (owner is None or e.data.get("owner") == owner)
            and (key_prefix is None or e.key.startswith(key_prefix))
        ]
        return found[offset:] if limit is None else found[offset : offset + limit]

    def update_effect(
        self,
        key: str,
        status: str,
        attempts: int,
        last_error: str | None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        self.effects[key] = replace(
            self.effects[key],
            status=status,
            attempts=attempts,
            last_error=last_error,
            next_attempt_at=next_attempt_at,
        )

    def claim_effects(
        self,
        due_by: datetime,
        limit: int,
        until: datetime,
        token: str,
        *,
        skip_channels: Collection[str] = (),
    ) -> list[Effect]:
        pending = self.get_effects(None, "pending")
        claimed = [
            e
            for e in pending
            if (e.next_attempt_at is None or e.next_attempt_at <= due_by)
            and e.channel not in skip_channels
        ][:limit]
        for effect in claimed:
            self.effects[effect.key] = replace(effect, next_attempt_at=until)
            self.claims[effect.key] = token
        return claimed

    def renew_claim(
        self, token: str, until: datetime, keys: Collection[str] | None = None
    ) -> set[str]:
        held = {
            key
            for key, holder in self.claims.items()
            if holder == token
            and self.effects[key].status == "pending"
            and (keys is None or key in keys)
        }
        for key in held:
            self.effects[key] = replace(self.effects[key], next_attempt_at=until)
        return held

    def record_attempt(
        self,
        key: str,
        token: str,
        status: str,
        attempts: int,
        last_error: str | None,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        if self.claims.get(key) != token:
            return False
        del self.claims[key]
        self.update_effect(key, status, attempts, last_error, next_attempt_at)
        return True

    def waiting_effects(self, now: datetime) -> int:
        return sum(
            1
            for e in self.effects.values()
            if e.status == "pending" and e.next_attempt_at is not None and e.next_attempt_at > now
        )

    # the outbox as an operator sees it
    def _matching(
        self,
        *,
        statuses: Sequence[str] | None = None,
        channel: str | None = None,
        customer_id: str | None = None,
        key_prefixes: Sequence[str] | None = None,
        before: datetime | None = None,
        except_channel: str | None = None,
    ) -> list[Effect]:
        return [
            e
            for e in self.get_effects(customer_id)
            if (statuses is None or e.status in statuses)
            and (channel is None or e.channel == channel)
            and (except_channel is None or e.channel != except_channel)
            and (key_prefixes is None or any(e.key.startswith(p) for p in key_prefixes))
            and (before is None or e.created_at < before)
        ]

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
        found = self._matching(
            statuses=statuses, channel=channel, customer_id=customer_id, key_prefixes=key_prefixes
        )
        return found[offset:] if limit is None else found[offset : offset + limit]

    def outbox_counts(
        self, *, channel: str | None = None, customer_id: str | None = None
    ) -> dict[str, int]:
        counts: dict[str, int] = {}
        for e in self._matching(channel=channel, customer_id=customer_id):
            counts[e.status] = counts.get(e.status, 0) + 1
        return counts

    def retry_effects(
        self,
        *,
        statuses: Sequence[str] = ("failed",),
        channel: str | None = None,
        customer_id: str | None = None,
        key_prefixes: Sequence[str] | None = None,
    ) -> int:
        found = self._matching(
            statuses=statuses, channel=channel, customer_id=customer_id, key_prefixes=key_prefixes
        )
        for e in found:
            self.claims.pop(e.key, None)
            self.effects[e.key] = replace(e, status="pending", attempts=0, next_attempt_at=None)
        return len(found)

    def purge_effects(
        self,
        before: datetime,
        statuses: Sequence[str],
        *,
        channel: str | None = None,
        except_channel: str | None = None,
        dry_run: bool = False,
    ) -> int:
        found = self._matching(
            statuses=statuses, channel=channel, except_channel=except_channel, before=before
        )
        if not dry_run:
            for e in found:
                del self.effects[e.key]
                self.claims.pop(e.key, None)
        return len(found)

    def count_events(self) -> int:
        return len(self.events)

    def iter_events(self, since: datetime | None = None) -> Iterable[dict[str, Any]]:
        for raw in list(self.events.values()):
            if since is None or raw["timestamp"] >= since.isoformat():
                yield raw

    def customer_ids(self) -> list[str]:
        return sorted(self.customers)

    def iter_customer_events(
        self,
        until: datetime | None = None,
    ) -> Iterable[tuple[CustomerRecord, list[dict[str, Any]]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for raw in self.events.values():
            if until is None or raw["timestamp"] <= until.isoformat():
                grouped.setdefault(raw["userId"], []).append(copy.deepcopy(raw))
        for cid in sorted(self.customers):
            events = sorted(grouped.get(cid, []), key=lambda e: e["timestamp"])
            yield copy.deepcopy(self.customers[cid]), events

    def close(self) -> None:
        pass


class _MemoryUnitOfWork(LoadedRecords):
    """Copies of the loaded records; commit copies every one of them back."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__()
        self._store = store

    def seen_messages(self, message_ids: Sequence[str]) -> set[str]:
        return {m for m in message_ids if m in self._store.events}

    def load(self, customer_ids: Iterable[str]) -> None:
        for cid in customer_ids:
            if cid in self._customers:
                continue
            stored = self._store.customers.get(cid)
            self._customers[cid] = copy.deepcopy(stored) if stored else CustomerRecord(cid)
            self._enrolments[cid] = [
                copy.deepcopy(self._store.enrolments[i])
                for i in self._store.by_customer.get(cid, [])
            ]

    def due_customers(self, until: datetime, limit: int) -> list[str]:
        due = sorted(
            (e.next_due_at, e.customer_id)
            for e in self._store.enrolments.values()
            if e.active and e.next_due_at is not None and e.next_due_at <= until
        )
        seen: dict[str, None] = {}
        for _, cid in due:
            seen.setdefault(cid, None)
        return list(seen)[:limit]

    def commit(self) -> None:
        s = self._store
        with_events = {e.customer_id for e in self._events}
        for cid, record in self._customers.items():
            if cid not in s.customers and not self._worth_storing(record, with_events):
                continue  # looked at, never stored
            s.customers[cid] = copy.deepcopy(record)
            for enrolment in self._enrolments[cid]:
                if enrolment.id not in s.enrolments:
                    s.by_customer.setdefault(cid, []).append(enrolment.id)
                s.enrolments[enrolment.id] = copy.deepcopy(enrolment)
        for event in self._events:
            s.events.setdefault(event.message_id, copy.deepcopy(event.to_raw()))
        s.history.extend(self._history)
        for effect in self._effects:
            s.effects.setdefault(effect.key, effect)
        self.rollback()  # written: let go of the copies

    def rollback(self) -> None:
        self._ended = True
        self._customers.clear()
        self._enrolments.clear()
        self._events.clear()
        self._history.clear()
        self._effects.clear()
