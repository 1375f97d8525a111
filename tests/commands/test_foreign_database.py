"""A database journeyflow cannot use is refused in one line, untouched: a file
of random bytes, another application's SQLite file, and a database a newer
journeyflow migrated. Each through the real command line, as a user meets it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from journeyflow.exceptions import StoreError
from journeyflow.store import open_store


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _other_application(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("CREATE TABLE clients (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()


def _newer_journeyflow(path: Path) -> None:
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999'")
    conn.close()


CASES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "random bytes": (_random_bytes, ["is not a SQLite database", "file is not a database"]),
    "another application": (
        _other_application,
        ["is not a journeyflow database", "clients, invoices"],
    ),
    "a newer journeyflow": (_newer_journeyflow, ["'0999'", "upgrade journeyflow"]),
}
COMMANDS = [["kpis"], ["tasks"], ["ingest", "-"]]


@pytest.mark.parametrize("case", CASES)
def test_a_database_journeyflow_cannot_use_is_one_line_and_left_untouched(
    tmp_path: Path, case: str
) -> None:
    make, expected = CASES[case]
    path = tmp_path / "crm.db"
    make(path)
    before = path.read_bytes()
    for args in COMMANDS:
        ran = subprocess.run(
            [sys.executable, "-m", "journeyflow.cli", *args, "--database", f"sqlite:///{path}"],
            input="",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 1, (args, ran.stderr)
        lines = ran.stderr.strip().splitlines()
        assert len(lines) == 1, (args, ran.stderr)
        assert lines[0].startswith(f"Error: the file {path} "), (args, lines[0])
        for words in expected:
            assert words in lines[0], (args, lines[0])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.db"]  # no -wal, no -shm


def test_a_postgresql_database_of_a_newer_journeyflow_is_refused(pg_url: str) -> None:
    open_store(pg_url).close()
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    with pytest.raises(StoreError, match=r"the database postgresql\+psycopg://.*'0999'.*upgrade"):
        open_store(pg_url)


def test_a_postgresql_database_of_another_application_is_refused(pg_url: str) -> None:
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id integer PRIMARY KEY)"))
    with pytest.raises(StoreError, match=r"not a journeyflow database.*\(invoices\)"):
        open_store(pg_url)
    with engine.connect() as conn:  # nothing of ours was created
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        assert tables.scalars().all() == ["invoices"]
    engine.dispose()


def test_procrastinate_tables_installed_first_do_not_make_a_database_foreign(
    pg_url: str,
) -> None:
    """An operator may install the fleet's job queue (`procrastinate schema
    --apply`) before journeyflow first opens the database."""
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE procrastinate_jobs (id bigint PRIMARY KEY)"))
    open_store(pg_url).close()
    with engine.connect() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        assert {"procrastinate_jobs", "alembic_version", "events", "inbox"} <= set(tables.scalars())
    engine.dispose()
