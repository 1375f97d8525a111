"""What PostgreSQL needs that SQLite does not: it has no database-wide write
lock, and should not, so units of work claim what they touch.

* A unit of work claims the customers it loads: a transaction-scoped advisory
  lock per customer, taken in one sorted order so two batches cannot deadlock.
  A second unit of work loading any of them waits until the first ends, then
  reads what it wrote; customers in different batches proceed in parallel.
* Deliverers claiming effects skip rows another deliverer is claiming right
  now (`FOR UPDATE SKIP LOCKED`) rather than wait for them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Select


def lock_key(customer_id: str) -> int:
    """A customer's advisory-lock key: 64 bits of a hash, signed as bigint is.
    Two customers sharing a key only wait for each other needlessly."""
    digest = hashlib.blake2b(customer_id.encode(), digest_size=8, person=b"jf-customer").digest()
    return int.from_bytes(digest, "big", signed=True)


def claim_customers(conn: Connection, customer_ids: Iterable[str]) -> None:
    """Hold these customers until the transaction ends: another unit of work
    loading any of them waits here, so one customer's changes apply one batch
    at a time. Locks are taken in key order, so two batches with customers in
    common cannot each hold what the other waits for."""
    keys = sorted({lock_key(cid) for cid in customer_ids})
    conn.exec_driver_sql(
        "SELECT pg_advisory_xact_lock(k) FROM unnest(%(keys)s::bigint[])"
        " WITH ORDINALITY AS claimed(k, n) ORDER BY n",
        {"keys": keys},
    )


def skip_locked(query: Select[Any]) -> Select[Any]:
    """Rows another transaction is claiming right now are passed by, not waited for."""
    return query.with_for_update(skip_locked=True)
