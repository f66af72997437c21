"""The base schema: files, batches, items, labels, columnar box chunks, datasets, exports.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("meta", sa.Column("key", sa.String, primary_key=True), sa.Column("value", sa.Text, nullable=False))
    op.create_table(
        "files", sa.Column("id", sa.String, primary_key=True), sa.Column("tenant", sa.String, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False), sa.Column("content_type", sa.String, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False), sa.Column("storage_path", sa.Text, nullable=False),
        sa.Column("created_at", sa.String, nullable=False))
    op.create_table(
        "batches", sa.Column("key", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String, nullable=False, unique=True), sa.Column("tenant", sa.String, nullable=False),
        sa.Column("name", sa.Text), sa.Column("status", sa.String, nullable=False),
        sa.Column("total_items", sa.Integer, nullable=False, server_default="0"),
        sa.Column("successful_items", sa.Integer, nullable=False, server_default="0"),
        sa.Column("failed_items", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.String, nullable=False), sa.Column("completed_at", sa.String))
    op.create_index("batches_by_tenant", "batches", ["tenant", "created_at"])
    op.create_table(
        "items", sa.Column("bkey", sa.Integer, sa.ForeignKey("batches.key"), primary_key=True),
        sa.Column("item_index", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("item_id", sa.String, nullable=False), sa.Column("status", sa.String, nullable=False),
        sa.Column("file_id", sa.String), sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("width", sa.Integer), sa.Column("height", sa.Integer), sa.Column("description", sa.Text),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"), sa.Column("error_message", sa.Text),
        sa.Column("processed_at", sa.String))
    op.create_index("items_by_id", "items", ["item_id"])
    op.create_table("labels", sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("name", sa.Text, nullable=False, unique=True))
    op.create_table("batch_labels", sa.Column("bkey", sa.Integer, primary_key=True, autoincrement=False),
                    sa.Column("label_id", sa.Integer, primary_key=True, autoincrement=False))
    op.create_table(
        "box_chunks", sa.Column("bkey", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("chunk_no", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("first_item", sa.Integer, nullable=False), sa.Column("last_item", sa.Integer, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        *(sa.Column(name, sa.LargeBinary, nullable=False)
          for name in ("item_index", "seq", "label_id", "confidence", "x", "y", "w", "h")))
    op.create_table(
        "datasets", sa.Column("key", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String, nullable=False, unique=True), sa.Column("tenant", sa.String, nullable=False),
        sa.Column("name", sa.Text, nullable=False), sa.Column("description", sa.Text),
        sa.Column("batch_id", sa.String, nullable=False),
        sa.Column("bkey", sa.Integer, sa.ForeignKey("batches.key"), nullable=False),
        sa.Column("status", sa.String, nullable=False), sa.Column("created_at", sa.String, nullable=False),
        sa.Column("updated_at", sa.String, nullable=False),
        sa.Column("total_items", sa.Integer, nullable=False, server_default="0"),
        sa.Column("successful_items", sa.Integer, nullable=False, server_default="0"),
        sa.Column("box_count", sa.Integer), sa.Column("format_config", sa.Text, nullable=False, server_default="{}"),
        sa.Column("failure_reason", sa.Text))
    op.create_index("datasets_by_tenant", "datasets", ["tenant", "created_at"])
    op.create_index("datasets_by_status", "datasets", ["status", "created_at"])
    op.create_table(
        "exports", sa.Column("key", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String, nullable=False, unique=True), sa.Column("tenant", sa.String, nullable=False),
        sa.Column("dataset_id", sa.String, sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("format", sa.String, nullable=False), sa.Column("status", sa.String, nullable=False),
        sa.Column("record_count", sa.Integer, nullable=False), sa.Column("box_count", sa.Integer, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False), sa.Column("file_size_bytes", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String, nullable=False), sa.Column("created_at", sa.String, nullable=False),
        sa.Column("export_seconds", sa.Float, nullable=False), sa.Column("include_failed", sa.Integer, nullable=False),
        sa.Column("options", sa.Text, nullable=False, server_default="{}"))
    op.create_index("exports_by_dataset", "exports", ["dataset_id", "created_at"])
    op.create_index("exports_by_tenant", "exports", ["tenant", "created_at"])


def downgrade() -> None:
    for table in ("exports", "datasets", "box_chunks", "batch_labels", "labels", "items", "batches", "files", "meta"):
        op.drop_table(table)
