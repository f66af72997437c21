"""Batches (the hosted API fills them from uploads; here they are imported) and their image files."""
from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from ..responses import DownloadResponse as FileResponse

from ..errors import ApiError, not_found
from ..images import save_image, sniff_size
from ..models import (BatchCreate, BatchesPage, BatchItemCreate, BatchItemResult, BatchPublic, BatchResultsPage, BatchStatus)
from ..store import NewItem
from .deps import ERRORS, Limit, Offset, StoreDep, Tenant

router = APIRouter(tags=["batches"], responses=ERRORS)


def batch_public(row: dict[str, Any]) -> BatchPublic:
    total, ok, failed = row["total_items"], row["successful_items"], row["failed_items"]
    pending = max(total - ok - failed, 0)
    return BatchPublic(batch_id=row["id"], name=row["name"], status=row["status"], total_items=total,
                       successful_items=ok, failed_items=failed, pending_items=pending,
                       progress_percent=round(100.0 * (ok + failed) / total, 2) if total else 100.0,
                       created_at=row["created_at"], completed_at=row["completed_at"])


def item_result(item: dict[str, Any]) -> BatchItemResult:
    output = None
    if item["status"] == "completed":
        output = {"description": item["description"], "tags": json.loads(item["tags"] or "[]"),
                  "width": item["width"], "height": item["height"],
                  "detections": [{"label": lab, "confidence": conf, "bbox": {"x": x, "y": y, "width": w, "height": h}}
                                 for lab, conf, x, y, w, h in item["detections"]]}
    return BatchItemResult(item_id=item["item_id"], item_index=item["item_index"], status=item["status"],
                           file_id=item["file_id"], file_name=item["file_name"], output_data=output,
                           error_message=item["error_message"], processed_at=item["processed_at"])


@router.get("/batches", response_model=BatchesPage, summary="List batches, newest first")
def list_batches(tenant: Tenant, store: StoreDep, status: BatchStatus | None = None,
                 limit: Limit = 100, offset: Offset = 0) -> BatchesPage:
    rows, total = store.list_batches(tenant, status, limit, offset)
    return BatchesPage(batches=[batch_public(r) for r in rows], total_count=total, limit=limit,
                       offset=offset, has_more=offset + len(rows) < total)


@router.post("/batches", status_code=201, response_model=BatchPublic,
             summary="Import a completed batch: images (base64 or a path under --import-root) and results")
def import_batch(body: BatchCreate, tenant: Tenant, store: StoreDep, request: Request) -> BatchPublic:
    settings = request.app.state.settings
    checked = [_check_item(spec, f"items[{i}]", settings.import_root) for i, spec in enumerate(body.items)]
    items = []  # every item is valid: only now store images, so a refused batch leaves nothing behind
    for spec, data, source, width, height in checked:
        file_id = None
        if data is not None or source is not None:
            file_id = save_image(store, settings.files_dir, tenant, spec.file_name, data=data, source=source,
                                 content_type=spec.content_type)
        out, completed = spec.output_data, spec.status == "completed"
        items.append(NewItem(
            file_name=spec.file_name, status=spec.status, width=width, height=height, file_id=file_id,
            description=out.description if out and completed else None,
            tags=list(out.tags) if out and completed else [],
            detections=[(d.label, d.confidence, d.bbox.x, d.bbox.y, d.bbox.width, d.bbox.height)
                        for d in out.detections] if out and completed else [],
            error_message=None if completed else (spec.error_message or "processing failed")))
    batch_id = store.import_batch(tenant, body.name, items)
    return batch_public(store.get_batch(tenant, batch_id))


def _check_item(spec: BatchItemCreate, where: str, import_root: Path | None
                ) -> tuple[BatchItemCreate, bytes | None, Path | None, int | None, int | None]:
    """Decode and check one item: (spec, image bytes, image path, width, height), or a 422."""
    data, source = None, None
    if spec.image_base64 is not None:
        try:
            data = base64.b64decode(spec.image_base64, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(422, "VALIDATION_ERROR", f"{where}.image_base64 is not valid base64",
                           {"field": f"{where}.image_base64"}) from None
    elif spec.path is not None:
        source = _import_path(import_root, spec.path, where)
    out = spec.output_data
    width, height = (out.width, out.height) if out else (None, None)
    if (data is not None or source is not None) and (width is None or height is None):
        width, height = sniff_size(data if data is not None else source)
    if spec.status == "completed" and out and out.detections and (width is None or height is None):
        raise ApiError(422, "VALIDATION_ERROR", f"{where}.output_data: width and height are needed for an"
                       " item with detections (give them, or send the image)", {"field": f"{where}.output_data"})
    return spec, data, source, width, height


def _import_path(root: Path | None, given: str, where: str) -> Path:
    if root is None:
        raise ApiError(422, "VALIDATION_ERROR", f"{where}.path: path imports are disabled on this server;"
                       " send image_base64 (or start the server with --import-root DIR)", {"field": f"{where}.path"})
    base = Path(root).resolve()
    target = (base / given).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        raise ApiError(422, "VALIDATION_ERROR", f"{where}.path: no such file under the import root",
                       {"field": f"{where}.path"})
    return target


@router.get("/batch/{batch_id}", response_model=BatchPublic, summary="Status of one batch")
def get_batch(batch_id: str, tenant: Tenant, store: StoreDep) -> BatchPublic:
    row = store.get_batch(tenant, batch_id)
    if row is None:
        raise not_found("batch", batch_id)
    return batch_public(row)


@router.get("/batch/{batch_id}/results", response_model=BatchResultsPage,
            summary="Per-item results of a batch, in item order")
def batch_results(batch_id: str, tenant: Tenant, store: StoreDep, limit: Limit = 100,
                  offset: Offset = 0) -> BatchResultsPage:
    row = store.get_batch(tenant, batch_id)
    if row is None:
        raise not_found("batch", batch_id)
    items = store.batch_items(row["key"], limit, offset)
    total = row["total_items"]
    return BatchResultsPage(batch_id=batch_id, batch_status=row["status"],
                            results=[item_result(i) for i in items], total_count=total, limit=limit,
                            offset=offset, has_more=offset + len(items) < total)


@router.get("/user-files/{file_id}/download", response_class=FileResponse,
            responses={200: {"content": {"image/*": {}}, "description": "the image bytes"}},
            summary="Download an uploaded image")
def download_file(file_id: str, tenant: Tenant, store: StoreDep, request: Request) -> FileResponse:
    row = store.get_file(tenant, file_id)
    if row is None:
        raise not_found("file", file_id)
    data_dir = Path(request.app.state.settings.data_dir).resolve()
    path = (data_dir / row["storage_path"]).resolve()
    if not path.is_relative_to(data_dir) or not path.is_file():
        raise not_found("file", file_id)
    return FileResponse(path, media_type=row["content_type"], filename=row["file_name"],
                        content_disposition_type="inline")
