"""The SQLite schema of the service before Alembic (the data dirs it made are adopted on start; see
aion_pandas/server/legacy_sqlite.py)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, file_name TEXT NOT NULL, content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL, storage_path TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL, name TEXT,
    status TEXT NOT NULL, total_items INTEGER NOT NULL DEFAULT 0, successful_items INTEGER NOT NULL DEFAULT 0,
    failed_items INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, completed_at TEXT);
CREATE INDEX IF NOT EXISTS batches_by_tenant ON batches (tenant, created_at);
CREATE TABLE IF NOT EXISTS items (
    bkey INTEGER NOT NULL REFERENCES batches(key), item_index INTEGER NOT NULL, item_id TEXT NOT NULL,
    status TEXT NOT NULL, file_id TEXT, file_name TEXT NOT NULL, width INTEGER, height INTEGER,
    description TEXT, tags TEXT NOT NULL DEFAULT '[]', error_message TEXT, processed_at TEXT,
    PRIMARY KEY (bkey, item_index)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_id ON items (item_id);
CREATE TABLE IF NOT EXISTS labels (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS batch_labels (bkey INTEGER NOT NULL, label_id INTEGER NOT NULL,
    PRIMARY KEY (bkey, label_id)) WITHOUT ROWID;
-- detections, stored by columns: each row holds up to CHUNK boxes of consecutive items as raw
-- little-endian arrays (item_index <i8, seq <i4, label_id <i4, confidence/x/y/w/h <f8), so an export
-- reads a million boxes as a few dozen blobs instead of a million rows
CREATE TABLE IF NOT EXISTS box_chunks (
    bkey INTEGER NOT NULL, chunk_no INTEGER NOT NULL, first_item INTEGER NOT NULL, last_item INTEGER NOT NULL,
    n INTEGER NOT NULL, item_index BLOB NOT NULL, seq BLOB NOT NULL, label_id BLOB NOT NULL,
    confidence BLOB NOT NULL, x BLOB NOT NULL, y BLOB NOT NULL, w BLOB NOT NULL, h BLOB NOT NULL,
    PRIMARY KEY (bkey, chunk_no)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT NOT NULL, description TEXT,
    batch_id TEXT NOT NULL, bkey INTEGER NOT NULL REFERENCES batches(key), status TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, total_items INTEGER NOT NULL DEFAULT 0,
    successful_items INTEGER NOT NULL DEFAULT 0, box_count INTEGER, format_config TEXT NOT NULL DEFAULT '{}',
    failure_reason TEXT);
CREATE INDEX IF NOT EXISTS datasets_by_tenant ON datasets (tenant, created_at);
CREATE INDEX IF NOT EXISTS datasets_by_status ON datasets (status, created_at);
CREATE TABLE IF NOT EXISTS exports (
    id TEXT PRIMARY KEY, tenant TEXT NOT NULL, dataset_id TEXT NOT NULL REFERENCES datasets(id),
    format TEXT NOT NULL, status TEXT NOT NULL, record_count INTEGER NOT NULL, box_count INTEGER NOT NULL,
    file_name TEXT NOT NULL, file_size_bytes INTEGER NOT NULL, content_type TEXT NOT NULL,
    created_at TEXT NOT NULL, export_seconds REAL NOT NULL, include_failed INTEGER NOT NULL,
    options TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS exports_by_dataset ON exports (dataset_id, created_at);
CREATE INDEX IF NOT EXISTS exports_by_tenant ON exports (tenant, created_at);
"""
