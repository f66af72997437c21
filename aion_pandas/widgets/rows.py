"""Records as rows of the panel's table, errors as one line for its message bar (no widgets, no HTTP).

>>> from aion_pandas.errors import ConflictError
>>> describe_error(ConflictError("dataset d1 is processing", status=409, code="DATASET_NOT_READY", request_id="r9"))
'DATASET_NOT_READY: dataset d1 is processing (request id r9)'
"""
from __future__ import annotations

import json
import uuid
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


def check_create_form(form: dict[str, str]) -> dict[str, Any]:
    """The Create tab's fields as ``create()`` arguments; ``ValueError`` with the line to show if wrong.

    >>> check_create_form({"batch_id": "550E8400-E29B-41D4-A716-446655440000", "name": "Q1",
    ...                    "description": "", "format_config": '{"csv_delimiter": ";"}'})["format_config"]
    {'csv_delimiter': ';'}
    >>> check_create_form({"batch_id": "", "name": "Q1", "description": "", "format_config": ""})
    Traceback (most recent call last):
    ValueError: Pick a batch or type a batch id.
    """
    if not form["batch_id"]:
        raise ValueError("Pick a batch or type a batch id.")
    try:
        batch_id = str(uuid.UUID(form["batch_id"]))
    except ValueError:
        raise ValueError(f"{form['batch_id'][:60]!r} is not a batch id: batch ids are UUIDs such as "
                         "550e8400-e29b-41d4-a716-446655440000.") from None
    if not form["name"]:
        raise ValueError("Give the dataset a name.")
    config = None
    if form["format_config"]:
        try:
            config = json.loads(form["format_config"])
        except json.JSONDecodeError as exc:
            raise ValueError(f"Format config is not valid JSON (line {exc.lineno}, column {exc.colno}).") from None
        if not isinstance(config, dict):
            raise ValueError("Format config must be a JSON object, e.g. {\"csv_delimiter\": \";\"}.")
    return {"batch_id": batch_id, "name": form["name"], "description": form["description"] or None,
            "format_config": config}
