"""The batch routes: the hosted API's (status, results, cancel, item images, user-file downloads) in its
shapes, and this project's extensions (``GET /batches``, ``POST /batches``, signed file URLs).

Batches are filled from uploads on the hosted API; here they are imported (``POST /batches``).
"""
from __future__ import annotations

import base64
import binascii
import io
import json
import time
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from ..errors import ApiError, not_found
from ..images import save_image, sniff_size
from ..models import (BatchCreate, BatchesPage, BatchItemCreate, BatchItemResult, BatchPublic, BatchResultsPage,
                      BatchStatus, ErrorEnvelope, UserFilesError)
from ..responses import DownloadResponse as FileResponse
from ..settings import API_PREFIX
from ..store import NewItem
from .deps import ERRORS, Limit, Offset, StoreDep, Tenant, public_base

router = APIRouter(tags=["batches"], responses=ERRORS)
files_router = APIRouter(tags=["extensions"])

#: marks an operation the hosted API does not have (OpenAPI ``x-aion-extension``)
EXTENSION: dict[str, Any] = {"x-aion-extension": True}
EXT_NOTE = "**Extension of this project's service** (the hosted API has no such route). "
FILE_URL_TTL = 3600  # seconds a signed user-file URL lives (a presigned URL of the hosted API)
THUMBNAIL_SIZES = {"tiny": 64, "small": 256, "medium": 512}
ResultsLimit = Annotated[int, Query(ge=1, le=500, description="Results per page, 1-500")]
IMAGE = {"content": {"image/png": {}, "image/jpeg": {}, "application/octet-stream": {}}}


def batch_public(row: dict[str, Any]) -> BatchPublic:
    total, ok, failed = row["total_items"], row["successful_items"], row["failed_items"]
    processed = ok + failed
    done = row["status"] in ("completed", "failed", "cancelled", "partially_completed")
    progress = 100.0 if done or not total else round(100.0 * processed / total, 2)
    return BatchPublic(batch_id=row["id"], name=row["name"], status=row["status"], total_items=total,
                       processed_items=processed, successful_items=ok, failed_items=failed,
                       success_rate=round(ok / processed, 4) if processed else 0.0,
                       created_at=row["created_at"], started_at=row["created_at"],
                       completed_at=row["completed_at"], estimated_completion_time=None,
                       progress_percentage=progress, avg_processing_time_ms=None,
                       pending_items=max(total - processed, 0))


def item_result(item: dict[str, Any], base: str) -> BatchItemResult:
    output = None
    if item["status"] == "completed":
        output = {"description": item["description"], "tags": json.loads(item["tags"] or "[]"),
                  "width": item["width"], "height": item["height"],
                  "detections": [{"label": lab, "confidence": conf, "bbox": {"x": x, "y": y, "width": w, "height": h}}
                                 for lab, conf, x, y, w, h in item["detections"]]}
    image_url = f"{base}{API_PREFIX}/data/batch-images/{item['item_id']}" if item["file_id"] else None
    status = "success" if item["status"] == "completed" else item["status"]
    return BatchItemResult(item_id=item["item_id"], item_index=item["item_index"], status=status,
                           input_data={"file_name": item["file_name"], "file_id": item["file_id"]},
                           output_data=output, error_message=item["error_message"], processing_time_ms=None,
                           stored_image_url=image_url, file_id=item["file_id"], file_name=item["file_name"],
                           processed_at=item["processed_at"])


@router.get("/batches", response_model=BatchesPage, summary="List batches, newest first (extension)",
            description=EXT_NOTE, openapi_extra=EXTENSION)
def list_batches(tenant: Tenant, store: StoreDep, status: BatchStatus | None = None,
                 limit: Limit = 100, offset: Offset = 0) -> BatchesPage:
    rows, total = store.list_batches(tenant, status, limit, offset)
    return BatchesPage(batches=[batch_public(r) for r in rows], total_count=total, limit=limit,
                       offset=offset, has_more=offset + len(rows) < total)


@router.post("/batches", status_code=201, response_model=BatchPublic,
             responses={403: {"model": ErrorEnvelope, "description": "path imports are disabled (PATH_IMPORTS_DISABLED)"}},
             summary="Import a completed batch: images (base64 or a path under --import-root) and results",
             description=EXT_NOTE, openapi_extra=EXTENSION)
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
    return spec, data, source, width, height


def _import_path(root: Path | None, given: str, where: str) -> Path:
    if root is None:
        raise ApiError(403, "PATH_IMPORTS_DISABLED", f"{where}.path: path imports are disabled on this server;"
                       " send image_base64 (or start the server with --import-root DIR)", {"field": f"{where}.path"})
    base = Path(root).resolve()
    target = (base / given).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        raise ApiError(404, "NOT_FOUND", f"{where}.path: no such file under the import root",
                       {"field": f"{where}.path"})
    return target


def _batch(store: Any, tenant: str, batch_id: UUID) -> dict[str, Any]:
    row = store.get_batch(tenant, str(batch_id))
    if row is None:
        raise not_found("batch", str(batch_id))
    return row


@router.get("/batch/{batch_id}", response_model=BatchPublic, summary="Get batch operation status")
def get_batch(batch_id: UUID, tenant: Tenant, store: StoreDep) -> BatchPublic:
    return batch_public(_batch(store, tenant, batch_id))


@router.delete("/batch/{batch_id}", status_code=204, response_class=Response,
               responses={409: {"model": ErrorEnvelope, "description": "the batch is no longer pending or processing"
                                " (CONFLICT)"}},
               summary="Cancel a batch operation (pending or processing batches only)")
