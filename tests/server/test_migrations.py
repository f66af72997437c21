"""Alembic migrations, on SQLite and on PostgreSQL: an empty database upgrades to head; a database at the
previous head upgrades with its data kept; ``serve`` and ``worker`` refuse a schema that is behind and
say which command to run; ``aion-pandas db upgrade`` fixes it.
"""
from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from sqlalchemy import inspect, text

from aion_pandas.server.database import SchemaBehind, head_revision, make_engine, schema_revision, upgrade
from aion_pandas.server.store import Store


@pytest.fixture
def empty_url(backend, tmp_path) -> str:
    """A new, empty database of the backend's kind."""
    if backend.postgres is None:
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    return backend.postgres.create("m_" + uuid.uuid4().hex[:12])


def _cli(*args: str, env_url: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aion_pandas", *args], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "AION_PANDAS_SERVER_API_KEYS": "aion_migration_key"})


def test_empty_database_upgrades_to_head(empty_url):
    engine = make_engine(empty_url)
    assert schema_revision(engine) is None
    upgrade(engine)
    assert schema_revision(engine) == head_revision() == "0002"
    tables = set(inspect(engine).get_table_names())
    assert {"batches", "items", "box_chunks", "datasets", "exports", "rate_windows", "alembic_version"} <= tables
    columns = {c["name"] for c in inspect(engine).get_columns("datasets")}
    assert {"claimed_by", "lease_until", "attempts", "snapshots"} <= columns
    engine.dispose()


def test_previous_head_upgrades_with_data_kept(empty_url):
    engine = make_engine(empty_url)
    upgrade(engine, "0001")
    with engine.begin() as conn:  # rows as the 0001 schema holds them
        conn.execute(text("INSERT INTO batches (id, tenant, name, status, total_items, successful_items, failed_items,"
                          " created_at) VALUES ('b1', 'ten', 'old', 'completed', 2, 2, 0, '2026-01-01T00:00:00Z')"))
        key = conn.execute(text("SELECT key FROM batches WHERE id = 'b1'")).scalar()
        conn.execute(text("INSERT INTO datasets (id, tenant, name, batch_id, bkey, status, created_at, updated_at,"
                          " total_items, successful_items, box_count) VALUES ('d1', 'ten', 'kept', 'b1', :k, 'ready',"
                          " '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 2, 2, 5)"), {"k": key})
        conn.execute(text("INSERT INTO datasets (id, tenant, name, batch_id, bkey, status, created_at, updated_at)"
                          " VALUES ('d2', 'ten', 'queued', 'b1', :k, 'pending', '2026-01-02T00:00:00Z',"
                          " '2026-01-02T00:00:00Z')"), {"k": key})
    with pytest.raises(SchemaBehind, match="aion-pandas db upgrade"):
        Store(empty_url)
    done = _cli("db", "upgrade", "--database-url", empty_url)
    assert done.returncode == 0, done.stderr
    assert "upgraded from 0001 to 0002" in done.stdout
    store = Store(empty_url)
    rows, total = store.list_datasets("ten", None, 10, 0)
    assert total == 2 and [r["name"] for r in rows] == ["queued", "kept"]
    kept = store.get_dataset("ten", "d1")
    assert (kept["status"], kept["box_count"], kept["snapshots"], kept["batch_status"]) == ("ready", 5, 1, "completed")
    assert store.get_dataset("ten", "d2")["snapshots"] == 0
    claimed = store.claim_dataset("w1", 30)  # the queued one is still work to do
    assert claimed["id"] == "d2"
    store.close()
    engine.dispose()


def test_serve_and_worker_refuse_a_schema_behind(empty_url, tmp_path):
    engine = make_engine(empty_url)
    upgrade(engine, "0001")
    engine.dispose()
    for command in (["serve", "--port", "0", "--data-dir", str(tmp_path / "d")], ["worker"]):
        done = _cli(*command, "--database-url", empty_url)
        assert done.returncode == 2, (done.stdout, done.stderr)
        assert "revision 0001" in done.stderr and "run `aion-pandas db upgrade --database-url URL`" in done.stderr
        assert "Traceback" not in done.stderr
    current = _cli("db", "current", "--database-url", empty_url)
    assert "revision 0001 (newest: 0002)" in current.stdout


@pytest.mark.backends("sqlite")
def test_a_data_dir_from_before_migrations_is_adopted_with_its_data(start_service, tmp_path):
    import sqlite3

    from .helpers import api
    from .legacy_schema import SCHEMA

    data_dir = tmp_path / "old"
    data_dir.mkdir()
    db = sqlite3.connect(data_dir / "aion.sqlite3")
    db.executescript(SCHEMA)
    from aion_pandas.server.auth import tenant_id

    tenant = tenant_id("aion_test_tenant_one_0123456789abcdef")
    db.execute("INSERT INTO batches (key, id, tenant, name, status, total_items, successful_items, created_at)"
               " VALUES (1, '00000000-0000-4000-8000-000000000001', ?, 'old', 'completed', 0, 0,"
               " '2026-01-01T00:00:00Z')", (tenant,))
    for i in range(3):  # three datasets in one second: their order is the rowid's
        db.execute("INSERT INTO datasets (id, tenant, name, batch_id, bkey, status, created_at, updated_at)"
                   " VALUES (?, ?, ?, '00000000-0000-4000-8000-000000000001', 1, 'ready', '2026-01-02T00:00:00Z',"
                   " '2026-01-02T00:00:00Z')", (f"d{i}", tenant, f"n{i}"))
    db.execute("INSERT INTO exports (id, tenant, dataset_id, format, status, record_count, box_count, file_name,"
               " file_size_bytes, content_type, created_at, export_seconds, include_failed) VALUES ('e1', ?, 'd1',"
               " 'csv', 'completed', 0, 0, 'x.csv', 10, 'text/csv', '2026-01-03T00:00:00Z', 0.1, 0)", (tenant,))
    db.commit()
    db.close()
    svc = start_service(data_dir=data_dir)  # the default SQLite of a data dir is upgraded on start
    page = api(svc, "GET", "/datasets").json()
    assert [d["name"] for d in page["datasets"]] == ["n2", "n1", "n0"] and page["total_count"] == 3
    one = api(svc, "GET", "/datasets/d1").json()
    assert one["export_count"] == 1 and one["latest_export"]["export_id"] == "e1"
    assert schema_revision(make_engine(f"sqlite:///{data_dir / 'aion.sqlite3'}")) == head_revision()
