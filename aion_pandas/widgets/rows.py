"""Records as rows of the panel's table, errors as one line for its message bar (no widgets, no HTTP).

>>> from aion_pandas.errors import ConflictError
>>> describe_error(ConflictError("dataset d1 is processing", status=409, code="DATASET_NOT_READY", request_id="r9"))
'DATASET_NOT_READY: dataset d1 is processing (request id r9)'
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import APIError, ConnectionError, FormatError
from .render import when

if TYPE_CHECKING:
    from ..records import Dataset


def dataset_row(d: "Dataset") -> dict[str, Any]:
    """A dataset record as a row of the panel's table (display strings for times).

    >>> from aion_pandas.records import Dataset
    >>> dataset_row(Dataset.from_api({"id": "d1", "name": "Q1", "status": "ready", "created_at": None}))["status"]
    'ready'
    """
    latest = d.latest_export
    return {"id": d.id, "name": d.name, "status": d.status, "batch_id": d.batch_id,
            "batch_status": d.batch_status, "description": d.description, "total_items": d.total_items,
            "successful_items": d.successful_items, "export_count": d.export_count,
            "latest_export_id": latest.export_id if latest else None,
            "latest_export_format": latest.format if latest else None,
            "latest_export_at": when(latest.created_at) if latest else None,
            "created_at": when(d.created_at), "updated_at": when(d.updated_at),
            "supported_formats": list(d.supported_formats), "failure_reason": d.failure_reason}


def describe_error(exc: BaseException) -> str:
    """One line for the panel: ``CODE: message (request id …)``; no traceback.

    >>> from aion_pandas.errors import NotFoundError
    >>> describe_error(NotFoundError("batch 'x' not found", status=404, code="NOT_FOUND", request_id="r1"))
    "NOT_FOUND: batch 'x' not found (request id r1)"
    """
    if isinstance(exc, APIError):
        text = f"{exc.code or f'HTTP {exc.status}'}: {exc.message}"
        if exc.request_id:
            text += f" (request id {exc.request_id})"
    elif isinstance(exc, ConnectionError):
        text = f"CONNECTION_ERROR: {exc}"
    elif isinstance(exc, FormatError):
        text = f"FORMAT_ERROR: {exc}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "…"
