"""What one event can cause is isolated; what any batch would meet stops the
ingest (store/faults.py). Real exception classes from the driver (PEP 249 names
them alike for every driver) and from SQLAlchemy, as the store raises them."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import exc as sa

from journeyflow.store.faults import stops_everything


@pytest.mark.parametrize(
    "error",
    [
        sa.OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked")),
        sa.InterfaceError("SELECT 1", {}, sqlite3.InterfaceError("connection is closed")),
        sqlite3.OperationalError("disk I/O error"),
        ConnectionResetError("reset by peer"),
        TimeoutError("timed out"),
        MemoryError(),
        KeyboardInterrupt(),
    ],
)
def test_what_any_batch_would_meet_stops_everything(error: BaseException) -> None:
    assert stops_everything(error)


@pytest.mark.parametrize(
    "error",
    [
        sa.IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("poison is not stored here")),
        sa.DataError("INSERT ...", {}, sqlite3.DataError("value too long for type")),
        sa.InternalError("INSERT ...", {}, sqlite3.DatabaseError("raised by a trigger")),
        OverflowError("date value out of range"),
        ValueError("a value one event brought"),
    ],
)
def test_what_one_event_can_cause_is_isolated(error: BaseException) -> None:
    assert not stops_everything(error)
