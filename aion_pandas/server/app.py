"""The FastAPI application of the Datasets API: ``create_app(settings)``.

>>> from pathlib import Path; import tempfile
>>> app = create_app(Settings(data_dir=Path(tempfile.mkdtemp()), api_keys=("aion_test",)))
>>> app.title
'Aionvision Datasets API (aion-pandas)'
"""
from __future__ import annotations

import logging
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
from .models import Health
from .routes import batches, datasets, downloads
from .settings import API_PREFIX, Settings
from .signing import Signer, load_or_create_secret
from .store import Store
from .worker import DatasetWorker

log = logging.getLogger("aion_pandas.server")


class RequestIdMiddleware:
    """Gives every request an id (``request.state.request_id``) and every response ``X-Request-ID``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = "req_" + uuid.uuid4().hex
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
        return _error_response(request, 422, "VALIDATION_ERROR", f"{where}: {first['msg']}" if where else first["msg"],
                               {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "HTTP_ERROR")
        message = str(exc.detail) if exc.status_code != 404 else f"no route {request.method} {request.url.path}"
        return _error_response(request, exc.status_code, code, message, {}, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error %s on %s %s: %s", _request_id(request), request.method, request.url.path,
                  type(exc).__name__, exc_info=exc)
        return _error_response(request, 500, "INTERNAL_ERROR", "internal server error; quote the request id",
                               {})


def create_app(settings: Settings) -> FastAPI:
    """The service for ``settings``: store, worker, auth, routes, error envelope and OpenAPI document."""
    if not settings.api_keys:
        raise ValueError("create_app needs at least one API key")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.db_path)
    worker = DatasetWorker(store, settings.worker_poll_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            worker.stop()

    app = FastAPI(title="Aionvision Datasets API (aion-pandas)", version=__version__, lifespan=lifespan,
                  description="A self-hostable implementation of the Aionvision Datasets API: datasets from "
                              "completed batches, exports to CSV, COCO, YOLO and Pascal VOC, statistics.")
    app.state.settings = settings
    app.state.store = store
    app.state.worker = worker
    app.state.keys = KeyRing(settings.api_keys)
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute)
    app.state.signer = Signer(load_or_create_secret(settings.data_dir))
    app.state.export_slots = threading.BoundedSemaphore(max(1, settings.export_concurrency))
    app.add_middleware(RequestIdMiddleware)
    _install_error_handlers(app)
    app.include_router(datasets.router, prefix=API_PREFIX)
    app.include_router(batches.router, prefix=API_PREFIX)
    app.include_router(downloads.router)

    @app.get("/healthz", response_model=Health, tags=["health"], summary="Liveness (no key needed)")
    def healthz() -> Health:
        return Health(status="ok")

    return app
