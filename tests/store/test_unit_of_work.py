"""A unit of work is a context manager, alike on every store: it commits when
the block ends normally, rolls back (and the exception goes on) when the block
raises, and leaves alone a unit of work the block already ended itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from journeyflow.store import HistoryRecord, MemoryStore, Store, UnitOfWork
from journeyflow.store.sql import SqlStore

AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        opened: Store = MemoryStore()
    elif request.param == "sqlite":
        opened = SqlStore(f"sqlite:///{tmp_path / 'u.db'}")
    else:  # skipped when no server answers
        opened = SqlStore(request.getfixturevalue("pg_url"))
    yield opened
    opened.close()


class Boom(Exception):
    pass


def _change(uow: UnitOfWork, customer_id: str, plan: str) -> None:
    """Give the customer a plan and a line of history."""
    uow.load([customer_id])
    uow.customer(customer_id).attributes["plan"] = plan
    uow.add_history(HistoryRecord("e", customer_id, "j", 0, "note", None, None, "test", AT, plan))


def _stored(store: Store, customer_id: str) -> tuple[str | None, list[str | None]]:
    customer = store.get_customer(customer_id)
    plan = customer.attributes.get("plan") if customer else None
    return plan, [h.detail for h in store.get_history(customer_id)]


def test_a_block_that_ends_normally_commits(store: Store) -> None:
    with store.unit_of_work() as uow:
        _change(uow, "ann", "gold")
        assert _stored(store, "ann") == (None, [])  # nothing shows before the commit
    assert _stored(store, "ann") == ("gold", ["gold"])


def test_a_block_that_raises_rolls_back_and_the_exception_goes_on(store: Store) -> None:
    with pytest.raises(Boom), store.unit_of_work() as uow:
        _change(uow, "ann", "gold")
        raise Boom
    assert _stored(store, "ann") == (None, [])
    # the next unit of work is not kept waiting (SQLite: the write lock is let go)
    with store.unit_of_work() as uow:
        _change(uow, "ann", "silver")
    assert _stored(store, "ann") == ("silver", ["silver"])


def test_an_explicit_rollback_in_the_block_is_not_followed_by_a_commit(store: Store) -> None:
    # the runtime's timer batch does this when nothing is due
    with store.unit_of_work() as uow:
        _change(uow, "ann", "gold")
        uow.rollback()
    assert _stored(store, "ann") == (None, [])
    with store.unit_of_work() as uow:
        _change(uow, "bob", "gold")
    assert _stored(store, "bob") == ("gold", ["gold"])


def test_an_explicit_commit_in_the_block_is_kept_and_not_repeated(store: Store) -> None:
    with store.unit_of_work() as uow:
        _change(uow, "ann", "gold")
        uow.commit()
    assert _stored(store, "ann") == ("gold", ["gold"])  # one line of history, not two
    # an exception after the commit undoes nothing: the commit stands
    with pytest.raises(Boom), store.unit_of_work() as uow:
        _change(uow, "bob", "gold")
        uow.commit()
        raise Boom
    assert _stored(store, "bob") == ("gold", ["gold"])


def test_the_unit_of_work_is_what_the_block_gets(store: Store) -> None:
    uow = store.unit_of_work()
    with uow as entered:
        assert entered is uow


def test_a_commit_that_fails_at_the_end_of_the_block_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'f.db'}")
    with pytest.raises(Boom), store.unit_of_work() as uow:
        _change(uow, "ann", "gold")

        def fail() -> None:
            raise Boom

        monkeypatch.setattr(uow, "_write", fail)
    assert _stored(store, "ann") == (None, [])
    with store.unit_of_work() as uow:  # the write lock was let go
        _change(uow, "ann", "silver")
    assert _stored(store, "ann") == ("silver", ["silver"])
    store.close()
