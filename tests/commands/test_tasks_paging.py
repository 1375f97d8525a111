"""`journeyflow tasks` reads a page of tasks, not the outbox: the channel, the
status, the owner and the page are asked of the database. An outbox of
20,000 rows (mostly e-mails) lists 10 tasks by reading 10 rows."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert

from journeyflow.exceptions import JourneyflowError
from journeyflow.plugin.builtin import task as task_channel
from journeyflow.plugin.builtin.task import complete_task, list_tasks
from journeyflow.store import MemoryStore, open_store
from journeyflow.store import tables as t
from journeyflow.store.base import Store
from journeyflow.store.sql import SqlStore
from journeyflow.store.sql import tasks as sql_tasks
from journeyflow.store.sql.rows import effect_row
from journeyflow.types import Effect

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
OWNERS = ("front-desk", "tailor", "manager")


def _outbox(rows: int) -> list[Effect]:
    """Every 20th effect a task (owners in turn, every 7th task done), the rest e-mails."""
    effects = []
    for i in range(rows):
        is_task = i % 20 == 0
        n = i // 20
        effects.append(
            Effect(
                key=f"{i:064x}",
                channel="task" if is_task else "email",
                customer_id=f"c{i % 500}",
                journey="j",
                version=1,
                enrolment_id=f"j/c{i % 500}#1",
                created_at=START + timedelta(minutes=i),
                template=None if is_task else "welcome",
                data={"owner": OWNERS[n % 3], "title": f"call {i}"}
                if is_task
                else {"subject": "hello " * 40},
                status=("done" if n % 7 == 0 else "pending") if is_task else "sent",
            )
        )
    return effects


def _fill(store: Store, effects: list[Effect]) -> None:
    if isinstance(store, MemoryStore):
        store.effects.update((e.key, e) for e in effects)
        return
    assert isinstance(store, SqlStore)
    with store.engine.begin() as conn:
        conn.execute(insert(t.outbox), [effect_row(e) for e in effects])


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('tasks') / 'outbox.db'}"
    store = open_store(url)
    _fill(store, _outbox(20_000))
    store.close()
    return url


def test_ten_tasks_of_twenty_thousand_rows_read_ten_rows(
    big_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(big_file)
    assert isinstance(store, SqlStore)
    records = 0
    real = sql_tasks.effect_record

    def counted(row: Any) -> Effect:
        nonlocal records
        records += 1
        return real(row)

    monkeypatch.setattr(sql_tasks, "effect_record", counted)
    statements: list[str] = []
    event.listen(
        store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]), named=False
    )
    try:
        page = list_tasks(store, owner="tailor", limit=10, offset=10)
    finally:
        store.close()
    assert records == 10
    [query] = [s for s in statements if "FROM outbox" in s]
    assert "LIMIT" in query and "channel" in query and "status IN" in query
    # the 11th to 20th open tasks of the tailor, oldest first
    expected = [
        e
        for e in _outbox(20_000)
        if e.channel == "task" and e.status == "pending" and e.data["owner"] == "tailor"
    ][10:20]
    assert [e.key for e in page] == [e.key for e in expected]


def test_the_command_pages_and_says_where_the_next_page_starts(big_file: str) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "journeyflow.cli", "tasks", "--database", big_file, *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    first = run("--limit", "10")
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.splitlines()) == 10
    assert first.stderr.strip() == "10 open tasks; more with --offset 10"
    second = run("--limit", "10", "--offset", "10")
    assert second.stderr.strip() == "10 open tasks after the first 10; more with --offset 20"
    assert not set(first.stdout.splitlines()) & set(second.stdout.splitlines())
    # 1,000 tasks, 143 of them done: the last page says nothing of more
    last = run("--status", "done", "--limit", "100", "--offset", "100")
    assert last.stderr.strip() == "43 done tasks after the first 100"
    refused = run("--limit", "0")
    assert refused.returncode == 2 and "--limit" in refused.stderr


@pytest.mark.parametrize("owner", [None, "front-desk"])
@pytest.mark.parametrize("status", ["open", "done", "all"])
def test_sql_and_memory_stores_page_alike(shared_url: str, status: str, owner: str | None) -> None:
    effects = _outbox(600)
    memory, sql = MemoryStore(), open_store(shared_url)
    _fill(memory, effects)
    _fill(sql, effects)
    try:
        whole = list_tasks(memory, owner=owner, status=status)
        assert whole  # the case means something
        for store in (memory, sql):
            pages = [
                list_tasks(store, owner=owner, status=status, limit=4, offset=offset)
                for offset in range(0, len(whole) + 4, 4)
            ]
            assert [e.key for page in pages for e in page] == [e.key for e in whole]
            assert list_tasks(store, owner=owner, status=status) == whole
    finally:
        sql.close()


def test_done_finds_a_task_by_key_prefix_without_reading_the_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'done.db'}")
    _fill(store, _outbox(2000))
    records = 0
    real = sql_tasks.effect_record

    def counted(row: Any) -> Effect:
        nonlocal records
        records += 1
        return real(row)

    monkeypatch.setattr(sql_tasks, "effect_record", counted)
    try:
        with pytest.raises(JourneyflowError, match="more than 5 tasks have keys starting with"):
            complete_task(store, "0000")
        assert records == 6
        key = f"{20:064x}"  # the second task: open
        assert complete_task(store, key[:63]).key == key  # 0x10-0x1f: one task
        [done] = store.effects_page(task_channel.CHANNEL, None, key_prefix=key)
        assert done.status == "done"
        with pytest.raises(JourneyflowError, match="no task has a key starting with '%'"):
            complete_task(store, "%")  # a LIKE wildcard is a character like any other
    finally:
        store.close()
