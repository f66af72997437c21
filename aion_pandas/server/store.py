"""SQLite storage of the service: every SQL query of the server lives in this module.

One connection per thread (WAL, so readers never block the writer); writes go through one lock and
``BEGIN IMMEDIATE`` transactions. Rows come back as plain dicts; box columns come back as numpy arrays.

>>> import tempfile; from pathlib import Path
>>> store = Store(Path(tempfile.mkdtemp()) / "db.sqlite3")
>>> store.list_datasets("tenant", None, 10, 0)
([], 0)
"""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from ._schema import SCHEMA

BOX_DTYPES: dict[str, str] = {"item_index": "<i8", "seq": "<i4", "label_id": "<i4", "confidence": "<f8",
                              "x": "<f8", "y": "<f8", "w": "<f8", "h": "<f8"}
BOX_CHUNK = 65_536  # boxes per stored chunk


def _pack_boxes(rows: list[tuple]) -> dict[str, bytes]:
    """(item_index, seq, label_id, confidence, x, y, w, h) rows -> one little-endian blob per column."""
    columns = list(zip(*rows))
    return {name: np.asarray(col, dtype=dtype).tobytes() for (name, dtype), col in zip(BOX_DTYPES.items(), columns)}


def _unpack_boxes(rows: Iterable[sqlite3.Row]) -> dict[str, np.ndarray]:
    parts: dict[str, list[np.ndarray]] = {name: [] for name in BOX_DTYPES}
    for row in rows:
        for name, dtype in BOX_DTYPES.items():
            parts[name].append(np.frombuffer(row[name], dtype=dtype))
    return {name: np.concatenate(p) if p else np.empty(0, dtype=BOX_DTYPES[name]) for name, p in parts.items()}


def utc_now() -> str:
    """Now as ISO 8601 UTC with ``Z``, second precision (the API's timestamp form)."""
    return iso(datetime.now(timezone.utc))


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class NewItem:
    """One item of a batch to import. ``detections``: (label, confidence, x, y, w, h) in pixels."""
    file_name: str
    status: str = "completed"
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    detections: list[tuple[str, float, float, float, float, float]] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    error_message: str | None = None
    file_id: str | None = None            # the stored image (see Store.add_file), if any


