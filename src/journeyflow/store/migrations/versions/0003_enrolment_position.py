"""Enrolments: the customer's n-th enrolment, the order events reach them in.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrolments") as batch:
        batch.add_column(sa.Column("position", sa.Integer, nullable=False, server_default="0"))
    # existing rows: number each customer's enrolments in the order they began
    op.execute(
        "UPDATE enrolments SET position = (SELECT COUNT(*) FROM enrolments AS e "
        "WHERE e.customer_id = enrolments.customer_id "
        "AND (e.started_at < enrolments.started_at "
        "OR (e.started_at = enrolments.started_at AND e.id < enrolments.id)))"
    )


def downgrade() -> None:
    with op.batch_alter_table("enrolments") as batch:
        batch.drop_column("position")
