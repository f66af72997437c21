"""Signed export downloads, outside /api/v2 and without a key: ``/exports/{export_id}/{filename}``."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from ..responses import DownloadResponse as FileResponse

from ..errors import ApiError
from ..models import ErrorEnvelope

router = APIRouter(tags=["exports"])


@router.api_route("/exports/{export_id}/{filename}", methods=["GET", "HEAD"], response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "the export file"},
                       206: {"description": "a byte range of the export file (HTTP Range)"},
                       403: {"model": ErrorEnvelope, "description": "INVALID_SIGNATURE or URL_EXPIRED"},
                       404: {"model": ErrorEnvelope, "description": "NOT_FOUND"},
                       422: {"model": ErrorEnvelope, "description": "VALIDATION_ERROR"}},
            summary="Download an export file with a signed, expiring URL (no API key; extension)",
            description="**Extension of this project's service**: the hosted API's `download_url` points at its "
                        "own storage.", openapi_extra={"x-aion-extension": True})
def download_export(export_id: str, filename: str, request: Request,
                    expires: Annotated[int, Query(ge=0, le=10**11)],
                    signature: Annotated[str, Query(max_length=128)]) -> FileResponse:
    state = request.app.state
    state.signer.verify(f"{export_id}/{filename}", expires, signature)
    row = state.store.get_export(export_id)
    if row is None or row["file_name"] != filename:
        raise ApiError(404, "NOT_FOUND", "export file not found", {"export_id": export_id})
    base = Path(state.settings.exports_dir).resolve()
    path = state.settings.export_file(row["id"], row["file_name"]).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        raise ApiError(404, "NOT_FOUND", "export file not found", {"export_id": export_id})
    return FileResponse(path, media_type=row["content_type"], filename=row["file_name"])
