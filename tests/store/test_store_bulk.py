"""The SQLite fast path writes, byte for byte, what SQLAlchemy itself writes
(given the store's JSON serializer); the serializer writes what json would;
an enrolment's row is its record's fields, there and back."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, create_engine, insert

from journeyflow.store import tables as t
from journeyflow.store.records import EnrolmentRecord
from journeyflow.store.sql.bulk import BulkStatement
from journeyflow.store.sql.rows import (
    ENROLMENT_FIELDS,
    enrolment_record,
    enrolment_row,
    json_text,
)

MOMENTS = [
    datetime(2026, 1, 1),  # no microseconds: still written with .000000
    datetime(2026, 3, 29, 1, 59, 59, 999999),
    datetime(999, 12, 31, 23, 0, 0, 5),  # a year below 1000 is zero-padded
    datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),  # aware: to UTC
]


def _outbox_rows() -> list[dict[str, Any]]:
    return [
        {
            "effect_key": f"k{i}",
            "channel": "email",
            "customer_id": "ann",
            "journey": "j",
            "version": 1,
            "enrolment_id": "j:ann:1",
            "created_at": moment,
            "template": None if i % 2 else "hello",
            "data": {"n": i, "nested": {"list": [1, "two", None]}, "é": "ü"},
            "status": "pending",
            "attempts": 0,
            "last_error": None,
            "seq": i,
            "action": 0,
            "next_attempt_at": None if i % 2 else moment,
        }
        for i, moment in enumerate(MOMENTS)
    ]


def _enrolments(*, aware: bool = False) -> list[EnrolmentRecord]:
    moments = [m.replace(tzinfo=m.tzinfo or timezone.utc) for m in MOMENTS] if aware else MOMENTS
    return [
        EnrolmentRecord(
            id=f"j:c{i}:1",
            customer_id=f"c{i}",
            journey="j",
            version=1,
            key=None if i % 2 else "k",
            ordinal=1,
            state="s",
            entered_at=moment,
            started_at=moment,
            status="active" if i < 3 else "exited",
            ended_at=None if i < 3 else moment,
            in_holdout=bool(i % 2),
            timers=[(0, moment), (2, moment + timedelta(days=1))],
            position=i,
        )
        for i, moment in enumerate(moments)
    ]


def _enrolment_rows() -> list[dict[str, Any]]:
    # the store's own rows, with aware moments put back: the fast path takes
    # those too, so both paths are compared on a conversion
    return [
        {**enrolment_row(e), "entered_at": e.entered_at, "next_due_at": e.next_due_at}
        for e in _enrolments()
    ]


def _dump(path: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"select * from {table} order by 1").fetchall()


@pytest.mark.parametrize(
    ("table", "rows"), [(t.outbox, _outbox_rows()), (t.enrolments, _enrolment_rows())]
)
def test_inserts_match_sqlalchemy(tmp_path: Path, table: Any, rows: list[dict[str, Any]]) -> None:
    dumps = []
    for name, fast in (("sa", False), ("bulk", True)):
        path = tmp_path / f"{name}.db"
        # the store gives SQLAlchemy its JSON serializer too
        db = create_engine(f"sqlite:///{path}", json_serializer=json_text)
        t.metadata.create_all(db)
        with db.begin() as conn:
            if fast:
                BulkStatement(insert(table), db.dialect).execute(conn, rows)
            else:
                # SQLAlchemy stores aware moments by their wall-clock fields; the
                # store hands it naive UTC, so compare on what the store would pass
                conn.execute(insert(table), [_as_store_passes(r) for r in rows])
        db.dispose()
        dumps.append(_dump(path, table.name))
    assert dumps[0] == dumps[1]
    assert len(dumps[0]) == len(rows)


def test_update_sets_only_the_named_columns(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    db = create_engine(f"sqlite:///{path}")
    t.metadata.create_all(db)
    rows = _enrolment_rows()
    update = (
        t.enrolments.update()
        .where(t.enrolments.c.id == bindparam("b_id"))
        .values(seq=bindparam("seq"), next_due_at=bindparam("next_due_at"))
    )
    with db.begin() as conn:
        conn.execute(insert(t.enrolments), [_as_store_passes(r) for r in rows])
        BulkStatement(update, db.dialect).execute(
            conn, [{"b_id": r["id"], "seq": 7, "next_due_at": None} for r in rows[:2]]
        )
    db.dispose()
    with sqlite3.connect(path) as conn:
        got = {
            r[0]: r[1:] for r in conn.execute("select id, seq, next_due_at, state from enrolments")
        }
    assert got["j:c0:1"] == (7, None, "s")
    assert got["j:c1:1"] == (7, None, "s")
    assert got["j:c2:1"][0] == 0 and got["j:c2:1"][1] is not None


def _as_store_passes(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.astimezone(timezone.utc).replace(tzinfo=None)
        if isinstance(v, datetime) and v.tzinfo
        else v
        for k, v in row.items()
    }


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1.5, None, True], "c": {"d": "é"}},
        {1: "int key", "when": datetime(2026, 1, 1, 9, 30, tzinfo=timezone.utc)},
        {"big": 2**70},  # beyond orjson's 64 bits: json takes over
        [("tuple", 1)],
    ],
)
def test_json_text_reads_back_as_json_would_have_written_it(value: Any) -> None:
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v.isoformat() if isinstance(v, datetime) else v

    assert json.loads(json_text(value)) == json.loads(json.dumps(plain(value)))


def test_an_enrolment_row_holds_every_field_and_reads_back_as_the_record() -> None:
    # the columns are the record's fields plus the due-timer index's column
    assert set(t.enrolments.c.keys()) == {*ENROLMENT_FIELDS, "next_due_at"}
    # the engine's moments are aware; one from another zone comes back as UTC
    for enrolment in _enrolments(aware=True):
        row = enrolment_row(enrolment)
        assert set(row) == set(t.enrolments.c.keys())
        assert all(v.tzinfo is None for v in row.values() if isinstance(v, datetime))
        # as the database hands the row back: the JSON column parsed from its text
        back = enrolment_record({**row, "timers": json.loads(json_text(row["timers"]))})
        assert back == enrolment  # aware moments compare by instant
        assert back.entered_at.tzinfo is timezone.utc
