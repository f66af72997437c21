"""Exports: build the canonical annotation frame of a dataset from the store and hand it to a formats writer.

The frame is built column by column with numpy (boxes arrive from the store as one float array), so a
million boxes never exist as a million Python objects. The writer writes straight into the export storage
(a folder's temp file renamed into place, or an S3 upload fed as it goes); only once the file is stored is
the export recorded.

>>> CONTENT_TYPES["pascal_voc"]
'application/zip'
"""
from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import time
import uuid
from typing import Any

import numpy as np
import pandas as pd

from ..errors import FormatError
from .errors import ApiError
from .export_storage import ExportStorage, StorageUnavailable
from .settings import API_PREFIX, Settings
from .signing import Signer
from .store import Store, utc_now

CONTENT_TYPES = {"csv": "text/csv", "coco": "application/json", "yolo": "application/zip",
                 "pascal_voc": "application/zip"}
EXTENSIONS = {"csv": "csv", "coco": "json", "yolo": "zip", "pascal_voc": "zip"}
WRITERS = {"csv": ("aion_pandas.formats.csv", "write_csv"), "coco": ("aion_pandas.formats.coco", "write_coco"),
           "yolo": ("aion_pandas.formats.yolo", "write_yolo"), "pascal_voc": ("aion_pandas.formats.voc", "write_voc")}
# export option -> (allowed for formats, validator); format_config keys give the defaults
OPTIONS: dict[str, tuple[tuple[str, ...], Any]] = {
    "delimiter": (("csv",), lambda v: isinstance(v, str) and len(v) == 1 and v not in "\r\n\""),
    "include_timestamps": (("csv",), lambda v: isinstance(v, bool)),
    "one_based": (("pascal_voc",), lambda v: isinstance(v, bool)),
}


