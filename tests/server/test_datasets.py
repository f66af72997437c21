"""The spec's dataset routes: create, list (pagination, filter), get, statistics."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from .helpers import api, assert_envelope, batches_by_name, new_dataset, wait_status

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_create_answers_201_pending_then_worker_makes_it_ready(service):
    batch = batches_by_name(service)["park-scenes"]
    resp = api(service, "POST", "/datasets", json={
        "batch_id": batch["batch_id"], "name": "Park Q1", "description": "parks",
        "format_config": {"csv_delimiter": ";", "include_timestamps": False}})
    assert resp.status_code == 201
    body = resp.json()
    assert body["status"] == "pending"
    assert body["name"] == "Park Q1" and body["description"] == "parks" and body["batch_id"] == batch["batch_id"]
    assert body["batch_status"] == "completed"
    assert body["total_items"] == batch["total_items"] == 100
    assert body["successful_items"] == batch["successful_items"] == 96
    assert body["export_count"] == 0 and body["latest_export"] is None
    assert body["supported_formats"] == ["csv", "coco", "yolo", "pascal_voc"]
    assert body["format_config"]["csv_delimiter"] == ";"
    assert ISO_Z.match(body["created_at"]) and ISO_Z.match(body["updated_at"])
    ready = wait_status(service, body["id"])
    assert ready["status"] == "ready" and ready["failure_reason"] is None
    assert ready["total_items"] == 100 and ready["successful_items"] == 96


def test_dataset_of_unfinished_batch_fails_with_reason(service):
    batch = batches_by_name(service)["beach-live"]
    assert batch["status"] == "processing" and batch["pending_items"] > 0
    created = api(service, "POST", "/datasets", json={"batch_id": batch["batch_id"], "name": "early"}).json()
    done = wait_status(service, created["id"])
    assert done["status"] == "failed"
    assert "processing" in done["failure_reason"] and batch["batch_id"] in done["failure_reason"]
    error = assert_envelope(api(service, "POST", f"/datasets/{created['id']}/export", json={"format": "csv"}),
                            409, "DATASET_NOT_READY")
    assert error["details"]["status"] == "failed"


@pytest.mark.parametrize("limit,ok", [(0, False), (1, True), (1000, True), (1001, False), (-1, False)])
def test_limit_bounds(service, limit, ok):
    resp = api(service, "GET", "/datasets", params={"limit": limit})
    if ok:
        assert resp.status_code == 200 and resp.json()["limit"] == limit
        assert len(resp.json()["datasets"]) <= limit
    else:
        assert_envelope(resp, 422, "VALIDATION_ERROR")


def test_pagination_walks_every_dataset_once(service):
    new_dataset(service)
    full = api(service, "GET", "/datasets", params={"limit": 1000}).json()
    total = full["total_count"]
    assert total == len(full["datasets"]) >= 4 and full["has_more"] is False
    seen, offset = [], 0
    while True:
        page = api(service, "GET", "/datasets", params={"limit": 2, "offset": offset}).json()
        assert page["limit"] == 2 and page["offset"] == offset and page["total_count"] == total
        seen += [d["id"] for d in page["datasets"]]
        assert page["has_more"] == (offset + len(page["datasets"]) < total)
        if not page["has_more"]:
            break
        offset += 2
    assert seen == [d["id"] for d in full["datasets"]]
    beyond = api(service, "GET", "/datasets", params={"offset": total + 5}).json()
    assert beyond["datasets"] == [] and beyond["has_more"] is False
    assert_envelope(api(service, "GET", "/datasets", params={"offset": -1}), 422, "VALIDATION_ERROR")


def test_status_filter(service):
    for status in ("ready", "failed", "pending"):
        body = api(service, "GET", "/datasets", params={"status": status, "limit": 1000}).json()
        assert all(d["status"] == status for d in body["datasets"])
        assert body["total_count"] == len(body["datasets"])
    everything = api(service, "GET", "/datasets", params={"limit": 1000}).json()["datasets"]
    ready = api(service, "GET", "/datasets", params={"status": "ready", "limit": 1000}).json()
    assert ready["total_count"] == sum(d["status"] == "ready" for d in everything) >= 3


def test_get_dataset_matches_list_entry(service):
    listed = api(service, "GET", "/datasets", params={"status": "ready"}).json()["datasets"][0]
    got = api(service, "GET", f"/datasets/{listed['id']}").json()
    assert got == listed


@pytest.mark.parametrize("days,ok", [(0, False), (1, True), (30, True), (365, True), (366, False)])
def test_statistics_days_bounds(service, days, ok):
    resp = api(service, "GET", "/datasets/statistics/summary", params={"days": days})
    if not ok:
        assert_envelope(resp, 422, "VALIDATION_ERROR")
        return
    body = resp.json()
    since = datetime.fromisoformat(body["period"]["since"].replace("Z", "+00:00"))
    until = datetime.fromisoformat(body["period"]["until"].replace("Z", "+00:00"))
    assert until - since == timedelta(days=days)
    assert abs((until - datetime.now(timezone.utc)).total_seconds()) < 120


def test_statistics_follow_what_happened(start_service):
    svc = start_service(demo=True)
    stats = api(svc, "GET", "/datasets/statistics/summary", params={"days": 365}).json()
    listed = api(svc, "GET", "/datasets", params={"limit": 1000}).json()["datasets"]
    ds = stats["dataset_statistics"]
    assert ds["total_datasets"] == len(listed) == 4
    assert ds["by_status"] == {"pending": 0, "processing": 0, "ready": 3, "failed": 1}
    assert ds["total_items"] == sum(d["total_items"] for d in listed)
    assert ds["avg_items_per_dataset"] == pytest.approx(ds["total_items"] / 4, abs=0.01)
    # demo exports: csv 2, coco 4, yolo 2, pascal_voc 2
    es = stats["export_statistics"]
    assert {f: v["count"] for f, v in es["by_format"].items()} == {"csv": 2, "coco": 4, "yolo": 2, "pascal_voc": 2}
    assert es["total_exports"] == 10 == sum(d["export_count"] for d in listed)
    assert all(v["avg_export_time_seconds"] > 0 and v["total_size"] > 0 for v in es["by_format"].values())
    assert es["total_data_volume"] == sum(v["total_size"] for v in es["by_format"].values())
    assert stats["popular_formats"][0] == {"format": "coco", "usage_count": 4}
    counts = [p["usage_count"] for p in stats["popular_formats"]]
    assert counts == sorted(counts, reverse=True) and len(counts) == 4
    # a new export shows up in the counts and sizes
    ready = next(d for d in listed if d["status"] == "ready")
    export = api(svc, "POST", f"/datasets/{ready['id']}/export", json={"format": "yolo"}).json()
    after = api(svc, "GET", "/datasets/statistics/summary", params={"days": 365}).json()["export_statistics"]
    assert after["by_format"]["yolo"]["count"] == 3
    assert after["by_format"]["yolo"]["total_size"] == es["by_format"]["yolo"]["total_size"] + export["file_size_bytes"]
    # the demo's oldest dataset is 20 days old: a 7-day window leaves it out
    week = api(svc, "GET", "/datasets/statistics/summary", params={"days": 7}).json()["dataset_statistics"]
    assert week["total_datasets"] == 2
