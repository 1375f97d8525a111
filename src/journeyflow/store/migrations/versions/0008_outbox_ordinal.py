"""Outbox: the order effects were produced in, so one instant's effects are
listed in their causal order (a timer's sends before those its emit caused).

Rows written before keep 0 and sort, at one instant, as they did (by
enrolment, transition, action).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:  # SQLite rebuilds the table
        batch.add_column(sa.Column("ordinal", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("ordinal")
