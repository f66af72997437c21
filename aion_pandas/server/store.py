"""The service's storage: every query of the server lives in this module (SQLAlchemy Core, SQLite or PostgreSQL).

Rows come back as plain dicts; box columns come back as numpy arrays read from columnar chunks
(``tables.box_chunks``), so a million boxes are a few dozen blobs, never a million rows. Snapshot work is
claimed with ``FOR UPDATE SKIP LOCKED`` under a lease (on SQLite, ``BEGIN IMMEDIATE`` makes the one writer).

>>> import tempfile; from pathlib import Path
>>> store = Store(Path(tempfile.mkdtemp()) / "db.sqlite3", migrate=True)
>>> store.list_datasets("tenant", None, 10, 0)
([], 0)
"""
from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
from sqlalchemy import Connection, and_, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from . import tables as t
from .database import make_engine, require_head, sqlite_url, upgrade

BOX_DTYPES: dict[str, str] = {"item_index": "<i8", "seq": "<i4", "label_id": "<i4", "confidence": "<f8",
                              "x": "<f8", "y": "<f8", "w": "<f8", "h": "<f8"}
BOX_CHUNK = 65_536  # boxes per stored chunk


def _pack_boxes(rows: list[tuple]) -> dict[str, bytes]:
    """(item_index, seq, label_id, confidence, x, y, w, h) rows -> one little-endian blob per column."""
    columns = list(zip(*rows))
    return {name: np.asarray(col, dtype=dtype).tobytes() for (name, dtype), col in zip(BOX_DTYPES.items(), columns)}


