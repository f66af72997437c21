"""Small helpers for the service tests: authenticated calls, waiting for a dataset, demo batches."""
from __future__ import annotations

import base64
import io
import time
from typing import Any

import requests
from PIL import Image

TIMEOUT = 30


def api(service, method: str, path: str, *, key: str | None = None, **kw: Any) -> requests.Response:
    """Call ``{base_url}{path}`` with the first tenant's key (or ``key``)."""
    headers = {"Authorization": f"Bearer {key or service.api_key}", **kw.pop("headers", {})}
    return requests.request(method, f"{service.base_url}{path}", headers=headers, timeout=TIMEOUT, **kw)


def assert_envelope(resp: requests.Response, status: int, code: str) -> dict:
    """The response is the error envelope with this status and code; returns the error body."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error", "request_id"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    assert body["request_id"] and resp.headers.get("x-request-id") == body["request_id"]
    return body["error"]


def wait_status(service, dataset_id: str, wanted: tuple[str, ...] = ("ready", "failed"), key: str | None = None,
                timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = api(service, "GET", f"/datasets/{dataset_id}", key=key).json()
        if body["status"] in wanted or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def batches_by_name(service, key: str | None = None) -> dict[str, dict]:
    body = api(service, "GET", "/batches", key=key, params={"limit": 1000}).json()
    return {b["name"]: b for b in body["batches"]}


def all_results(service, batch_id: str, key: str | None = None) -> list[dict]:
    out, offset = [], 0
    while True:
        page = api(service, "GET", f"/batch/{batch_id}/results", key=key,
                   params={"limit": 500, "offset": offset}).json()
        out += page["results"]
        if not page["pagination"]["has_more"]:
            return out
        offset += len(page["results"])


def new_dataset(service, batch_name: str = "street-scenes", key: str | None = None, **body: Any) -> dict:
    """A fresh ready dataset of a demo batch."""
    batch = batches_by_name(service, key)[batch_name]
    resp = api(service, "POST", "/datasets", key=key, json={"batch_id": batch["batch_id"], "name": "t", **body})
    assert resp.status_code == 201, resp.text
    ready = wait_status(service, resp.json()["id"], key=key)
    assert ready["status"] == "ready", ready
    return ready


def png_base64(width: int, height: int, colour: tuple[int, int, int] = (10, 200, 30)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")
