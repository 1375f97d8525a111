"""Customers kept between units of work, so a hot customer is not read back.

A customer seen in the last few batches is usually seen again soon; reading it
back (two SELECTs, JSON decoding, record building, a snapshot) was about a fifth
of the SQL engine's time per event. The cache keeps, per customer, the records
*as last committed* and the snapshots commit compares them with.

It is only ever right while nothing else writes the database, so it is tied to
one database connection (SQLite's: see `sqlite.py`), and:

* it is thrown away whole when another connection committed since (SQLite's
  `PRAGMA data_version`, read under the write lock at the start of each unit
  of work, tells);
* a unit of work takes the customers it loads out of it and puts them back
  only when it commits: after a rollback, records that may have been changed
  in place are read again from the database.

It is bounded (least recently used customers go first), so memory stays flat
however many customers there are. The hit and miss counts are for the
benchmarks.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from journeyflow.store.records import CustomerRecord, EnrolmentRecord

DEFAULT_CAPACITY = 10_000  # customers; about 2 KB each with two enrolments


@dataclass
class CachedCustomer:
    customer: CustomerRecord
    snapshot: tuple[Any, ...]  # the customer as stored: what commit compares with
    enrolments: list[EnrolmentRecord]
    snapshots: dict[str, tuple[Any, ...]]  # enrolment id -> stored fields


class RecordCache:
    """Committed customers by id, least recently used first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.data_version: Any = None  # of the database, when the entries were right
        self._entries: OrderedDict[str, CachedCustomer] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, customer_id: str) -> CachedCustomer | None:
        """The customer's committed records, removed from the cache while a unit
        of work changes them (put back by `keep` on commit)."""
        entry = self._entries.pop(customer_id, None)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def keep(self, customer_id: str, entry: CachedCustomer) -> None:
        """Hold a customer as just committed; the least recently used go beyond
        the capacity."""
        self._entries[customer_id] = entry
        self._entries.move_to_end(customer_id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self.data_version = None