def _unpack_boxes(rows: Iterable[Any]) -> dict[str, np.ndarray]:
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
    """The service's database at ``url`` (a SQLite path is taken as ``sqlite:///path``). Thread-safe.

    ``migrate=True`` upgrades the schema first; otherwise a schema behind the code raises SchemaBehind.
    """

    def __init__(self, url: str | Path, *, migrate: bool = False) -> None:
        self.url = sqlite_url(url) if isinstance(url, Path) else url
        self.engine = make_engine(self.url)
        self._insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        if migrate:
            upgrade(self.engine)
        require_head(self.engine)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------ plumbing
    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(write=True) as conn, conn.begin():
            yield conn

    def _one(self, stmt: Any) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(stmt).mappings().first()
        return dict(row) if row is not None else None

    def _all(self, stmt: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(stmt).mappings()]

    def _scalar(self, stmt: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(stmt).scalar()

    def ping(self) -> None:
        """Raise unless the database answers."""
        self._scalar(select(1))

    def get_meta(self, key: str) -> str | None:
        return self._scalar(select(t.meta.c.value).where(t.meta.c.key == key))

    def set_meta(self, key: str, value: str) -> None:
        stmt = self._insert(t.meta).values(key=key, value=value)
        with self._tx() as c:
            c.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))

    # ------------------------------------------------------------ files
    def add_file(self, tenant: str, file_name: str, content_type: str, size: int, storage_path: str,
                 file_id: str | None = None) -> str:
        """Record a stored image; returns its id."""
        fid = file_id or str(uuid.uuid4())
        with self._tx() as c:
            c.execute(insert(t.files).values(id=fid, tenant=tenant, file_name=file_name, content_type=content_type,
                                             size_bytes=size, storage_path=storage_path, created_at=utc_now()))
        return fid

    def get_file(self, tenant: str, file_id: str) -> dict[str, Any] | None:
        return self._one(select(t.files).where(t.files.c.id == file_id, t.files.c.tenant == tenant))

    def get_file_any(self, file_id: str) -> dict[str, Any] | None:
        """A file by id, for the signed file route (the signature is the authority)."""
        return self._one(select(t.files).where(t.files.c.id == file_id))

    # ------------------------------------------------------------ batches
    def _label_ids(self, c: Connection, names: set[str]) -> dict[str, int]:
        """The ids of label ``names``, adding the new ones (safe against a concurrent import adding them too)."""
        known = {r.name: r.id for r in c.execute(select(t.labels.c.id, t.labels.c.name))}
        new = sorted(names - known.keys())
        if new:
            c.execute(self._insert(t.labels).on_conflict_do_nothing(index_elements=["name"]),
                      [{"name": n} for n in new])
            known.update({r.name: r.id for r in c.execute(
                select(t.labels.c.id, t.labels.c.name).where(t.labels.c.name.in_(new)))})
        return known

    def import_batch(self, tenant: str, name: str | None, items: Iterable[NewItem], *,
                     status: str = "completed", batch_id: str | None = None,
                     created_at: str | None = None) -> str:
        """Store a whole batch and its results in one transaction; returns the batch id."""
        bid = batch_id or str(uuid.uuid4())
        now = created_at or utc_now()
        items = list(items)
        with self._tx() as c:
            bkey = c.execute(insert(t.batches).values(id=bid, tenant=tenant, name=name, status=status,
                                                      created_at=now)).inserted_primary_key[0]
            labels = self._label_ids(c, {d[0] for item in items for d in item.detections})
            counts = {"completed": 0, "failed": 0, "pending": 0, "processing": 0}
            used: set[int] = set()
            item_rows: list[dict[str, Any]] = []
            box_rows: list[tuple] = []
            chunk_no = 0
            for index, item in enumerate(items):
                counts[item.status] += 1
                item_rows.append({
                    "bkey": bkey, "item_index": index, "item_id": str(uuid.uuid4()), "status": item.status,
                    "file_id": item.file_id, "file_name": item.file_name, "width": item.width, "height": item.height,
                    "description": item.description, "tags": json.dumps(list(item.tags)),
                    "error_message": item.error_message,
                    "processed_at": now if item.status in ("completed", "failed") else None})
                for seq, (label, conf, x, y, w, h) in enumerate(item.detections):
                    lid = labels[label]
                    used.add(lid)
                    box_rows.append((index, seq, lid, conf, x, y, w, h))
                if len(box_rows) >= BOX_CHUNK:
                    self._insert_chunk(c, bkey, chunk_no, box_rows)
                    chunk_no, box_rows = chunk_no + 1, []
                if len(item_rows) >= 50_000:
                    c.execute(insert(t.items), item_rows)
                    item_rows = []
            if box_rows:
                self._insert_chunk(c, bkey, chunk_no, box_rows)
            if item_rows:
                c.execute(insert(t.items), item_rows)
            if used:
                c.execute(insert(t.batch_labels), [{"bkey": bkey, "label_id": lid} for lid in sorted(used)])
            done = status in ("completed", "failed")
            c.execute(update(t.batches).where(t.batches.c.key == bkey).values(
                total_items=sum(counts.values()), successful_items=counts["completed"], failed_items=counts["failed"],
                completed_at=now if done else None))
        return bid

    @staticmethod
    def _insert_chunk(c: Connection, bkey: int, chunk_no: int, rows: list[tuple]) -> None:
        c.execute(insert(t.box_chunks).values(bkey=bkey, chunk_no=chunk_no, first_item=rows[0][0],
                                              last_item=rows[-1][0], n=len(rows), **_pack_boxes(rows)))

    def list_batches(self, tenant: str, status: str | None, limit: int, offset: int
                     ) -> tuple[list[dict[str, Any]], int]:
        b = t.batches
        where = [b.c.tenant == tenant] + ([b.c.status == status] if status else [])
        total = self._scalar(select(func.count()).select_from(b).where(*where))
        rows = self._all(select(b).where(*where).order_by(b.c.created_at.desc(), b.c.key.desc())
                         .limit(limit).offset(offset))
        return rows, total

    def get_batch(self, tenant: str, batch_id: str) -> dict[str, Any] | None:
        return self._one(select(t.batches).where(t.batches.c.id == batch_id, t.batches.c.tenant == tenant))

    def cancel_batch(self, tenant: str, batch_id: str) -> tuple[bool, str | None]:
        """Mark a pending or processing batch ``cancelled``: (whether it was cancelled now, its status;
        None when unknown)."""
        b = t.batches
        mine = and_(b.c.id == batch_id, b.c.tenant == tenant)
        with self._tx() as c:
            changed = c.execute(update(b).where(mine, b.c.status.in_(("pending", "processing")))
                                .values(status="cancelled", completed_at=utc_now())).rowcount
            status = c.execute(select(b.c.status).where(mine)).scalar()
        return changed > 0, status

    def count_items(self, batch_key: int, include_failed: bool = True) -> int:
        """Items of a batch (without the failed ones unless ``include_failed``)."""
        where = [t.items.c.bkey == batch_key] + ([] if include_failed else [t.items.c.status != "failed"])
        return self._scalar(select(func.count()).select_from(t.items).where(*where))

    def get_item(self, tenant: str, item_id: str) -> dict[str, Any] | None:
        """One item of one of the tenant's batches, by its id."""
        i, b = t.items, t.batches
        return self._one(select(i).join(b, b.c.key == i.c.bkey).where(i.c.item_id == item_id, b.c.tenant == tenant))

    def batch_items(self, batch_key: int, limit: int, offset: int, include_failed: bool = True
                    ) -> list[dict[str, Any]]:
        """A page of items, each with ``detections`` as (label, confidence, x, y, w, h) tuples."""
        i, ch = t.items, t.box_chunks
        where = [i.c.bkey == batch_key] + ([] if include_failed else [i.c.status != "failed"])
        items = self._all(select(i).where(*where).order_by(i.c.item_index).limit(limit).offset(offset))
        if not items:
            return items
        lo, hi = items[0]["item_index"], items[-1]["item_index"]
        cols = _unpack_boxes(self._all(select(ch).where(ch.c.bkey == batch_key, ch.c.last_item >= lo,
                                                        ch.c.first_item <= hi).order_by(ch.c.chunk_no)
                                       .execution_options(binary_results=True)))
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
        bl, lab = t.batch_labels, t.labels
        rows = self._all(select(lab.c.id, lab.c.name).join(bl, bl.c.label_id == lab.c.id).where(bl.c.bkey == batch_key))
        return {r["id"]: r["name"] for r in rows}

    def export_items(self, batch_key: int, statuses: tuple[str, ...]) -> list[tuple]:
        """Image-level rows (one per item) for an export, in item order."""
        i = t.items
        stmt = (select(i.c.item_index, i.c.item_id, i.c.status, i.c.file_id, i.c.file_name, i.c.width, i.c.height,
                       i.c.description, i.c.tags, i.c.processed_at)
                .where(i.c.bkey == batch_key, i.c.status.in_(statuses)).order_by(i.c.item_index))
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(stmt)]

    def export_boxes(self, batch_key: int) -> dict[str, np.ndarray]:
        """All boxes of a batch as numpy columns (``BOX_DTYPES``), in item order.

        Read as a few blobs per 65,536 boxes, so a million boxes never exist as Python objects.
        """
        ch = t.box_chunks
        stmt = select(ch).where(ch.c.bkey == batch_key).order_by(ch.c.chunk_no).execution_options(binary_results=True)
        with self.engine.connect() as conn:
            return _unpack_boxes(conn.execute(stmt).mappings())

    # ------------------------------------------------------------ datasets
    def _dataset_query(self) -> Any:
        d, b, e = t.datasets, t.batches, t.exports.alias("e")
        export_count = select(func.count()).where(e.c.dataset_id == d.c.id).scalar_subquery()
        latest = (select(e.c.id + " " + e.c.format + " " + e.c.created_at).where(e.c.dataset_id == d.c.id)
                  .order_by(e.c.created_at.desc(), e.c.key.desc()).limit(1).scalar_subquery())
        return select(d, b.c.status.label("batch_status"), export_count.label("export_count"),
                      latest.label("latest")).outerjoin(b, b.c.key == d.c.bkey)

    def create_dataset(self, tenant: str, batch: dict[str, Any], name: str, description: str | None,
                       format_config: dict[str, Any], *, created_at: str | None = None) -> str:
        did, now = str(uuid.uuid4()), created_at or utc_now()
        with self._tx() as c:
            c.execute(insert(t.datasets).values(
                id=did, tenant=tenant, name=name, description=description, batch_id=batch["id"], bkey=batch["key"],
                status="pending", created_at=now, updated_at=now, total_items=batch["total_items"] or 0,
                successful_items=batch["successful_items"] or 0, format_config=json.dumps(format_config)))
        return did

    def get_dataset(self, tenant: str, dataset_id: str) -> dict[str, Any] | None:
        d = t.datasets
        return self._one(self._dataset_query().where(d.c.id == dataset_id, d.c.tenant == tenant))

    def list_datasets(self, tenant: str, status: str | None, limit: int, offset: int
                      ) -> tuple[list[dict[str, Any]], int]:
        d = t.datasets
        where = [d.c.tenant == tenant] + ([d.c.status == status] if status else [])
        total = self._scalar(select(func.count()).select_from(d).where(*where))
        rows = self._all(self._dataset_query().where(*where).order_by(d.c.created_at.desc(), d.c.key.desc())
                         .limit(limit).offset(offset))
        return rows, total

    def claim_dataset(self, worker_id: str, lease_seconds: float) -> dict[str, Any] | None:
        """Claim the oldest pending dataset, or one whose worker's lease ran out, for ``lease_seconds``: its
        row, whose ``attempts`` counts the claims before this one.

        PostgreSQL skips rows another worker is claiming (``FOR UPDATE SKIP LOCKED``); SQLite has one writer.
        """
        d, now = t.datasets, time.time()
        claimable = or_(d.c.status == "pending",
                        and_(d.c.status == "processing", or_(d.c.lease_until.is_(None), d.c.lease_until < now)))
        with self._tx() as c:
            row = c.execute(select(d).where(claimable).order_by(d.c.created_at, d.c.key).limit(1)
                            .with_for_update(skip_locked=True)).mappings().first()
            if row is None:
                return None
            c.execute(update(d).where(d.c.key == row["key"]).values(
                status="processing", claimed_by=worker_id, lease_until=now + lease_seconds,
                attempts=d.c.attempts + 1, updated_at=utc_now()))
        return {**row, "status": "processing", "claimed_by": worker_id}

    def finish_dataset(self, dataset_id: str, status: str, *, claimed_by: str, failure_reason: str | None = None,
                       total_items: int | None = None, successful_items: int | None = None,
                       box_count: int | None = None) -> bool:
        """Record a snapshot, only while ``claimed_by`` still holds the claim; False when it had lost it."""
        d = t.datasets
        values: dict[str, Any] = {"status": status, "failure_reason": failure_reason, "updated_at": utc_now(),
                                  "lease_until": None, "snapshots": d.c.snapshots + 1}
        values.update({k: v for k, v in (("total_items", total_items), ("successful_items", successful_items),
                                          ("box_count", box_count)) if v is not None})
        with self._tx() as c:
            return c.execute(update(d).where(d.c.id == dataset_id, d.c.claimed_by == claimed_by,
                                             d.c.status == "processing").values(**values)).rowcount == 1

    def batch_status_by_key(self, batch_key: int) -> str | None:
        return self._scalar(select(t.batches.c.status).where(t.batches.c.key == batch_key))

    def batch_snapshot_counts(self, batch_key: int) -> tuple[int, int, int]:
        """(items, completed items, boxes) of a batch, as the worker snapshots them."""
        i, ch = t.items, t.box_chunks
        with self.engine.connect() as conn:
            total, ok = conn.execute(select(func.count(), func.coalesce(func.sum(
                case((i.c.status == "completed", 1), else_=0)), 0)).where(i.c.bkey == batch_key)).one()
            boxes = conn.execute(select(func.coalesce(func.sum(ch.c.n), 0)).where(ch.c.bkey == batch_key)).scalar()
        return int(total), int(ok), int(boxes)

    # ------------------------------------------------------------ exports
    def add_export(self, row: dict[str, Any]) -> None:
        with self._tx() as c:
            c.execute(insert(t.exports).values(**row))

    def get_export(self, export_id: str) -> dict[str, Any] | None:
        """An export by id, for the signed download route (the signature is the authority)."""
        return self._one(select(t.exports).where(t.exports.c.id == export_id))

    def statistics(self, tenant: str, since: str) -> dict[str, Any]:
        d, e = t.datasets, t.exports
        mine = and_(d.c.tenant == tenant, d.c.created_at >= since)
        with self.engine.connect() as conn:
            by_status = {s: int(n) for s, n in conn.execute(
                select(d.c.status, func.count()).where(mine).group_by(d.c.status))}
            n, n_items = conn.execute(select(func.count(), func.coalesce(func.sum(d.c.total_items), 0))
                                      .where(mine)).one()
            formats = conn.execute(select(e.c.format, func.count(), func.coalesce(func.sum(e.c.file_size_bytes), 0),
                                          func.coalesce(func.avg(e.c.export_seconds), 0.0))
                                   .where(e.c.tenant == tenant, e.c.created_at >= since).group_by(e.c.format)).all()
        return {"by_status": by_status, "total_datasets": int(n), "total_items": int(n_items),
                "by_format": {f: {"count": int(c), "total_size": int(s), "avg_export_time_seconds": round(float(a), 4)}
                              for f, c, s, a in formats}}

    # ------------------------------------------------------------ rate limits
    def count_request(self, tenant: str, window: int) -> int:
        """Count one request of ``tenant`` in minute ``window``; returns the window's count so far."""
        w = t.rate_windows
        stmt = (self._insert(w).values(tenant=tenant, window=window, count=1)
                .on_conflict_do_update(index_elements=["tenant", "window"], set_={"count": w.c.count + 1})
                .returning(w.c.count))
        with self._tx() as c:
            count = c.execute(stmt).scalar_one()
            if count == 1:  # a new window: forget the old ones
                c.execute(delete(w).where(w.c.window < window - 1))
        return int(count)
