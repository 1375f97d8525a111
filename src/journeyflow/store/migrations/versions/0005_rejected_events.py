"""Rejected events: the dead-letter table, each refused event with its reason.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejected_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("line", sa.Integer, nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("raw_truncated", sa.Boolean, nullable=False),
        sa.UniqueConstraint("fingerprint", name="uq_rejected_events_fingerprint"),
    )
    op.create_index("ix_rejected_events_received_at", "rejected_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_rejected_events_received_at", table_name="rejected_events")
    op.drop_table("rejected_events")