def export_options(fmt: str, format_config: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The writer options of one export: the dataset's ``format_config`` defaults, overridden by ``options``.

    >>> export_options("csv", {"csv_delimiter": ";", "include_timestamps": True}, {"delimiter": "|"})
    {'delimiter': '|', 'include_timestamps': True}
    """
    merged: dict[str, Any] = {}
    if fmt == "csv":
        merged = {"delimiter": format_config.get("csv_delimiter", ","),
                  "include_timestamps": bool(format_config.get("include_timestamps", True))}
    for key, value in options.items():
        allowed = OPTIONS.get(key)
        if allowed is None or fmt not in allowed[0]:
            known = sorted(k for k, (fmts, _) in OPTIONS.items() if fmt in fmts)
            raise ApiError(422, "VALIDATION_ERROR", f"options.{key}: not an option of format {fmt!r}"
                           f" (known: {', '.join(known) or 'none'})", {"field": f"options.{key}"})
        if not allowed[1](value):
            raise ApiError(422, "VALIDATION_ERROR", f"options.{key}: invalid value {value!r}",
                           {"field": f"options.{key}"})
        merged[key] = value
    return merged


def build_frame(store: Store, dataset: dict[str, Any], include_failed: bool, base_url: str,
                include_timestamps: bool = False) -> tuple[pd.DataFrame, int]:
    """The canonical frame of a dataset (one row per box, image-only rows for images without boxes)
    and the number of images in it."""
    statuses = ("completed", "failed") if include_failed else ("completed",)
    items = store.export_items(dataset["bkey"], statuses)
    n_img = len(items)
    (index, item_id, status, file_id, file_name, width, height, description, tags, processed) = (
        zip(*items) if items else ((),) * 10)
    del items  # the per-image tuples; the columns above are all that is needed
    index = np.asarray(index, dtype=np.int64)
    boxes = store.export_boxes(dataset["bkey"])
    if n_img:  # keep boxes of included items only (failed items have none, but be exact)
        keep = np.isin(boxes["item_index"], index)
        if not keep.all():
            boxes = {k: v[keep] for k, v in boxes.items()}
    else:
        boxes = {k: v[:0] for k, v in boxes.items()}
    n_box = len(boxes["item_index"])
    pos = np.searchsorted(index, boxes["item_index"])
    empty = np.flatnonzero(np.bincount(pos, minlength=n_img) == 0)
    row_img = np.concatenate([pos, empty])
    row_box = np.concatenate([np.arange(n_box), np.full(len(empty), -1)])
    if len(empty):
        order = np.argsort(row_img, kind="stable")
        row_img, row_box = row_img[order], row_box[order]
    has_box = row_box >= 0
    sel = row_box[has_box]

    def box_col(name: str) -> np.ndarray:
        out = np.full(len(row_img), np.nan)
        out[has_box] = boxes[name][sel]
        return out

    labels = store.batch_labels(dataset["bkey"])
    names = sorted(labels.values())
    lut = np.full(max(labels, default=0) + 1, -1, dtype=np.int64)
    for lid, name in labels.items():
        lut[lid] = names.index(name)
    codes = np.full(len(row_img), -1, dtype=np.int64)
    codes[has_box] = lut[boxes["label_id"][sel]]
    box_columns = {"x": box_col("x"), "y": box_col("y"), "w": box_col("w"), "h": box_col("h"),
                   "score": box_col("confidence")}
    del boxes, sel  # the stored columns are copied into the frame's own

    def per_image(values: Any, dtype: Any) -> Any:
        return pd.array(list(values), dtype=dtype).take(row_img) if n_img else pd.array([], dtype=dtype)

    # per-image text repeated on every box row: python-backed strings, so the rows share each image's
    # str objects (8 bytes a row) instead of copying the text a million times
    shared_str = pd.StringDtype("python")

    tag_lists = np.empty(n_img, dtype=object)
    parsed: dict[str, list[str]] = {}  # images with the same tags share one list
    for i, text in enumerate(tags):
        tag_lists[i] = parsed.get(text) if text in parsed else parsed.setdefault(text, json.loads(text or "[]"))
    urls = [f"{base_url}{API_PREFIX}/user-files/{f}/download" if f else None for f in file_id]
    columns: dict[str, Any] = {
        "dataset_id": pd.array(np.full(len(row_img), dataset["id"], dtype=object), dtype=shared_str),
        "image_id": (index + 1)[row_img],
        "file_name": per_image(file_name, shared_str),
        "width": per_image(width, "Int64"),
        "height": per_image(height, "Int64"),
        "category": pd.Categorical.from_codes(codes, categories=names),
        "category_id": pd.array(np.where(codes >= 0, codes + 1, 0), dtype="Int64"),
        **box_columns,
        "description": per_image(description, shared_str),
        "tags": tag_lists[row_img],
        "image_url": per_image(urls, shared_str),
        "item_id": per_image(item_id, shared_str),
        "item_status": per_image(status, shared_str),
    }
    columns["category_id"][codes < 0] = pd.NA
    if include_timestamps:
        columns["processed_at"] = per_image(processed, shared_str)
    return pd.DataFrame(columns, copy=False), n_img


def _release_memory() -> None:
    """Hand memory freed by an export back to the OS (glibc keeps it otherwise), so RSS stays flat."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _writer(fmt: str) -> Any:
    module, name = WRITERS[fmt]
    return getattr(importlib.import_module(module), name)


def run_export(store: Store, storage: ExportStorage, settings: Settings, signer: Signer, tenant: str,
               dataset: dict[str, Any], fmt: str, options: dict[str, Any], include_failed: bool,
               base_url: str) -> dict[str, Any]:
    """Export ``dataset`` to ``fmt``, store the file, record it, and return the ExportPublic fields.

    The store down answers 503 ``STORAGE_UNAVAILABLE`` and records nothing."""
    opts = export_options(fmt, json.loads(dataset["format_config"] or "{}"), options)
    started = time.perf_counter()
    now = utc_now()
    include_ts = bool(opts.get("include_timestamps", False))
    if include_ts:  # the CSV writer adds exported_at; the frame adds each item's processed_at
        opts["exported_at"] = now
    frame, record_count = build_frame(store, dataset, include_failed, base_url, include_ts)
    n_boxes = int(frame["x"].notna().sum())
    export_id = str(uuid.uuid4())
    file_name = f"dataset_{dataset['id'][:8]}.{EXTENSIONS[fmt]}"
    key = f"{export_id}/{file_name}"
    try:
        with storage.create(key, CONTENT_TYPES[fmt]) as out:  # the store takes the bytes as they are written
            _writer(fmt)(frame, out, **opts)
            size = out.tell()
    except FormatError as exc:  # the data cannot be written in this format (e.g. YOLO without image sizes)
        raise ApiError(422, "VALIDATION_ERROR", f"dataset cannot be exported as {fmt}: {exc}",
                       {"format": fmt, "reason": str(exc)}) from None
    except StorageUnavailable as exc:
        raise ApiError(503, "STORAGE_UNAVAILABLE", f"{exc}; nothing was recorded, try the export again",
                       {"format": fmt}, headers={"Retry-After": "5"}) from None
    finally:
        frame = None
        _release_memory()
    seconds = time.perf_counter() - started
    try:
        store.add_export({"id": export_id, "tenant": tenant, "dataset_id": dataset["id"], "format": fmt,
                          "status": "completed", "record_count": record_count,
                          "box_count": n_boxes, "file_name": file_name, "file_size_bytes": size,
                          "content_type": CONTENT_TYPES[fmt], "created_at": now, "export_seconds": seconds,
                          "include_failed": int(include_failed), "options": json.dumps(options)})
    except BaseException:  # no row, so no file: an unrecorded export must not hold storage
        with contextlib.suppress(Exception):
            storage.delete(key)
        raise
    expires = int(time.time()) + settings.url_ttl_seconds
    signature = signer.sign(f"{export_id}/{file_name}", expires)
    return {"export_id": export_id, "dataset_id": dataset["id"], "format": fmt, "status": "completed",
            "record_count": record_count, "file_size_bytes": size, "content_type": CONTENT_TYPES[fmt],
            "download_url": f"{base_url}/exports/{export_id}/{file_name}?expires={expires}&signature={signature}",
            "exported_at": now, "expires_at": expires}
