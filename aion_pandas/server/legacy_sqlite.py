"""Adopt a SQLite data dir made before Alembic: rebuild its two changed tables, then stamp revision 0001.

The pre-Alembic schema differs from revision 0001 only in ``datasets`` and ``exports`` (their order of
creation was SQLite's ``rowid``; 0001 keeps it as an integer ``key``). Each is rebuilt the way SQLite's
documentation does it (create new, copy, drop old, rename), keeping every row and its order.

>>> adopt_legacy_sqlite  # called by database.upgrade on a SQLite file with tables and no alembic_version
<function adopt_legacy_sqlite at ...>
"""
from __future__ import annotations

from sqlalchemy import Engine, inspect

_REBUILD = {
    "datasets": ("""CREATE TABLE new_datasets (
        key INTEGER NOT NULL PRIMARY KEY, id VARCHAR NOT NULL UNIQUE, tenant VARCHAR NOT NULL, name TEXT NOT NULL,
        description TEXT, batch_id VARCHAR NOT NULL, bkey INTEGER NOT NULL REFERENCES batches (key),
        status VARCHAR NOT NULL, created_at VARCHAR NOT NULL, updated_at VARCHAR NOT NULL,
        total_items INTEGER DEFAULT '0' NOT NULL, successful_items INTEGER DEFAULT '0' NOT NULL, box_count INTEGER,
        format_config TEXT DEFAULT '{}' NOT NULL, failure_reason TEXT)""",
                 "id, tenant, name, description, batch_id, bkey, status, created_at, updated_at, total_items,"
                 " successful_items, box_count, format_config, failure_reason",
                 ("CREATE INDEX datasets_by_tenant ON datasets (tenant, created_at)",
                  "CREATE INDEX datasets_by_status ON datasets (status, created_at)")),
    "exports": ("""CREATE TABLE new_exports (
        key INTEGER NOT NULL PRIMARY KEY, id VARCHAR NOT NULL UNIQUE, tenant VARCHAR NOT NULL,
        dataset_id VARCHAR NOT NULL REFERENCES datasets (id), format VARCHAR NOT NULL, status VARCHAR NOT NULL,
        record_count INTEGER NOT NULL, box_count INTEGER NOT NULL, file_name TEXT NOT NULL,
        file_size_bytes BIGINT NOT NULL, content_type VARCHAR NOT NULL, created_at VARCHAR NOT NULL,
        export_seconds FLOAT NOT NULL, include_failed INTEGER NOT NULL, options TEXT DEFAULT '{}' NOT NULL)""",
                "id, tenant, dataset_id, format, status, record_count, box_count, file_name, file_size_bytes,"
                " content_type, created_at, export_seconds, include_failed, options",
                ("CREATE INDEX exports_by_dataset ON exports (dataset_id, created_at)",
                 "CREATE INDEX exports_by_tenant ON exports (tenant, created_at)")),
}


def is_legacy(engine: Engine) -> bool:
    """A SQLite database with the service's tables but no Alembic revision."""
    if engine.dialect.name != "sqlite":
        return False
    names = set(inspect(engine).get_table_names())
    return "datasets" in names and "alembic_version" not in names


def adopt_legacy_sqlite(engine: Engine) -> None:
    """Rebuild ``exports`` and ``datasets`` in the 0001 shape and stamp 0001, in one transaction.

    Foreign keys are off meanwhile (SQLite allows that only outside a transaction, hence the raw connection).
    """
    raw = engine.raw_connection()
    try:
        db = raw.driver_connection
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("BEGIN IMMEDIATE")
        try:
            for table in ("exports", "datasets"):
                create, columns, indexes = _REBUILD[table]
                db.execute(create)
                db.execute(f"INSERT INTO new_{table} (key, {columns}) SELECT rowid, {columns} FROM {table}"
                           " ORDER BY rowid")
                db.execute(f"DROP TABLE {table}")
                db.execute(f"ALTER TABLE new_{table} RENAME TO {table}")
                for statement in indexes:
                    db.execute(statement)
            db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
                       " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
            db.execute("INSERT INTO alembic_version (version_num) VALUES ('0001')")
            if db.execute("PRAGMA foreign_key_check").fetchall():
                raise RuntimeError("the legacy database has rows whose references are broken")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.execute("PRAGMA foreign_keys = ON")
    finally:
        raw.close()
