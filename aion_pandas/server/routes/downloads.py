"""Signed export downloads, outside /api/v2 and without a key: ``/exports/{export_id}/{filename}``.

A folder store serves the file itself (with HTTP Range); an S3 store answers 307 to the object's presigned
URL (after checking any Range against the recorded size, so a bad range still gets the error envelope),
and HEAD from the object's metadata.
"""
from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from ..errors import ApiError, envelope
from ..export_storage import FolderStorage, StorageUnavailable
from ..models import ErrorEnvelope
from ..responses import DownloadResponse as FileResponse

router = APIRouter(tags=["exports"])


@router.api_route("/exports/{export_id}/{filename}", methods=["GET", "HEAD"], response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "the export file"},
                       206: {"description": "a byte range of the export file (HTTP Range)"},
                       307: {"description": "the export file's presigned URL on the S3 store"},
                       403: {"model": ErrorEnvelope, "description": "INVALID_SIGNATURE or URL_EXPIRED"},
                       404: {"model": ErrorEnvelope, "description": "NOT_FOUND"},
                       422: {"model": ErrorEnvelope, "description": "VALIDATION_ERROR"},
                       503: {"model": ErrorEnvelope, "description": "the export store is unreachable"}},
            summary="Download an export file with a signed, expiring URL (no API key; extension)",
            description="**Extension of this project's service**: the hosted API's `download_url` points at its "
                        "own storage.", openapi_extra={"x-aion-extension": True})
def download_export(export_id: str, filename: str, request: Request,
                    expires: Annotated[int, Query(ge=0, le=10**11)],
                    signature: Annotated[str, Query(max_length=128)]) -> Response:
    state = request.app.state
    state.signer.verify(f"{export_id}/{filename}", expires, signature)
    row = state.store.get_export(export_id)
    if row is None or row["file_name"] != filename:
        raise ApiError(404, "NOT_FOUND", "export file not found", {"export_id": export_id})
    key = f"{row['id']}/{row['file_name']}"
    storage = state.storage
    if isinstance(storage, FolderStorage):
        path = storage.path(key)
        if path is None:
            raise ApiError(404, "NOT_FOUND", "export file not found", {"export_id": export_id})
        return FileResponse(path, media_type=row["content_type"], filename=row["file_name"])
    size = int(row["file_size_bytes"])
    if request.method == "HEAD":
        try:
            size = storage.size(key)
        except StorageUnavailable as exc:
            raise ApiError(503, "STORAGE_UNAVAILABLE", str(exc), {"export_id": export_id}) from None
        return Response(headers={"content-length": str(size), "accept-ranges": "bytes",
                                 "content-type": row["content_type"]})
    bad = _bad_range(request, size)
    if bad is not None:
        return bad
    url = storage.presigned_url(key, int(expires) - int(time.time()), row["file_name"])
    return RedirectResponse(url, status_code=307)


def _bad_range(request: Request, size: int) -> Response | None:
    """The envelope answer to a Range header the file cannot serve, else None."""
    from fastapi.responses import JSONResponse

    http_range = request.headers.get("range")
    if http_range is None:
        return None
    rid = request.state.request_id
    try:
        FileResponse._parse_range_header(http_range, size)
    except MalformedRangeHeader as exc:
        return JSONResponse(envelope("BAD_REQUEST", f"bad Range header: {exc.content}",
                                     {"range": http_range[:200]}, rid), status_code=400)
    except RangeNotSatisfiable:
        return JSONResponse(envelope("RANGE_NOT_SATISFIABLE", f"range outside the file's {size} bytes",
                                     {"size": size}, rid), status_code=416, headers={"Content-Range": f"bytes */{size}"})
    return None
