"""Replicas: a lease on each dataset's snapshot job, and rate-limit windows counted in the database.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as table:
        table.add_column(sa.Column("claimed_by", sa.String))
        table.add_column(sa.Column("lease_until", sa.Float))
        table.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("snapshots", sa.Integer, nullable=False, server_default="0"))
    # datasets a worker already finished before leases existed count as snapshotted once
    op.execute("UPDATE datasets SET snapshots = 1, attempts = 1 WHERE status IN ('ready', 'failed')")
    op.create_table(
        "rate_windows", sa.Column("tenant", sa.String, primary_key=True),
        sa.Column("window", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("count", sa.Integer, nullable=False))


def downgrade() -> None:
    op.drop_table("rate_windows")
    with op.batch_alter_table("datasets") as table:
        for name in ("snapshots", "attempts", "lease_until", "claimed_by"):
            table.drop_column(name)
