"""The error tree of aion-pandas.

``AionError`` -> ``FormatError`` (export files), ``APIError`` (the service answered an error:
``AuthenticationError``, ``PaymentRequiredError``, ``PermissionDeniedError``, ``NotFoundError``,
``ConflictError``, ``ValidationError`` (422, and 400 as ``BadRequestError``), ``RateLimitError``,
``ServerError``), ``ConnectionError`` -> ``TimeoutError``, ``CancelledError``.
Every error the package raises derives from :class:`AionError`. Messages name what was wrong and
where (file, member, line, field, request id) and what to do; they never show an API key.

>>> try:
...     raise FormatError("labels/a.txt line 3: expected 5 fields, got 4", path="export.zip")
... except AionError as exc:
...     print(exc)
export.zip: labels/a.txt line 3: expected 5 fields, got 4
"""
from __future__ import annotations

import builtins as _builtins
from typing import Any as _Any
from urllib.parse import urlsplit as _urlsplit, urlunsplit as _urlunsplit


class AionError(Exception):
    """Base of every error raised by aion-pandas."""


class FormatError(AionError, ValueError):
    """An export file (or a frame given to a writer) is not valid for its format.

    ``path`` is the file, ``member`` the zip member, ``line`` the 1-based line where known.
    """

    def __init__(self, message: str, *, path: str | None = None, member: str | None = None,
                 line: int | None = None) -> None:
        self.path, self.member, self.line, self.reason = path, member, line, message
        where = ": ".join(p for p in (path, member) if p)
        if line is not None and member is None:
            where = f"{where} line {line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)


# ---------------------------------------------------------------- the API error tree


def _display_url(url: str | None) -> str | None:
    """A URL fit for a message: the query (which may hold a signature) is dropped."""
    if not url:
        return url
    parts = _urlsplit(url)
    return _urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class APIError(AionError):
    """The service answered with an error envelope (or a non-2xx without one).

    Carries ``status`` (HTTP), ``code`` (e.g. ``NOT_FOUND``), ``message``, ``details`` and
    ``request_id`` (quote it when reporting a problem).

    >>> err = error_from_response(404, {"error": {"code": "NOT_FOUND", "message": "dataset 'x' not found",
    ...                                 "details": {}}, "request_id": "req-1"}, method="GET",
    ...                           url="http://127.0.0.1:8765/api/v2/datasets/x")
    >>> type(err).__name__, err.code, err.request_id
    ('NotFoundError', 'NOT_FOUND', 'req-1')
    >>> print(err)
    404 NOT_FOUND: dataset 'x' not found (GET http://127.0.0.1:8765/api/v2/datasets/x, request_id=req-1)
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 details: dict[str, _Any] | None = None, request_id: str | None = None,
                 method: str | None = None, url: str | None = None) -> None:
        self.status, self.code, self.message = status, code, message
        self.details = details or {}
        self.request_id, self.method, self.url = request_id, method, _display_url(url)
        head = " ".join(str(p) for p in (status, code) if p is not None)
        where = ", ".join(p for p in (" ".join(p for p in (method, self.url) if p) or None,
                                      f"request_id={request_id}" if request_id else None) if p)
        text = f"{head}: {message}" if head else message
        super().__init__(f"{text} ({where})" if where else text)


class AuthenticationError(APIError):
    """401 ``INVALID_API_KEY``: the key is missing or wrong (check ``AIONVISION_API_KEY``)."""


class PermissionDeniedError(APIError):
    """403: e.g. ``INVALID_SIGNATURE`` / ``URL_EXPIRED`` on an export download (export again)."""


class NotFoundError(APIError):
    """404 ``NOT_FOUND``: no such dataset, batch, export or file for this key."""


class ExtensionMissingError(NotFoundError):
    """The server lacks a route only this project's service offers (e.g. ``GET /batches`` on the hosted API)."""


class ConflictError(APIError):
    """409, e.g. ``DATASET_NOT_READY``: wait until the dataset is ``ready``."""


class ValidationError(APIError, ValueError):
    """422 ``VALIDATION_ERROR`` (and 400): a field was invalid (``details`` says which)."""


class BadRequestError(ValidationError):
    """400: the request could not be understood (a :class:`ValidationError` too)."""


class PaymentRequiredError(APIError):
    """402: the hosted plan does not allow this (subscription or quota)."""


class RateLimitError(APIError):
    """429 ``RATE_LIMITED``; ``retry_after`` is the server's ``Retry-After`` in seconds (or None)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: _Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the service failed; retried for GETs, safe to retry later."""


class CancelledError(AionError):
    """A call was stopped on request (e.g. the panel's Cancel button); it left no half-written file."""


class ConnectionError(AionError, _builtins.ConnectionError):  # noqa: A001 (the issue's name)
    """The service could not be reached (refused, reset, DNS, cut off mid-response)."""

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None) -> None:
        self.method, self.url = method, _display_url(url)
        where = " ".join(p for p in (method, self.url) if p)
        Exception.__init__(self, f"{message} ({where})" if where else message)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class TimeoutError(ConnectionError, _builtins.TimeoutError):  # noqa: A001
    """The service did not answer within the client's ``timeout``."""


