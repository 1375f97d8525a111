"""Enrolments: the enrolment context of journey language v1.1 — the event that
created the enrolment (`trigger`), its variables (`vars`) and how many times
it entered each state (`visits`).

Active enrolments get what their history and the stored events tell: visits
counted from the history's entries (an internal transition is no entry), the
trigger from the stored event that enrolled them (none for an enrolment made
by a segment or an emitted event, which are not stored: `trigger` is then an
empty map, as `event` in a timer). Ended enrolments never evaluate CEL again
and keep empty values.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrolments") as batch:
        batch.add_column(sa.Column("trigger", sa.JSON, nullable=True))
        batch.add_column(sa.Column("vars", sa.JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("visits", sa.JSON, nullable=False, server_default="{}"))
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    meta = sa.MetaData()  # reflected: JSON columns take and give Python values
    enrolments = sa.Table("enrolments", meta, autoload_with=conn)
    history = sa.Table("history", meta, autoload_with=conn)
    events = sa.Table("events", meta, autoload_with=conn)
    active = conn.execute(
        sa.select(enrolments.c.id, enrolments.c.customer_id, enrolments.c.started_at).where(
            enrolments.c.status == "active"
        )
    ).all()
    for enrolment_id, customer_id, started_at in active:
        visits: dict[str, int] = {}
        trigger: dict[str, Any] | None = None
        rows = conn.execute(
            sa.select(history.c.kind, history.c.to_state, history.c.detail, history.c.cause)
            .where(history.c.enrolment_id == enrolment_id)
            .order_by(history.c.id)
        ).all()
        for kind, to_state, detail, cause in rows:
            entered = kind == "enter" or (kind == "transition" and detail != "internal")
            if entered and to_state is not None:
                visits[to_state] = visits.get(to_state, 0) + 1
            if kind == "enter" and trigger is None and cause.startswith("event:"):
                trigger = _stored_event(conn, events, customer_id, cause[6:], started_at)
        conn.execute(
            enrolments.update()
            .where(enrolments.c.id == enrolment_id)
            .values(visits=visits, trigger=trigger)
        )


def _stored_event(
    conn: sa.Connection, events: sa.Table, customer_id: str, name: str, at: datetime
) -> dict[str, Any] | None:
    found = conn.execute(
        sa.select(events.c.type, events.c.payload)
        .where(events.c.customer_id == customer_id)
        .where(events.c.name == name)
        .where(events.c.timestamp == at)
        .order_by(events.c.seq)
        .limit(1)
    ).first()
    if found is None:
        return None
    kind, payload = found
    if isinstance(payload, str):
        payload = json.loads(payload)
    moment = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at
    return {
        "name": name,
        "type": kind,
        "properties": dict(payload.get("properties") or {}),
        "traits": dict(payload.get("traits") or {}),
        "timestamp": moment.isoformat(),
    }


def downgrade() -> None:
    with op.batch_alter_table("enrolments") as batch:
        batch.drop_column("visits")
        batch.drop_column("vars")
        batch.drop_column("trigger")
