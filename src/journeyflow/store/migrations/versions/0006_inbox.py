"""Inbox: events the HTTP ingest accepted, waiting to be applied in order.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("shard", sa.SmallInteger, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("message_id", name="uq_inbox_message_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_inbox_shard_seq", "inbox", ["shard", "seq"])


def downgrade() -> None:
    op.drop_index("ix_inbox_shard_seq", table_name="inbox")
    op.drop_table("inbox")
