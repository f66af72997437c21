"""The SQLite schema of the service (created if missing; see store.py for every query)."""

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
CREATE TABLE IF NOT EXISTS labels (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS batch_labels (bkey INTEGER NOT NULL, label_id INTEGER NOT NULL,
    PRIMARY KEY (bkey, label_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS detections (
    bkey INTEGER NOT NULL, item_index INTEGER NOT NULL, seq INTEGER NOT NULL, label_id INTEGER NOT NULL,
    confidence REAL NOT NULL, x REAL NOT NULL, y REAL NOT NULL, w REAL NOT NULL, h REAL NOT NULL,
    PRIMARY KEY (bkey, item_index, seq)) WITHOUT ROWID;
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