APIConnectionError = ConnectionError
APITimeoutError = TimeoutError

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError, 401: AuthenticationError, 402: PaymentRequiredError, 403: PermissionDeniedError,
    404: NotFoundError, 409: ConflictError, 422: ValidationError, 429: RateLimitError,
}
#: the code an answer gets when its body names none (an empty body, FastAPI's ``detail``)
STATUS_CODES: dict[int, str] = {
    400: "BAD_REQUEST", 401: "INVALID_API_KEY", 402: "PAYMENT_REQUIRED", 403: "FORBIDDEN", 404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 422: "VALIDATION_ERROR",
    429: "RATE_LIMITED", 500: "INTERNAL_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def _validation_message(errors: list[_Any]) -> tuple[str, list[dict[str, _Any]]]:
    """FastAPI's ``[{"loc", "msg", "type"}]`` as one readable line and a list of plain dicts."""
    items = []
    for e in errors:
        if isinstance(e, dict):
            loc = ".".join(str(p) for p in (e.get("loc") or []))
            items.append({"loc": loc, "msg": str(e.get("msg") or ""), "type": str(e.get("type") or "")})
    text = "; ".join(f"{i['loc']}: {i['msg']}" if i["loc"] else i["msg"] for i in items[:5])
    more = f" (and {len(items) - 5} more)" if len(items) > 5 else ""
    return text + more, items


def parse_error_body(status: int, body: _Any) -> tuple[str | None, str, dict[str, _Any], str | None]:
    """(code, message, details, request_id) from any error body the hosted API or ours sends.

    Shapes: the envelope ``{"error": {"code", "message", "details"}, "request_id"}``; ``UserFilesError``
    ``{"error", "message", "details"}``; ``ChatErrorResponse`` ``{"error", "error_code", "detail"}``;
    FastAPI's ``HTTPValidationError`` ``{"detail": [{"loc", "msg", "type"}]}`` or ``{"detail": "..."}``;
    text; nothing.

    >>> parse_error_body(404, {"error": "FILE_NOT_FOUND", "message": "no such image", "details": None})
    ('FILE_NOT_FOUND', 'no such image', {}, None)
    >>> parse_error_body(422, {"detail": [{"loc": ["query", "limit"], "msg": "too big", "type": "x"}]})[:2]
    ('VALIDATION_ERROR', 'query.limit: too big')
    """
    code: str | None = None
    message, details, request_id = "", {}, None
    if isinstance(body, dict):
        request_id = body.get("request_id") if isinstance(body.get("request_id"), str) else None
        error, detail = body.get("error"), body.get("detail")
        if isinstance(error, dict):  # the envelope
            code = error.get("code") if isinstance(error.get("code"), str) else None
            message = str(error.get("message") or "")
            details = error.get("details") if isinstance(error.get("details"), dict) else {}
        elif isinstance(body.get("error_code"), str):  # ChatErrorResponse
            code = body["error_code"]
            message = str(detail) if isinstance(detail, str) and detail else str(error or "")
        elif isinstance(error, str):  # UserFilesError
            code, message = error, str(body.get("message") or error)
            details = body.get("details") if isinstance(body.get("details"), dict) else {}
        elif isinstance(detail, list):  # HTTPValidationError
            code = "VALIDATION_ERROR"
            message, items = _validation_message(detail)
            details = {"errors": items}
        elif isinstance(detail, str):
            message = detail
        elif isinstance(body.get("message"), str):
            message = body["message"]
    elif isinstance(body, str):
        message = body.strip()[:300]
    if not message:
        from http import HTTPStatus
        try:
            message = f"HTTP {status} {HTTPStatus(status).phrase}"
        except ValueError:
            message = f"HTTP {status}"
    return code or STATUS_CODES.get(status) or f"HTTP_{status}", message, details, request_id


def error_from_response(status: int, body: _Any, *, headers: _Any = None, method: str | None = None,
                        url: str | None = None, request_id: str | None = None) -> APIError:
    """The typed error for a non-2xx answer, whatever shape its body has (see :func:`parse_error_body`).

    ``request_id``: the one the client sent, used when neither the body nor the headers name one.
    """
    headers = headers or {}
    code, message, details, body_request_id = parse_error_body(status, body)
    request_id = body_request_id or headers.get("X-Request-ID") or headers.get("x-request-id") or request_id
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    kw: dict[str, _Any] = dict(status=status, code=code, details=details, request_id=request_id,
                               method=method, url=url)
    if cls is RateLimitError:
        kw["retry_after"] = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
    return cls(message, **kw)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent/invalid.

    >>> parse_retry_after("2"), parse_retry_after(None), parse_retry_after("soon")
    (2.0, None, None)
    """
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime
        from datetime import datetime, timezone
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None
