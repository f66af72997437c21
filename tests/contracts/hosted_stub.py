"""A stub of the hosted API on loopback, answering as its ``openapi.json`` says (test helper).

Every JSON body it sends is first validated against the hosted schema it stands for (a stub that drifts
from the document fails loudly). It has the hosted batch routes, the Datasets routes of
``datasets-api.md``, and no ``GET /batches`` (the hosted API has none: 404 ``{"detail": "Not Found"}``).

Batch ids pick an answer: ``BATCH`` (completed, 250 results: paging in a ``pagination`` object with
``total`` and no ``has_more``), ``RUNNING`` (processing, ``progress_percentage`` 40 then done after
two polls); datasets created here are ``pending`` and ``ready`` from their third poll; ids ending in ``0400``, ``0401``, ``0404``, ``0422``, ``0429``, ``0500`` answer the error
bodies of the hosted document (see ``ERRORS``). ``stub.requests`` records (method, path, X-Request-ID).
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hosted_schema import PREFIX, component, problems

BATCH = "550e8400-e29b-41d4-a716-446655440000"
RUNNING = "770a0600-e29b-41d4-a716-446655440002"
DATASET = "660f9500-e29b-41d4-a716-446655440000"
ITEMS = 250
KEY = "aion_hosted_stub_key_0123456789abcdef"


def _item(index: int, base: str) -> dict[str, Any]:
    item_id = f"00000000-0000-4000-8000-{index:012d}"
    failed = index % 10 == 9
    return {"item_id": item_id, "item_index": index, "status": "failed" if failed else "success",
            "input_data": {"filename": f"img_{index:04d}.jpg"},
            "output_data": None if failed else {"description": f"scene {index}", "tags": ["street"]},
            "error_message": "image could not be decoded" if failed else None,
            "processing_time_ms": 1200 + index, "stored_image_url": f"{base}{PREFIX}/data/batch-images/{item_id}"}


def _status(batch_id: str, status: str, progress: float) -> dict[str, Any]:
    done = status != "processing"
    return {"batch_id": batch_id, "status": status, "total_items": ITEMS, "processed_items": int(ITEMS * progress / 100),
            "successful_items": 225 if done else 90, "failed_items": 25 if done else 10,
            "success_rate": 0.9, "created_at": "2025-01-15T10:30:00Z", "started_at": "2025-01-15T10:30:02Z",
            "completed_at": "2025-01-15T10:41:00Z" if done else None,
            "estimated_completion_time": None if done else "2025-01-15T10:41:00Z",
            "progress_percentage": progress, "avg_processing_time_ms": 1325}


def _dataset(dataset_id: str, batch_id: str, name: str, status: str) -> dict[str, Any]:
    return {"id": dataset_id, "name": name, "description": None, "batch_id": batch_id, "status": status,
            "created_at": "2025-01-15T10:30:00Z", "updated_at": "2025-01-15T10:30:00Z", "batch_status": "completed",
            "total_items": ITEMS, "successful_items": 225, "export_count": 0,
            "supported_formats": ["csv", "coco", "yolo", "pascal_voc"], "latest_export": None}


#: id suffix -> (status, body (None: empty), headers): the hosted document's error shapes
ERRORS: dict[str, tuple[int, Any, dict[str, str]]] = {
    "0404": (404, {"error": "FILE_NOT_FOUND", "message": "Image 9f1c not found", "details": {"image_id": "9f1c"}},
             {}),
    "0500": (500, {"error": "Internal error", "error_code": "CHAT_SERVICE_ERROR", "detail": None,
                   "timestamp": "2025-01-15T10:30:00Z"}, {}),
    "0422": (422, {"detail": [{"loc": ["query", "limit"], "msg": "Input should be less than or equal to 500",
                               "type": "less_than_equal"}]}, {}),
    "0400": (400, {"error": {"code": "VALIDATION_ERROR", "message": "Invalid request parameters",
                             "details": {"field": "limit", "issue": "Must be between 1 and 100"}},
                   "request_id": "550e8400-e29b-41d4-a716-4466554400aa"}, {}),
    "0401": (401, None, {}),
    "0429": (429, {"error": {"code": "RATE_LIMIT_ERROR", "message": "Too many requests", "details": {}},
                   "request_id": "req_rate"}, {"Retry-After": "120"}),
}
SCHEMAS = {"0404": "UserFilesError", "0500": "ChatErrorResponse", "0422": "HTTPValidationError"}


class HostedStub:
    """``with HostedStub() as stub: Client(KEY, stub.base_url)``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        self.polls = 0
        self.cancelled: list[str] = []
        self.datasets: dict[str, dict[str, Any]] = {}  # id -> dataset (datasets-api.md's shape)
        self.dataset_polls: dict[str, int] = {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                stub._serve(self)

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.root_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.base_url = self.root_url + PREFIX
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "HostedStub":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ answers
    def _send(self, h: BaseHTTPRequestHandler, status: int, body: Any = None, schema: str | None = None,
              headers: dict[str, str] | None = None, raw: bytes | None = None, ctype: str = "application/json") -> None:
        if schema is not None:
            wrong = problems(component(schema), body)
            assert not wrong, f"the stub's {schema} breaks the hosted schema: {wrong}"
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if data:
            h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        body = json.loads(h.rfile.read(length)) if length else None
        self.requests.append((h.command, url.path, h.headers.get("X-Request-ID")))
        if url.path.startswith("/signed/"):  # the presigned URL a user-file download redirects to
            return self._send(h, 200, raw=b"\x89PNG\r\n\x1a\nstub", ctype="image/png")
        if h.headers.get("Authorization") != f"Bearer {KEY}":
            return self._send(h, 401, {"error": {"code": "INVALID_API_KEY", "message": "API key is invalid",
                                                 "details": {}}, "request_id": "req_auth"})
        parts = url.path[len(PREFIX):].strip("/").split("/")
        ident = parts[1] if len(parts) > 1 else ""
        if ident[-4:] in ERRORS and parts[0] == "batch":
            status, payload, headers = ERRORS[ident[-4:]]
            return self._send(h, status, payload, SCHEMAS.get(ident[-4:]), headers)
        route = (h.command, parts[0], len(parts))
        if route == ("GET", "batch", 2):
            if ident == RUNNING:
                self.polls += 1
                done = self.polls > 2
                return self._send(h, 200, _status(ident, "completed" if done else "processing",
                                                  100.0 if done else 40.0), "BatchStatusResponse")
            return self._send(h, 200, _status(ident, "partially_completed", 100.0), "BatchStatusResponse")
        if route == ("DELETE", "batch", 2):
            self.cancelled.append(ident)
            return self._send(h, 204)
        if route == ("GET", "batch", 3) and parts[2] == "results":
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
            include_failed = query.get("include_failed", "true") == "true"
            items = [_item(i, self.root_url) for i in range(ITEMS)]
            if not include_failed:
                items = [i for i in items if i["status"] != "failed"]
            page = items[offset:offset + limit]
            return self._send(h, 200, {"batch_id": ident, "status": "partially_completed", "results": page,
                                       "pagination": {"offset": offset, "limit": limit, "total": len(items)},
                                       "summary": {"total": ITEMS, "successful": 225, "failed": 25}},
                              "BatchResultsResponse")
        if route == ("GET", "user-files", 3) and parts[2] == "download":
            return self._send(h, 302, headers={"Location": f"{self.root_url}/signed/{ident}.png?sig=abc"})
        if route == ("POST", "datasets", 1):
            if body.get("batch_id") not in (BATCH, RUNNING):
                return self._send(h, 404, {"error": {"code": "NOT_FOUND", "message": "batch not found",
                                                     "details": {}}, "request_id": "req_nf"})
            dataset_id = f"660f9500-e29b-41d4-a716-{len(self.datasets) + 1:012d}"
            self.datasets[dataset_id] = _dataset(dataset_id, body["batch_id"], body["name"], "pending")
            return self._send(h, 201, self.datasets[dataset_id])
        if route == ("GET", "datasets", 1):
            rows = list(self.datasets.values())
            return self._send(h, 200, {"datasets": rows, "total_count": len(rows), "limit": 100, "offset": 0,
                                       "has_more": False})
        if route == ("GET", "datasets", 2) and ident in self.datasets:
            polls = self.dataset_polls[ident] = self.dataset_polls.get(ident, 0) + 1
            if polls >= 3:
                self.datasets[ident]["status"] = "ready"
            return self._send(h, 200, self.datasets[ident])
        if route == ("POST", "datasets", 3) and parts[2] == "export":  # datasets-api.md's example answer
            return self._send(h, 200, {
                "export_id": "550e8400-e29b-41d4-a716-446655440001", "dataset_id": ident,
                "format": body["format"], "status": "completed", "record_count": 487,
                "download_url": f"{self.root_url}/signed/dataset_550e8400.json", "file_size_bytes": 12,
                "content_type": "application/json", "exported_at": "2025-01-15T10:30:00Z"})
        return self._send(h, 404, {"detail": "Not Found"})  # FastAPI's answer to an unknown route