class Store:
    """The service's database. Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        conn = self._conn()
        conn.executescript(SCHEMA)

    # ------------------------------------------------------------ plumbing
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        row = self._conn().execute(sql, tuple(params)).fetchone()
        return dict(row) if row is not None else None

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self._conn().execute(sql, tuple(params)).fetchall()]

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------ files
    def add_file(self, tenant: str, file_name: str, content_type: str, size: int, storage_path: str,
                 file_id: str | None = None) -> str:
        """Record a stored image; returns its id."""
        fid = file_id or str(uuid.uuid4())
        with self._tx() as c:
            c.execute("INSERT INTO files(id, tenant, file_name, content_type, size_bytes, storage_path,"
                      " created_at) VALUES (?,?,?,?,?,?,?)",
                      (fid, tenant, file_name, content_type, size, storage_path, utc_now()))
        return fid

    def get_file(self, tenant: str, file_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM files WHERE id = ? AND tenant = ?", (file_id, tenant))

    def get_file_any(self, file_id: str) -> dict[str, Any] | None:
        """A file by id, for the signed file route (the signature is the authority)."""
        return self._one("SELECT * FROM files WHERE id = ?", (file_id,))

    # ------------------------------------------------------------ batches
    def import_batch(self, tenant: str, name: str | None, items: Iterable[NewItem], *,
                     status: str = "completed", batch_id: str | None = None,
                     created_at: str | None = None) -> str:
        """Store a whole batch and its results in one transaction; returns the batch id."""
        bid = batch_id or str(uuid.uuid4())
        now = created_at or utc_now()
        with self._tx() as c:
            cur = c.execute("INSERT INTO batches(id, tenant, name, status, created_at) VALUES (?,?,?,?,?)",
                            (bid, tenant, name, status, now))
            bkey = cur.lastrowid
            labels: dict[str, int] = {r[1]: r[0] for r in c.execute("SELECT id, name FROM labels")}
            counts = {"completed": 0, "failed": 0, "pending": 0, "processing": 0}
            used: set[int] = set()
            item_rows: list[tuple] = []
            box_rows: list[tuple] = []
            chunk_no = 0
            for index, item in enumerate(items):
                counts[item.status] += 1
                item_rows.append((bkey, index, str(uuid.uuid4()), item.status, item.file_id, item.file_name,
                                  item.width, item.height, item.description, json.dumps(list(item.tags)),
                                  item.error_message, now if item.status in ("completed", "failed") else None))
                for seq, (label, conf, x, y, w, h) in enumerate(item.detections):
                    lid = labels.get(label)
                    if lid is None:
                        lid = c.execute("INSERT INTO labels(name) VALUES (?)", (label,)).lastrowid
                        labels[label] = lid
                    used.add(lid)
                    box_rows.append((index, seq, lid, conf, x, y, w, h))
                if len(box_rows) >= BOX_CHUNK:
                    self._insert_chunk(c, bkey, chunk_no, box_rows)
                    chunk_no, box_rows = chunk_no + 1, []
                if len(item_rows) >= 50_000:
                    c.executemany("INSERT INTO items VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", item_rows)
                    item_rows = []
            if box_rows:
                self._insert_chunk(c, bkey, chunk_no, box_rows)
            c.executemany("INSERT INTO items VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", item_rows)
            c.executemany("INSERT INTO batch_labels VALUES (?, ?)", [(bkey, lid) for lid in used])
            n_items = sum(counts.values())
            done = status in ("completed", "failed")
            c.execute("UPDATE batches SET total_items=?, successful_items=?, failed_items=?, completed_at=?"
                      " WHERE key=?", (n_items, counts["completed"], counts["failed"],
                                       now if done else None, bkey))
        return bid

    @staticmethod
    def _insert_chunk(c: sqlite3.Connection, bkey: int, chunk_no: int, rows: list[tuple]) -> None:
        blobs = _pack_boxes(rows)
        c.execute(f"INSERT INTO box_chunks(bkey, chunk_no, first_item, last_item, n, {', '.join(blobs)})"
                  f" VALUES (?,?,?,?,?,{','.join('?' * len(blobs))})",
                  (bkey, chunk_no, rows[0][0], rows[-1][0], len(rows), *blobs.values()))

    def list_batches(self, tenant: str, status: str | None, limit: int, offset: int
                     ) -> tuple[list[dict[str, Any]], int]:
        where, params = "tenant = ?", [tenant]
        if status:
            where, params = where + " AND status = ?", params + [status]
        total = self._conn().execute(f"SELECT COUNT(*) FROM batches WHERE {where}", params).fetchone()[0]
        rows = self._all(f"SELECT * FROM batches WHERE {where} ORDER BY created_at DESC, key DESC"
                         " LIMIT ? OFFSET ?", params + [limit, offset])
        return rows, total

    def get_batch(self, tenant: str, batch_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM batches WHERE id = ? AND tenant = ?", (batch_id, tenant))

    def cancel_batch(self, tenant: str, batch_id: str) -> tuple[bool, str | None]:
        """Mark a pending or processing batch ``cancelled``: (whether it was cancelled now, its status;
        None when unknown)."""
        with self._tx() as c:
            changed = c.execute("UPDATE batches SET status='cancelled', completed_at=? WHERE id=? AND tenant=?"
                                " AND status IN ('pending', 'processing')", (utc_now(), batch_id, tenant)).rowcount
            row = c.execute("SELECT status FROM batches WHERE id=? AND tenant=?", (batch_id, tenant)).fetchone()
        return changed > 0, (row["status"] if row else None)

    def count_items(self, batch_key: int, include_failed: bool = True) -> int:
        """Items of a batch (without the failed ones unless ``include_failed``)."""
        extra = "" if include_failed else " AND status != 'failed'"
        return self._conn().execute(f"SELECT COUNT(*) FROM items WHERE bkey = ?{extra}", (batch_key,)).fetchone()[0]

    def get_item(self, tenant: str, item_id: str) -> dict[str, Any] | None:
        """One item of one of the tenant's batches, by its id."""
        return self._one("SELECT i.* FROM items i JOIN batches b ON b.key = i.bkey WHERE i.item_id = ?"
                         " AND b.tenant = ?", (item_id, tenant))

    def batch_items(self, batch_key: int, limit: int, offset: int, include_failed: bool = True
                    ) -> list[dict[str, Any]]:
        """A page of items, each with ``detections`` as (label, confidence, x, y, w, h) tuples."""
        extra = "" if include_failed else " AND status != 'failed'"
        items = self._all(f"SELECT * FROM items WHERE bkey = ?{extra} ORDER BY item_index LIMIT ? OFFSET ?",
                          (batch_key, limit, offset))
        if not items:
            return items
        lo, hi = items[0]["item_index"], items[-1]["item_index"]
        cols = _unpack_boxes(self._conn().execute(
            "SELECT * FROM box_chunks WHERE bkey = ? AND last_item >= ? AND first_item <= ? ORDER BY chunk_no",
            (batch_key, lo, hi)))
        names = self.batch_labels(batch_key)
        keep = (cols["item_index"] >= lo) & (cols["item_index"] <= hi)
        boxes: dict[int, list[tuple]] = {}
        picked = zip(*(cols[k][keep].tolist() for k in ("item_index", "label_id", "confidence", "x", "y", "w", "h")))
        for index, lid, conf, x, y, w, h in picked:
            boxes.setdefault(index, []).append((names[lid], conf, x, y, w, h))
        for item in items:
            item["detections"] = boxes.get(item["item_index"], [])
        return items

    def batch_labels(self, batch_key: int) -> dict[int, str]:
        rows = self._conn().execute("SELECT l.id, l.name FROM batch_labels b JOIN labels l"
                                    " ON l.id = b.label_id WHERE b.bkey = ?", (batch_key,))
        return {r[0]: r[1] for r in rows}

    def export_items(self, batch_key: int, statuses: tuple[str, ...]) -> list[tuple]:
        """Image-level rows (one per item) for an export, in item order."""
        marks = ",".join("?" * len(statuses))
        cur = self._conn().cursor()
        cur.row_factory = None  # plain tuples: lighter than sqlite3.Row for 100k images
        return cur.execute(
            "SELECT item_index, item_id, status, file_id, file_name, width, height, description, tags,"
            f" processed_at FROM items WHERE bkey = ? AND status IN ({marks}) ORDER BY item_index",
            (batch_key, *statuses)).fetchall()

    def export_boxes(self, batch_key: int) -> dict[str, np.ndarray]:
        """All boxes of a batch as numpy columns (``BOX_DTYPES``), in item order.

        Read as a few blobs per 65,536 boxes, so a million boxes never exist as Python objects.
        """
        return _unpack_boxes(self._conn().execute(
            "SELECT * FROM box_chunks WHERE bkey = ? ORDER BY chunk_no", (batch_key,)))

    # ------------------------------------------------------------ datasets
    _DATASET = ("SELECT d.*, b.status AS batch_status,"
                " (SELECT COUNT(*) FROM exports e WHERE e.dataset_id = d.id) AS export_count,"
                " (SELECT e.id || ' ' || e.format || ' ' || e.created_at FROM exports e"
                "  WHERE e.dataset_id = d.id ORDER BY e.created_at DESC, e.rowid DESC LIMIT 1) AS latest"
                " FROM datasets d LEFT JOIN batches b ON b.key = d.bkey")

    def create_dataset(self, tenant: str, batch: dict[str, Any], name: str, description: str | None,
                       format_config: dict[str, Any], *, created_at: str | None = None) -> str:
        did, now = str(uuid.uuid4()), created_at or utc_now()
        with self._tx() as c:
            c.execute("INSERT INTO datasets(id, tenant, name, description, batch_id, bkey, status, created_at,"
                      " updated_at, total_items, successful_items, format_config) VALUES"
                      " (?,?,?,?,?,?,'pending',?,?,?,?,?)",
                      (did, tenant, name, description, batch["id"], batch["key"], now, now,
                       batch["total_items"] or 0, batch["successful_items"] or 0, json.dumps(format_config)))
        return did

    def get_dataset(self, tenant: str, dataset_id: str) -> dict[str, Any] | None:
        return self._one(self._DATASET + " WHERE d.id = ? AND d.tenant = ?", (dataset_id, tenant))

    def list_datasets(self, tenant: str, status: str | None, limit: int, offset: int
                      ) -> tuple[list[dict[str, Any]], int]:
        where, params = "d.tenant = ?", [tenant]
        if status:
            where, params = where + " AND d.status = ?", params + [status]
        total = self._conn().execute(f"SELECT COUNT(*) FROM datasets d WHERE {where}", params).fetchone()[0]
        rows = self._all(self._DATASET + f" WHERE {where} ORDER BY d.created_at DESC, d.rowid DESC"
                         " LIMIT ? OFFSET ?", params + [limit, offset])
        return rows, total

    def claim_pending_dataset(self) -> dict[str, Any] | None:
        """Move the oldest pending dataset to ``processing`` and return it (the worker's queue)."""
        with self._tx() as c:
            row = c.execute("SELECT * FROM datasets WHERE status = 'pending' ORDER BY created_at, rowid"
                            " LIMIT 1").fetchone()
            if row is None:
                return None
            c.execute("UPDATE datasets SET status='processing', updated_at=? WHERE id=?", (utc_now(), row["id"]))
            return dict(row)

    def finish_dataset(self, dataset_id: str, status: str, *, failure_reason: str | None = None,
                       total_items: int | None = None, successful_items: int | None = None,
                       box_count: int | None = None) -> None:
        with self._tx() as c:
            c.execute("UPDATE datasets SET status=?, failure_reason=?, updated_at=?,"
                      " total_items=COALESCE(?, total_items), successful_items=COALESCE(?, successful_items),"
                      " box_count=COALESCE(?, box_count) WHERE id=?",
                      (status, failure_reason, utc_now(), total_items, successful_items, box_count, dataset_id))

    def requeue_interrupted(self) -> int:
        """After a restart, datasets left ``processing`` go back to ``pending``."""
        with self._tx() as c:
            return c.execute("UPDATE datasets SET status='pending' WHERE status='processing'").rowcount

    def batch_status_by_key(self, batch_key: int) -> str | None:
        row = self._one("SELECT status FROM batches WHERE key = ?", (batch_key,))
        return row["status"] if row else None

    def batch_snapshot_counts(self, batch_key: int) -> tuple[int, int, int]:
        """(items, completed items, boxes) of a batch, as the worker snapshots them."""
        conn = self._conn()
        total, ok = conn.execute("SELECT COUNT(*), COALESCE(SUM(status = 'completed'), 0) FROM items"
                                 " WHERE bkey = ?", (batch_key,)).fetchone()
        boxes = conn.execute("SELECT COALESCE(SUM(n), 0) FROM box_chunks WHERE bkey = ?", (batch_key,)).fetchone()[0]
        return total, ok, boxes

    # ------------------------------------------------------------ exports
    def add_export(self, row: dict[str, Any]) -> None:
        cols = ",".join(row)
        with self._tx() as c:
            c.execute(f"INSERT INTO exports({cols}) VALUES ({','.join('?' * len(row))})", tuple(row.values()))

    def get_export(self, export_id: str) -> dict[str, Any] | None:
        """An export by id, for the signed download route (the signature is the authority)."""
        return self._one("SELECT * FROM exports WHERE id = ?", (export_id,))

    def statistics(self, tenant: str, since: str) -> dict[str, Any]:
        conn = self._conn()
        by_status = dict(conn.execute("SELECT status, COUNT(*) FROM datasets WHERE tenant = ? AND"
                                      " created_at >= ? GROUP BY status", (tenant, since)).fetchall())
        n, items = conn.execute("SELECT COUNT(*), COALESCE(SUM(total_items), 0) FROM datasets WHERE"
                                " tenant = ? AND created_at >= ?", (tenant, since)).fetchone()
        formats = conn.execute("SELECT format, COUNT(*), COALESCE(SUM(file_size_bytes), 0),"
                               " COALESCE(AVG(export_seconds), 0) FROM exports WHERE tenant = ? AND"
                               " created_at >= ? GROUP BY format", (tenant, since)).fetchall()
        return {"by_status": by_status, "total_datasets": n, "total_items": items,
                "by_format": {f: {"count": c, "total_size": s, "avg_export_time_seconds": round(a, 4)}
                              for f, c, s, a in formats}}
