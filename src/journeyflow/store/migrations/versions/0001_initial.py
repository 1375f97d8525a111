"""The first schema: customers, journey versions, enrolments, events, history, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("segments", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "journey_versions",
        sa.Column("journey", sa.String(100), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("loaded_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "enrolments",
        sa.Column("id", sa.String(600), primary_key=True),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("journey", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("key", sa.String(255), nullable=True),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("state", sa.String(100), nullable=False),
        sa.Column("entered_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("ended_at", sa.DateTime, nullable=True),
        sa.Column("end_reason", sa.String(255), nullable=True),
        sa.Column("in_holdout", sa.Boolean, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("timers", sa.JSON, nullable=False),
        sa.Column("next_due_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_enrolments_customer", "enrolments", ["customer_id"])
    op.create_index("ix_enrolments_next_due_at", "enrolments", ["next_due_at"])
    op.create_index("ix_enrolments_journey_state", "enrolments", ["journey", "status", "state"])
    op.create_table(
        "events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(255), nullable=False, unique=True),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("timestamp", sa.DateTime, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("processed_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_events_timestamp", "events", ["timestamp"])
    op.create_table(
        "history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("enrolment_id", sa.String(600), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("journey", sa.String(100), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("from_state", sa.String(100), nullable=True),
        sa.Column("to_state", sa.String(100), nullable=True),
        sa.Column("cause", sa.String(500), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_index("ix_history_customer", "history", ["customer_id"])
    op.create_index("ix_history_journey", "history", ["journey"])
    op.create_table(
        "outbox",
        sa.Column("effect_key", sa.String(64), primary_key=True),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("journey", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("enrolment_id", sa.String(600), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("template", sa.String(255), nullable=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_outbox_status", "outbox", ["status", "created_at"])
    op.create_index("ix_outbox_customer", "outbox", ["customer_id"])


def downgrade() -> None:
    for table in ("outbox", "history", "events", "enrolments", "journey_versions", "customers"):
        op.drop_table(table)
