"""The FastAPI application of the Datasets API: ``create_app(settings)``.

>>> from pathlib import Path; import tempfile
>>> app = create_app(Settings(data_dir=Path(tempfile.mkdtemp()), api_keys=("aion_test",)))
>>> app.title
'Aionvision Datasets API (aion-pandas)'
"""
from __future__ import annotations

import logging
import re
import threading
import uuid
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from .auth import KeyRing, RateLimiter
from .errors import STATUS_CODES, ApiError, envelope
from .export_storage import ExportStorage, open_storage
from .models import ErrorEnvelope, Health
from .routes import batches, datasets, downloads
from .settings import API_PREFIX, Settings
from .signing import Signer, load_or_create_secret
from .store import Store
from .worker import WorkerPool

log = logging.getLogger("aion_pandas.server")


_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


class RequestIdMiddleware:
    """Gives every request an id (``request.state.request_id``) and every response ``X-Request-ID``: the
    client's own ``X-Request-ID`` when it sent a plain one (letters, digits, ``._:-``, up to 128), else a new one."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = next((v for k, v in scope.get("headers", []) if k.lower() == b"x-request-id"), b"")
        request_id = given.decode() if _REQUEST_ID.fullmatch(given) else "req_" + uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"] = headers + [(b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or "req_" + uuid.uuid4().hex


def _error_response(request: Request, status: int, code: str, message: str, details: dict | None = None,
                    headers: dict[str, str] | None = None) -> JSONResponse:
    rid = _request_id(request)
    return JSONResponse(envelope(code, message, details, rid), status_code=status,
                        headers={**(headers or {}), "X-Request-ID": rid})


def _field(loc: list[str]) -> str:
    """The field of a validation error's location: ``body.coco.options.x`` -> ``options.x`` (the part
    that names the body, and the export format the body was read as, dropped)."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    if loc and loc[0] == "body" and parts and parts[0] in ("csv", "coco", "yolo", "pascal_voc"):
        parts = parts[1:]
    return ".".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(request, exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(map(str, e.get("loc", ()))), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"])
        field = _field(first["loc"])
        details: dict[str, Any] = {"errors": errors, **({"field": field} if field else {})}
        return _error_response(request, 422, "VALIDATION_ERROR", f"{where}: {first['msg']}" if where else first["msg"],
                               details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "HTTP_ERROR")
        message = str(exc.detail) if exc.status_code != 404 else f"no route {request.method} {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method the path's routes offer, not only the first route's
            allowed = _allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed on {request.url.path}; use {' or '.join(allowed)}"
        return _error_response(request, exc.status_code, code, message, {}, headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error %s on %s %s: %s", _request_id(request), request.method, request.url.path,
                  type(exc).__name__, exc_info=exc)
        return _error_response(request, 500, "INTERNAL_ERROR", "internal server error; quote the request id",
                               {})


def _allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document gives the request's path (every route of that path)."""
    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        table = []
        for template, operations in request.app.openapi()["paths"].items():
            pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
            table.append((re.compile(pattern), sorted(m.upper() for m in operations)))
        request.app.state.allowed_methods = table
    path = request.url.path
    return sorted({m for pattern, methods in table if pattern.fullmatch(path) for m in methods})


def open_backends(settings: Settings) -> tuple[Store, ExportStorage]:
    """The database and the export storage that ``settings`` name (raises SchemaBehind on an old schema)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database, migrate=settings.migrate_on_start)
    storage = open_storage(settings.storage or settings.exports_dir, settings.s3_endpoint_url,
                           public_endpoint_url=settings.s3_public_endpoint_url)
    return store, storage


def create_app(settings: Settings) -> FastAPI:
    """The service for ``settings``: store, workers, auth, routes, error envelope and OpenAPI document."""
    if not settings.api_keys:
        raise ValueError("create_app needs at least one API key")
    store, storage = open_backends(settings)
    workers = WorkerPool(store, settings.workers, settings.worker_poll_seconds, settings.lease_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers.start()
        try:
            yield
        finally:
            workers.stop()

    app = FastAPI(title="Aionvision Datasets API (aion-pandas)", version=__version__, lifespan=lifespan,
                  description="A self-hostable implementation of the Aionvision Datasets API: datasets from "
                              "completed batches, exports to CSV, COCO, YOLO and Pascal VOC, statistics. The batch, "
                              "batch-image and user-file routes answer in the hosted API's shapes; operations "
                              "marked `x-aion-extension` exist only in this project's service.")
    app.state.settings = settings
    app.state.store = store
    app.state.storage = storage
    app.state.worker = workers
    app.state.keys = KeyRing(settings.api_keys)
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute, store.count_request)
    secret = settings.signing_secret.encode("utf-8") if settings.signing_secret else None
    app.state.signer = Signer(secret or load_or_create_secret(settings.data_dir))
    app.state.export_slots = threading.BoundedSemaphore(max(1, settings.export_concurrency))
    app.add_middleware(RequestIdMiddleware)
    _install_error_handlers(app)
    app.include_router(datasets.router, prefix=API_PREFIX)
    app.include_router(batches.router, prefix=API_PREFIX)
    app.include_router(downloads.router)
    app.include_router(batches.files_router)

    @app.get("/healthz", response_model=Health, tags=["health"], summary="Liveness (no key needed; extension)",
             openapi_extra={"x-aion-extension": True})
    def healthz() -> Health:
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"],
             responses={503: {"model": ErrorEnvelope, "description": "the database or the store is unreachable"}},
             summary="Readiness: the database and the export store answer (no key needed; extension)",
             openapi_extra={"x-aion-extension": True})
    def readyz() -> Health:
        down = []
        try:
            store.ping()
        except Exception:
            down.append("database")
        try:
            storage.ping()
        except Exception:
            down.append("storage")
        if down:
            raise ApiError(503, "NOT_READY", f"not ready: {' and '.join(down)} unreachable", {"unreachable": down})
        return Health(status="ok")

    return app
