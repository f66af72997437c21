"""Shared route dependencies: the tenant, the store, paging parameters, documented error responses."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..errors import ApiError
from ..models import ErrorEnvelope
from ..store import Store

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")


def _tenant(request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    tenant = None
    if credentials is not None and credentials.credentials.strip():
        tenant = request.app.state.keys.tenant_for(credentials.credentials.strip())
    if tenant is None:
        reason = "missing Authorization header" if "authorization" not in request.headers else "invalid API key"
        raise ApiError(401, "INVALID_API_KEY", f"{reason}: send 'Authorization: Bearer <your API key>'",
                       headers={"WWW-Authenticate": "Bearer"})
    request.app.state.limiter.check(tenant)
    return tenant


def _store(request: Request) -> Store:
    return request.app.state.store


def public_base(request: Request) -> str:
    """The service's absolute root URL (``--public-url`` or the request's own), without a slash."""
    configured = request.app.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


Tenant = Annotated[str, Depends(_tenant)]
StoreDep = Annotated[Store, Depends(_store)]
Limit = Annotated[int, Query(ge=1, le=1000, description="page size, 1-1000")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="items to skip")]


def _err(description: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _err("malformed request body (BAD_REQUEST)"),
    401: _err("missing or invalid API key (INVALID_API_KEY)"),
    404: _err("unknown id, or another tenant's (NOT_FOUND)"),
    422: _err("invalid input (VALIDATION_ERROR)"),
    429: _err("too many requests (RATE_LIMITED), see Retry-After"),
    500: _err("unexpected failure (INTERNAL_ERROR)"),
}
