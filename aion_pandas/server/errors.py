"""Errors the service answers with, and the envelope every non-2xx response carries.

>>> err = ApiError(404, "NOT_FOUND", "dataset 'x' not found", {"dataset_id": "x"})
>>> envelope(err.code, err.message, err.details, "req1")["error"]["code"]
'NOT_FOUND'
"""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An expected failure: HTTP status, machine code, human message, details (never a key)."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or {}
        self.headers = headers or {}


def not_found(kind: str, ident: str) -> ApiError:
    """The 404 for an unknown id, also used for another tenant's id (never 403)."""
    return ApiError(404, "NOT_FOUND", f"{kind} {ident!r} not found", {f"{kind}_id": ident})


def envelope(code: str, message: str, details: dict[str, Any] | None, request_id: str) -> dict[str, Any]:
    """The JSON body of every error response."""
    return {"error": {"code": code, "message": message, "details": details or {}}, "request_id": request_id}


# HTTP status -> code for errors raised by the framework itself (routing, method, body parsing)
STATUS_CODES: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "INVALID_API_KEY",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    416: "RANGE_NOT_SATISFIABLE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}
