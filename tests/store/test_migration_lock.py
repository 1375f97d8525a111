"""Processes started at once on an empty database all open it: the schema
upgrade runs under a lock (`store/sql/schema.py`), so one creates the schema
and the others find it at head. Without the lock, one of three processes
died in most rounds on PostgreSQL (6 of 7) and some on SQLite (2 of 7)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect, text

from journeyflow.store.sql.schema import head
from journeyflow.store.tables import metadata

PROCESSES = 3
OPEN = "import sys; from journeyflow import open_store; open_store(sys.argv[1]).close()"


@pytest.mark.parametrize("round_", range(5))
def test_processes_starting_together_on_an_empty_database_all_open_it(
    shared_url: str, round_: int
) -> None:
    started = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, shared_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    ended = [(p.wait(timeout=120), p.communicate()[1]) for p in started]
    assert [rc for rc, _ in ended] == [0] * PROCESSES, [err for _, err in ended]
    engine = create_engine(shared_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT version_num FROM alembic_version"))
            assert stored.scalars().all() == [head()]
            assert set(inspect(conn).get_table_names()) == set(metadata.tables) | {
                "alembic_version"
            }
    finally:
        engine.dispose()
