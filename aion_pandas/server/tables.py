"""The service's tables as SQLAlchemy Core metadata: one schema for SQLite and PostgreSQL.

Alembic revisions (``migrations/versions``) create and change these; ``store.py`` queries them.
Timestamps are ISO 8601 UTC text (the API's form, ordered as text); boxes are stored by columns in
``box_chunks`` (up to 65,536 boxes a row, one little-endian array per column), never a row per box.

>>> sorted(METADATA.tables)[:3]
['batch_labels', 'batches', 'box_chunks']
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Table, Text

METADATA = MetaData()

meta = Table("meta", METADATA, Column("key", String, primary_key=True), Column("value", Text, nullable=False))

files = Table(
    "files", METADATA,
    Column("id", String, primary_key=True), Column("tenant", String, nullable=False),
    Column("file_name", Text, nullable=False), Column("content_type", String, nullable=False),
    Column("size_bytes", BigInteger, nullable=False), Column("storage_path", Text, nullable=False),
    Column("created_at", String, nullable=False))

batches = Table(
    "batches", METADATA,
    Column("key", Integer, primary_key=True, autoincrement=True), Column("id", String, nullable=False, unique=True),
    Column("tenant", String, nullable=False), Column("name", Text), Column("status", String, nullable=False),
    Column("total_items", Integer, nullable=False, server_default="0"),
    Column("successful_items", Integer, nullable=False, server_default="0"),
    Column("failed_items", Integer, nullable=False, server_default="0"),
    Column("created_at", String, nullable=False), Column("completed_at", String),
    Index("batches_by_tenant", "tenant", "created_at"))

items = Table(
    "items", METADATA,
    Column("bkey", Integer, ForeignKey("batches.key"), primary_key=True),
    Column("item_index", Integer, primary_key=True, autoincrement=False),
    Column("item_id", String, nullable=False), Column("status", String, nullable=False), Column("file_id", String),
    Column("file_name", Text, nullable=False), Column("width", Integer), Column("height", Integer),
    Column("description", Text), Column("tags", Text, nullable=False, server_default="[]"),
    Column("error_message", Text), Column("processed_at", String),
    Index("items_by_id", "item_id"))

labels = Table("labels", METADATA, Column("id", Integer, primary_key=True, autoincrement=True),
               Column("name", Text, nullable=False, unique=True))

batch_labels = Table("batch_labels", METADATA, Column("bkey", Integer, primary_key=True, autoincrement=False),
                     Column("label_id", Integer, primary_key=True, autoincrement=False))

BOX_COLUMNS = ("item_index", "seq", "label_id", "confidence", "x", "y", "w", "h")
box_chunks = Table(
    "box_chunks", METADATA,
    Column("bkey", Integer, primary_key=True, autoincrement=False),
    Column("chunk_no", Integer, primary_key=True, autoincrement=False),
    Column("first_item", Integer, nullable=False), Column("last_item", Integer, nullable=False),
    Column("n", Integer, nullable=False), *(Column(name, LargeBinary, nullable=False) for name in BOX_COLUMNS))

datasets = Table(
    "datasets", METADATA,
    Column("key", Integer, primary_key=True, autoincrement=True), Column("id", String, nullable=False, unique=True),
    Column("tenant", String, nullable=False), Column("name", Text, nullable=False), Column("description", Text),
    Column("batch_id", String, nullable=False), Column("bkey", Integer, ForeignKey("batches.key"), nullable=False),
    Column("status", String, nullable=False), Column("created_at", String, nullable=False),
    Column("updated_at", String, nullable=False), Column("total_items", Integer, nullable=False, server_default="0"),
    Column("successful_items", Integer, nullable=False, server_default="0"), Column("box_count", Integer),
    Column("format_config", Text, nullable=False, server_default="{}"), Column("failure_reason", Text),
    # revision 0002: the snapshot job's claim (worker id, lease end in UNIX seconds), claims and snapshots made
    Column("claimed_by", String), Column("lease_until", Float), Column("attempts", Integer, nullable=False,
                                                                        server_default="0"),
    Column("snapshots", Integer, nullable=False, server_default="0"),
    Index("datasets_by_tenant", "tenant", "created_at"), Index("datasets_by_status", "status", "created_at"))

exports = Table(
    "exports", METADATA,
    Column("key", Integer, primary_key=True, autoincrement=True), Column("id", String, nullable=False, unique=True),
    Column("tenant", String, nullable=False), Column("dataset_id", String, ForeignKey("datasets.id"), nullable=False),
    Column("format", String, nullable=False), Column("status", String, nullable=False),
    Column("record_count", Integer, nullable=False), Column("box_count", Integer, nullable=False),
    Column("file_name", Text, nullable=False), Column("file_size_bytes", BigInteger, nullable=False),
    Column("content_type", String, nullable=False), Column("created_at", String, nullable=False),
    Column("export_seconds", Float, nullable=False), Column("include_failed", Integer, nullable=False),
    Column("options", Text, nullable=False, server_default="{}"),
    Index("exports_by_dataset", "dataset_id", "created_at"), Index("exports_by_tenant", "tenant", "created_at"))

# revision 0002: requests per tenant per minute window, counted in the database so limits hold across replicas
rate_windows = Table(
    "rate_windows", METADATA,
    Column("tenant", String, primary_key=True), Column("window", Integer, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False))

__all__ = ["METADATA", "BOX_COLUMNS", "meta", "files", "batches", "items", "labels", "batch_labels", "box_chunks",
           "datasets", "exports", "rate_windows"]
