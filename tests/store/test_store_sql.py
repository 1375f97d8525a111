"""The durable store: migrations, durability settings, and SQLite/PostgreSQL/memory
agreement on the same events."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, text

from journeyflow.cli import main
from journeyflow.store import MemoryStore, open_store
from journeyflow.store.base import Store
from journeyflow.store.sql import SqlStore
from journeyflow.store.tables import metadata
from journeyflow.testing.pytest_plugin import EngineFactory
from tests.helpers import at, identify, track
from tests.journeys import KEYED, REACTIVATION, SPLIT

# the newest migration's revision (files are named by it): an upgrade reaches it
NEWEST = max(
    p.name[:4]
    for p in (Path(__file__).parents[2] / "src/journeyflow/store/migrations/versions").glob("*.py")
)


def test_migrations_create_exactly_the_declared_tables(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'm.db'}")
    found = inspect(store.engine)
    assert set(found.get_table_names()) == set(metadata.tables) | {"alembic_version"}
    for table in metadata.sorted_tables:
        assert {c["name"] for c in found.get_columns(table.name)} == set(table.columns.keys())
        assert {i["name"] for i in found.get_indexes(table.name)} >= {i.name for i in table.indexes}
    with store.engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == NEWEST
    SqlStore(f"sqlite:///{tmp_path / 'm.db'}")  # upgrading an up-to-date file is a no-op


def test_sqlite_runs_in_wal_with_the_documented_synchronous_setting(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    store = SqlStore(f"sqlite:///{path}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    full = SqlStore(f"sqlite:///{path}?synchronous=FULL")
    with full.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _scenario() -> list[dict[str, Any]]:
    events = []
    for i in range(30):
        user = f"c{i}"
        events.append(identify(user, "2026-01-01T00:00:00Z", email=f"{user}@x.test"))
        events.append(
            track(
                user, "order_completed", "2026-01-01T10:00:00Z", total=10 * i, order_id=f"{user}-1"
            )
        )
        events.append(track(user, "go", "2026-01-02T10:00:00Z"))
        if i % 3 == 0:
            events.append(
                track(
                    user, "order_completed", "2026-03-01T10:00:00Z", total=5, order_id=f"{user}-2"
                )
            )
        if i % 7 == 0:
            events.append(track(user, "unsubscribed", "2026-03-02T10:00:00Z"))
    return events


def _snapshot(make: EngineFactory, store: Store | None = None) -> dict[str, Any]:
    """The scenario's outcome on `store` (by default a fresh in-memory store)."""
    engine = make(REACTIVATION, KEYED, SPLIT, store=store)
    engine.batch_size = 7  # several units of work
    events = _scenario()
    engine.ingest(events[:40])
    engine.advance_to(at("2026-02-01T00:00:00Z"))
    engine.ingest(events[40:])
    engine.advance_to(at("2026-12-31T00:00:00Z"))
    return {
        "enrolments": sorted(
            (e.id, e.state, e.status, e.seq, e.in_holdout, e.entered_at)
            for e in engine.enrolments()
        ),
        "history": sorted(
            (h.enrolment_id, h.seq, h.kind, h.from_state, h.to_state, h.cause, h.at)
            for h in engine.history()
        ),
        "effects": sorted(
            (f.key, f.channel, f.template, f.status, f.created_at) for f in engine.effects()
        ),
        "customers": sorted(
            (c, repr(sorted(engine.customer(c).attributes.items())))  # type: ignore[union-attr]
            for c in engine.store.customer_ids()
        ),
    }


def test_sqlite_file_and_memory_store_agree(
    tmp_path: Path, journeyflow_engine: EngineFactory
) -> None:
    sqlite = SqlStore(f"sqlite:///{tmp_path / 'a.db'}")
    assert _snapshot(journeyflow_engine, sqlite) == _snapshot(journeyflow_engine)


def test_postgresql_and_memory_store_agree(pg_url: str, journeyflow_engine: EngineFactory) -> None:
    store = open_store(pg_url)
    try:
        assert _snapshot(journeyflow_engine, store) == _snapshot(journeyflow_engine)
    finally:
        store.close()


def test_a_version_0001_database_upgrades_in_place(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", "journeyflow.store:migrations")
    with old.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            text(
                "insert into outbox (effect_key, channel, customer_id, journey, version, "
                "enrolment_id, created_at, data, status, attempts) values "
                "('k', 'email', 'c', 'j', 1, 'e', '2026-01-01 00:00:00', '{}', 'pending', 0)"
            )
        )
    old.dispose()
    store = SqlStore(url)  # upgrades to head
    (effect,) = store.get_effects()
    assert (effect.key, effect.seq, effect.action, effect.next_attempt_at) == ("k", 0, 0, None)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "is not a URL: write e.g. sqlite:///"),
        ("bogus://x", "database URL 'bogus://x': Can't load plugin"),
        ("sqlite:////nonexistent/folder/x.db", "unable to open database file"),
        # nothing listens on this loopback port; the password is never printed
        ("postgresql+psycopg://ann:secret@127.0.0.1:5999/crm", "'postgresql+psycopg://ann:***@"),
    ],
)
def test_a_database_that_cannot_be_opened_is_an_error_not_a_traceback(
    tmp_path: Path, url: str, says: str
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "track", "userId": "u1", "event": "signed_up"}\n')
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    result = CliRunner().invoke(
        main, ["ingest", str(events), "--journeys", str(journeys), "--database", url]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and says in result.output, result.output
    assert "Traceback" not in result.output and "secret" not in result.output


def test_a_database_error_mid_command_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "hello.yaml").write_text(
        "journey: hello\nversion: 1\nentry: {on: [signed_up]}\ninitial: done\n"
        "states:\n  done: {final: true}\n"
    )
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "track", "userId": "u1", "event": "signed_up"}\n')
    args = ["ingest", str(events), "--journeys", str(journeys), "--database"]
    assert CliRunner().invoke(main, [*args, f"sqlite:///{db}"]).exit_code == 0
    events.write_text('{"type": "track", "userId": "u2", "event": "signed_up"}\n')
    # opened read-only: the schema is there, the first write fails mid-command
    result = CliRunner().invoke(main, [*args, f"sqlite:///file:{db}?mode=ro&uri=true"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: database: attempt to write a readonly database")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("durable", [True, False])
def test_segments_of_a_customer_never_seen_before_are_kept_and_a_mere_look_stores_nothing(
    tmp_path: Path, durable: bool, journeyflow_engine: EngineFactory
) -> None:
    # found by the model test: the SQL store dropped a new customer whose only
    # news was a segment, and the memory store kept one that was only looked at
    store = SqlStore(f"sqlite:///{tmp_path / 's.db'}") if durable else MemoryStore()
    engine = journeyflow_engine(SPLIT, store=store)
    engine.set_segments("new", ["vip"], at("2026-01-01T00:00:00Z"))
    engine.set_segments("ghost", [], at("2026-01-01T00:00:00Z"))
    assert (record := engine.customer("new")) is not None and record.segments == ["vip"]
    assert engine.customer("ghost") is None
