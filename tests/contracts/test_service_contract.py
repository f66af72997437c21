"""Our service on the routes the hosted API also has answers as the hosted ``openapi.json`` says.

Every answer below (successes and errors) is checked against the hosted operation's documented statuses and
JSON schemas, and errors against the hosted README's envelope; a failing field names itself
(``GET /api/v2/batch/... 200 $.results[3].item_id: ...``).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).parent))

from hosted_schema import SHARED, VENDORED, check_response, component, operation, problems  # noqa: E402

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def test_vendored_copy_matches_the_shared_one():
    if not SHARED.exists():
        pytest.skip(f"{SHARED} is not beside the repository")
    assert json.loads(VENDORED.read_text()) == json.loads(SHARED.read_text()), \
        f"tests/contracts/hosted-openapi.json differs from {SHARED}: copy it again (and update SOURCE.md)"


def test_the_checker_catches_a_wrong_field():
    wrong = {"batch_id": "not-a-uuid", "status": "done", "total_items": 1, "processed_items": 1,
             "successful_items": 1, "failed_items": 0, "success_rate": 1.0, "created_at": "2025-01-15T10:30:00Z"}
    found = problems(component("BatchStatusResponse"), wrong)
    assert any(p.startswith("$.batch_id") for p in found) and any(p.startswith("$.status") for p in found)


@pytest.fixture(scope="module")
def svc(launch_service, tmp_path_factory):
    """A demo service of its own (the test cancels its running batch)."""
    return launch_service(tmp_path_factory.mktemp("contract-service"))


def _batches(svc) -> dict[str, dict]:
    resp = requests.get(f"{svc.base_url}/batches", headers=svc.headers, params={"limit": 100}, timeout=30)
    return {b["name"]: b for b in resp.json()["batches"]}


def _answers(svc) -> list[tuple[str, str, dict]]:
    """(method, path, requests keywords) of every call to check, in order (the cancel comes late)."""
    by_name = _batches(svc)
    done, live = by_name["street-scenes"]["batch_id"], by_name["beach-live"]["batch_id"]
    results = requests.get(f"{svc.base_url}/batch/{done}/results", headers=svc.headers, timeout=30).json()
    item = next(r for r in results["results"] if r["file_id"])
    calls = [("GET", f"/batch/{done}", {}), ("GET", f"/batch/{live}", {}),
             ("GET", f"/batch/{done}/results", {}),
             ("GET", f"/batch/{done}/results", {"params": {"include_failed": "false", "limit": 500}}),
             ("GET", f"/batch/{done}/results", {"params": {"offset": 100, "limit": 50}}),
             ("GET", f"/batch/{live}/results", {}),
             ("GET", f"/batch/{UNKNOWN}", {}), ("GET", f"/batch/{UNKNOWN}/results", {}),
             ("GET", "/batch/not-a-uuid", {}), ("GET", f"/batch/{done}/results", {"params": {"limit": 501}}),
             ("GET", f"/batch/{done}", {"headers": {"Authorization": "Bearer aion_wrong_key"}}),
             ("GET", f"/data/batch-images/{item['item_id']}", {}),
             ("GET", f"/data/batch-images/{item['item_id']}", {"params": {"thumbnail": "false"}}),
             ("GET", f"/data/batch-images/{UNKNOWN}", {}), ("GET", "/data/batch-images/x", {}),
             ("GET", f"/user-files/{item['file_id']}/download", {"allow_redirects": False}),
             ("GET", f"/user-files/{UNKNOWN}/download", {}), ("GET", "/user-files/x/download", {}),
             ("DELETE", f"/batch/{live}", {}), ("DELETE", f"/batch/{live}", {}), ("DELETE", f"/batch/{UNKNOWN}", {}),
             ("GET", f"/batch/{live}", {})]
    return calls


def test_every_answer_on_a_shared_route_matches_the_hosted_schema(svc):
    failures, statuses = [], []
    for method, path, kw in _answers(svc):
        headers = {**svc.headers, **kw.pop("headers", {})}
        resp = requests.request(method, f"{svc.base_url}{path}", headers=headers, timeout=30, **kw)
        body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else None
        statuses.append((method, path.split("/")[1], resp.status_code))
        failures += check_response(method, f"/api/v2{path}", resp.status_code, body,
                                   resp.headers.get("content-type", ""))
    assert not failures, "\n".join(failures)
    # the calls above reached every answer they were meant to
    assert {s for _, _, s in statuses} == {200, 204, 302, 401, 404, 409, 422}, statuses


def test_the_shared_routes_are_the_hosted_operations(svc):
    ours = requests.get(f"{svc.root_url}/openapi.json", timeout=30).json()["paths"]
    shared = [p for p, ops in ours.items() for op in ops.values() if not op.get("x-aion-extension")
              and not p.startswith("/api/v2/datasets")]
    assert set(shared) == {"/api/v2/batch/{batch_id}", "/api/v2/batch/{batch_id}/results",
                           "/api/v2/data/batch-images/{item_id}", "/api/v2/user-files/{image_id}/download"}
    for path in set(shared):
        for method, op in ours[path].items():
            hosted = operation(path, method)  # KeyError when the hosted API lacks it
            for param in hosted.get("parameters", []):
                mine = {p["name"]: p for p in op.get("parameters", [])}
                assert param["name"] in mine, (method, path, param["name"])
                assert mine[param["name"]]["in"] == param["in"]
    extensions = {p for p, ops in ours.items() for op in ops.values() if op.get("x-aion-extension")}
    assert {"/api/v2/batches", "/healthz", "/readyz", "/exports/{export_id}/{filename}",
            "/files/{file_id}/{filename}"} == extensions