def cancel_batch(batch_id: UUID, tenant: Tenant, store: StoreDep) -> Response:
    cancelled, status = store.cancel_batch(tenant, str(batch_id))
    if status is None:
        raise not_found("batch", str(batch_id))
    if not cancelled:
        raise ApiError(409, "CONFLICT", f"batch {str(batch_id)!r} is {status}; only pending or processing batches"
                       " can be cancelled", {"batch_id": str(batch_id), "status": status})
    return Response(status_code=204)


@router.get("/batch/{batch_id}/results", response_model=BatchResultsPage,
            summary="Get batch operation results, in item order")
def batch_results(batch_id: UUID, tenant: Tenant, store: StoreDep, request: Request, include_failed: bool = True,
                  offset: Offset = 0, limit: ResultsLimit = 100) -> BatchResultsPage:
    row = _batch(store, tenant, batch_id)
    items = store.batch_items(row["key"], limit, offset, include_failed=include_failed)
    total = store.count_items(row["key"], include_failed)
    base = public_base(request)
    ok, failed = row["successful_items"], row["failed_items"]
    return BatchResultsPage(
        batch_id=row["id"], status=row["status"], results=[item_result(i, base) for i in items],
        pagination={"offset": offset, "limit": limit, "total_count": total, "has_more": offset + len(items) < total},
        summary={"total_items": row["total_items"], "successful_items": ok, "failed_items": failed,
                 "pending_items": max(row["total_items"] - ok - failed, 0)})


def _stored_file(store: Any, tenant: str | None, file_id: str, data_dir: Path) -> tuple[dict[str, Any], Path] | None:
    row = store.get_file(tenant, file_id) if tenant is not None else store.get_file_any(file_id)
    if row is None:
        return None
    base = Path(data_dir).resolve()
    path = (base / row["storage_path"]).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return row, path


@router.get("/data/batch-images/{item_id}", response_class=Response, responses={200: {**IMAGE,
            "description": "the image (a thumbnail unless thumbnail=false)"}},
            summary="Get stored batch item image")
def batch_item_image(item_id: UUID, tenant: Tenant, store: StoreDep, request: Request, thumbnail: bool = True,
                     size: Literal["tiny", "small", "medium"] = "small") -> Response:
    item = store.get_item(tenant, str(item_id))
    found = _stored_file(store, tenant, item["file_id"], request.app.state.settings.data_dir) \
        if item is not None and item["file_id"] else None
    if found is None:
        raise not_found("item image", str(item_id))
    row, path = found
    made = _thumbnail(path, THUMBNAIL_SIZES[size], row["content_type"]) if thumbnail else None
    if made is None:  # the original (asked for, or bytes Pillow cannot read: imported as they were)
        return FileResponse(path, media_type=row["content_type"], filename=row["file_name"],
                            content_disposition_type="inline")
    return Response(made[0], media_type=made[1])


def _thumbnail(path: Path, edge: int, content_type: str) -> tuple[bytes, str] | None:
    """The image scaled to fit ``edge`` x ``edge`` (PNG stays PNG, anything else becomes JPEG); None
    when the file is no image Pillow reads."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
        img.load()
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    with img:
        img.thumbnail((edge, edge))
        out = io.BytesIO()
        if content_type == "image/png":
            img.save(out, format="PNG")
            return out.getvalue(), "image/png"
        img.convert("RGB").save(out, format="JPEG", quality=85)
        return out.getvalue(), "image/jpeg"


@router.get("/user-files/{image_id}/download", response_class=RedirectResponse, status_code=302,
            responses={302: {"description": "Redirect to a signed download URL (no key needed there)"},
                       404: {"model": UserFilesError, "description": "Image not found (the hosted UserFilesError)"}},
            summary="Download User File (302 to a signed URL)")
def download_user_file(image_id: UUID, tenant: Tenant, store: StoreDep, request: Request) -> Any:
    file_id = str(image_id)
    if _stored_file(store, tenant, file_id, request.app.state.settings.data_dir) is None:
        rid = request.state.request_id
        body = UserFilesError(error="NOT_FOUND", message=f"file {file_id!r} not found", details={"file_id": file_id},
                              request_id=rid)
        return JSONResponse(body.model_dump(), status_code=404, headers={"X-Request-ID": rid})
    row = store.get_file(tenant, file_id)
    name = row["file_name"]
    expires = int(time.time()) + FILE_URL_TTL
    signature = request.app.state.signer.sign(f"files/{file_id}/{name}", expires)
    url = f"{public_base(request)}/files/{file_id}/{quote(name, safe='')}?expires={expires}&signature={signature}"
    return RedirectResponse(url, status_code=302)


@files_router.api_route(
    "/files/{file_id}/{filename}", methods=["GET", "HEAD"], response_class=FileResponse,
    responses={200: {**IMAGE, "description": "the file"}, 206: {"description": "a byte range (HTTP Range)"},
               403: {"model": ErrorEnvelope, "description": "INVALID_SIGNATURE or URL_EXPIRED"},
               404: {"model": ErrorEnvelope, "description": "NOT_FOUND"},
               422: {"model": ErrorEnvelope, "description": "VALIDATION_ERROR"}},
    summary="A user file by its signed, expiring URL (no key; extension)", description=EXT_NOTE,
    openapi_extra=EXTENSION)
def signed_file(file_id: str, filename: str, request: Request, expires: Annotated[int, Query(ge=0, le=10**11)],
                signature: Annotated[str, Query(max_length=128)]) -> FileResponse:
    state = request.app.state
    state.signer.verify(f"files/{file_id}/{filename}", expires, signature)
    found = _stored_file(state.store, None, file_id, state.settings.data_dir)
    if found is None or found[0]["file_name"] != filename:
        raise ApiError(404, "NOT_FOUND", "file not found", {"file_id": file_id})
    row, path = found
    return FileResponse(path, media_type=row["content_type"], filename=row["file_name"],
                        content_disposition_type="inline")
