"""Batches: list, filter, status, results pages, import (POST /batches) and image downloads."""
from __future__ import annotations

import base64
import io

import pytest
import requests
from PIL import Image

from .helpers import all_results, api, assert_envelope, batches_by_name, png_base64, wait_status


def test_demo_batches_listed_newest_first(service):
    body = api(service, "GET", "/batches").json()
    names = [b["name"] for b in body["batches"]]
    assert {"street-scenes", "park-scenes", "warehouse-safety", "beach-live"} <= set(names)
    created = [b["created_at"] for b in body["batches"]]
    assert created == sorted(created, reverse=True)
    street = batches_by_name(service)["street-scenes"]
    assert (street["total_items"], street["successful_items"], street["failed_items"]) == (120, 114, 6)
    assert street["status"] == "completed" and street["progress_percentage"] == 100.0


def test_status_filter_and_bounds(service):
    running = api(service, "GET", "/batches", params={"status": "processing"}).json()
    assert [b["name"] for b in running["batches"]] == ["beach-live"]
    assert running["batches"][0]["progress_percentage"] < 100 and running["batches"][0]["completed_at"] is None
    assert_envelope(api(service, "GET", "/batches", params={"status": "nope"}), 422, "VALIDATION_ERROR")
    assert_envelope(api(service, "GET", "/batches", params={"limit": 1001}), 422, "VALIDATION_ERROR")
    page = api(service, "GET", "/batches", params={"limit": 1, "offset": 1}).json()
    assert len(page["batches"]) == 1 and page["has_more"] is True


def test_get_batch_and_results_pages(service):
    street = batches_by_name(service)["street-scenes"]
    assert api(service, "GET", f"/batch/{street['batch_id']}").json() == street
    first = api(service, "GET", f"/batch/{street['batch_id']}/results", params={"limit": 50}).json()
    assert first["pagination"] == {"offset": 0, "limit": 50, "total_count": 120, "has_more": True}
    assert first["summary"] == {"total_items": 120, "successful_items": 114, "failed_items": 6, "pending_items": 0}
    assert len(first["results"]) == 50 and first["status"] == "completed"
    results = all_results(service, street["batch_id"])
    assert [r["item_index"] for r in results] == list(range(120))
    failed = [r for r in results if r["status"] == "failed"]
    assert len(failed) == 6
    assert all(r["error_message"] and r["output_data"] is None for r in failed)
    done = [r for r in results if r["status"] == "success"]
    assert all(r["output_data"]["width"] > 0 and r["output_data"]["description"] for r in done)
    det = next(d for r in done for d in r["output_data"]["detections"])
    assert set(det) == {"label", "confidence", "bbox"} and set(det["bbox"]) == {"x", "y", "width", "height"}
    assert_envelope(api(service, "GET", f"/batch/{street['batch_id']}/results", params={"limit": 0}),
                    422, "VALIDATION_ERROR")


def test_demo_images_are_the_scenes_they_describe(service):
    street = batches_by_name(service)["street-scenes"]
    item = next(r for r in all_results(service, street["batch_id"])
                if r["status"] == "success" and r["output_data"]["detections"])
    resp = api(service, "GET", f"/user-files/{item['file_id']}/download")
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/jpeg"
    img = Image.open(io.BytesIO(resp.content))
    assert img.size == (item["output_data"]["width"], item["output_data"]["height"])
    # the centre of a detection's box is the object's colour, not the background's
    box = item["output_data"]["detections"][-1]["bbox"]  # drawn last, so on top
    edge = img.convert("RGB").getpixel((int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] * 0.9)))
    background = img.convert("RGB").getpixel((0, 0))
    assert sum(abs(a - b) for a, b in zip(edge, background)) > 30


def test_import_batch_then_dataset(service):
    body = {"name": "imported", "items": [
        {"file_name": "cams/a.png", "image_base64": png_base64(64, 48),
         "output_data": {"description": "one dog", "tags": ["pets"], "width": 64, "height": 48,
                         "detections": [{"label": "dog", "confidence": 0.9,
                                         "bbox": {"x": 4, "y": 5, "width": 20, "height": 10}}]}},
        {"file_name": "cams/b.png", "image_base64": png_base64(32, 32), "output_data": {}},
        {"file_name": "cams/c.png", "status": "failed", "error_message": "blurred"},
    ]}
    resp = api(service, "POST", "/batches", json=body)
    assert resp.status_code == 201, resp.text
    batch = resp.json()
    assert (batch["status"], batch["total_items"], batch["successful_items"], batch["failed_items"]) == (
        "completed", 3, 2, 1)
    results = all_results(service, batch["batch_id"])
    a, b, c = results
    assert (a["output_data"]["width"], a["output_data"]["height"]) == (64, 48)
    assert (b["output_data"]["width"], b["output_data"]["height"]) == (32, 32)  # read from the image
    assert a["output_data"]["detections"][0]["bbox"] == {"x": 4.0, "y": 5.0, "width": 20.0, "height": 10.0}
    assert a["output_data"]["tags"] == ["pets"] and b["output_data"]["detections"] == []
    assert c["error_message"] == "blurred" and c["file_id"] is None
    png = api(service, "GET", f"/user-files/{a['file_id']}/download")
    assert png.content == base64.b64decode(body["items"][0]["image_base64"])
    assert png.headers["content-type"] == "image/png"
    dataset = api(service, "POST", "/datasets", json={"batch_id": batch["batch_id"], "name": "imp"}).json()
    assert wait_status(service, dataset["id"])["status"] == "ready"
    export = api(service, "POST", f"/datasets/{dataset['id']}/export",
                 json={"format": "coco", "include_failed_items": True}).json()
    assert export["record_count"] == 3


@pytest.mark.parametrize("item,field", [
    ({"file_name": "../x.png"}, "file_name"),
    ({"file_name": "/etc/passwd"}, "file_name"),
    ({"file_name": "a.png", "image_base64": "***"}, "image_base64"),
    ({"file_name": "a.png", "output_data": {"detections": [{"label": "x", "bbox": {"x": 0, "y": 0, "width": -1,
                                                                                    "height": 1}}]}}, "width"),
    ({"file_name": "a.png", "output_data": {"detections": [{"label": "x", "confidence": 2,
                                                            "bbox": {"x": 0, "y": 0, "width": 1, "height": 1}}]}},
     "confidence"),
])
def test_import_rejects_bad_items(service, item, field):
    error = assert_envelope(api(service, "POST", "/batches", json={"items": [item]}), 422, "VALIDATION_ERROR")
    assert field in error["message"]


def test_path_imports_are_refused_when_the_server_has_no_import_root(service):
    resp = api(service, "POST", "/batches", json={"items": [{"file_name": "a.png", "path": "/etc/passwd"}]})
    assert "--import-root" in assert_envelope(resp, 403, "PATH_IMPORTS_DISABLED")["message"]


def test_thumbnails_of_bytes_that_are_no_image_give_the_bytes(service):
    body = {"items": [{"file_name": "odd.png", "image_base64": base64.b64encode(b"not an image").decode()}]}
    batch = api(service, "POST", "/batches", json=body).json()
    [item] = all_results(service, batch["batch_id"])
    resp = requests.get(item["stored_image_url"], headers=service.headers, timeout=10)
    assert resp.status_code == 200 and resp.content == b"not an image"


def test_import_needs_items(service):
    assert_envelope(api(service, "POST", "/batches", json={"items": []}), 422, "VALIDATION_ERROR")


def test_openapi_documents_every_route_and_shape(service):
    doc = requests.get(f"{service.root_url}/openapi.json", timeout=10).json()
    paths = doc["paths"]
    for path, method in [("/api/v2/datasets", "post"), ("/api/v2/datasets", "get"),
                         ("/api/v2/datasets/{dataset_id}", "get"), ("/api/v2/datasets/{dataset_id}/export", "post"),
                         ("/api/v2/datasets/statistics/summary", "get"), ("/api/v2/batches", "get"),
                         ("/api/v2/batches", "post"), ("/api/v2/batch/{batch_id}", "get"),
                         ("/api/v2/batch/{batch_id}/results", "get"),
                         ("/api/v2/user-files/{image_id}/download", "get"),
                         ("/api/v2/batch/{batch_id}", "delete"), ("/api/v2/data/batch-images/{item_id}", "get"),
                         ("/exports/{export_id}/{filename}", "get"), ("/healthz", "get")]:
        assert method in paths[path], (path, method)
    export_op = paths["/api/v2/datasets/{dataset_id}/export"]["post"]
    assert {"401", "404", "409", "422"} <= set(export_op["responses"])
    schemas = doc["components"]["schemas"]
    assert {"ErrorEnvelope", "BatchItemResult", "OutputData", "Detection", "BBox", "DatasetPublic",
            "ExportPublic", "StatisticsPublic"} <= set(schemas)
    assert set(schemas["BatchItemResult"]["properties"]) >= {"item_id", "item_index", "status", "output_data",
                                                            "error_message", "file_id", "file_name"}
    assert "HTTPBearer" in doc["components"]["securitySchemes"]


def test_boxes_need_an_image_size(service):  # in the schema too (if detections then width, height)
    item = {"file_name": "nosize.jpg", "output_data": {"detections": [
        {"label": "dog", "bbox": {"x": 1, "y": 1, "width": 2, "height": 2}}]}}
    error = assert_envelope(api(service, "POST", "/batches", json={"items": [item]}), 422, "VALIDATION_ERROR")
    assert "width and height" in error["message"] and error["details"]["field"] == "items.0.output_data"
    item["output_data"].update(width=10, height=8)
    assert api(service, "POST", "/batches", json={"items": [item]}).status_code == 201


def test_refused_import_stores_no_image(service):
    files = service.data_dir / "files"
    before = sum(1 for p in files.rglob("*") if p.is_file())
    body = {"items": [{"file_name": "ok.png", "image_base64": png_base64(8, 8)},
                      {"file_name": "bad.png", "image_base64": "not base64!"}]}
    assert_envelope(api(service, "POST", "/batches", json=body), 422, "VALIDATION_ERROR")
    assert sum(1 for p in files.rglob("*") if p.is_file()) == before


def test_results_filter_failed_items_and_page_up_to_500(service):
    street = batches_by_name(service)["street-scenes"]
    url = f"/batch/{street['batch_id']}/results"
    page = api(service, "GET", url, params={"include_failed": "false", "limit": 500}).json()
    assert page["pagination"]["total_count"] == 114 and page["pagination"]["has_more"] is False
    assert {r["status"] for r in page["results"]} == {"success"} and len(page["results"]) == 114
    assert_envelope(api(service, "GET", url, params={"limit": 501}), 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("path", ["/batch/not-a-uuid", "/batch/not-a-uuid/results",
                                  "/data/batch-images/not-a-uuid", "/user-files/not-a-uuid/download"])
def test_ids_the_hosted_api_types_as_uuids_are_checked(service, path):
    error = assert_envelope(api(service, "GET", path), 422, "VALIDATION_ERROR")
    assert "uuid" in error["message"].lower()


def test_an_unknown_batch_is_404_and_another_tenants_too(service):
    street = batches_by_name(service)["street-scenes"]
    assert_envelope(api(service, "GET", "/batch/00000000-0000-4000-8000-000000000000"), 404, "NOT_FOUND")
    assert_envelope(api(service, "GET", f"/batch/{street['batch_id']}", key=service.other_api_key), 404, "NOT_FOUND")


def test_stored_image_url_gives_the_image_and_a_thumbnail(service):
    street = batches_by_name(service)["street-scenes"]
    item = next(r for r in all_results(service, street["batch_id"]) if r["status"] == "success")
    assert item["stored_image_url"] == f"{service.base_url}/data/batch-images/{item['item_id']}"
    assert item["input_data"] == {"file_name": item["file_name"], "file_id": item["file_id"]}
    headers = service.headers
    full = requests.get(item["stored_image_url"], params={"thumbnail": "false"}, headers=headers, timeout=10)
    assert full.status_code == 200
    assert Image.open(io.BytesIO(full.content)).size == (item["output_data"]["width"], item["output_data"]["height"])
    thumb = requests.get(item["stored_image_url"], params={"size": "tiny"}, headers=headers, timeout=10)
    assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) <= 64
    assert requests.get(item["stored_image_url"], timeout=10).status_code == 401


def test_user_file_download_redirects_to_a_signed_url(service):
    street = batches_by_name(service)["street-scenes"]
    item = next(r for r in all_results(service, street["batch_id"]) if r["file_id"])
    resp = api(service, "GET", f"/user-files/{item['file_id']}/download", allow_redirects=False)
    assert resp.status_code == 302
    signed = resp.headers["Location"]
    assert signed.startswith(f"{service.root_url}/files/{item['file_id']}/") and "signature=" in signed
    assert requests.get(signed, timeout=10).status_code == 200  # no key needed there
    assert_envelope(requests.get(signed.replace("signature=", "signature=0"), timeout=10), 403, "INVALID_SIGNATURE")


def test_cancel_a_processing_batch_then_not_again(start_service):
    own = start_service(demo=True)  # cancelling changes the demo data: a service of its own
    live = batches_by_name(own)["beach-live"]
    assert live["status"] == "processing"
    assert api(own, "DELETE", f"/batch/{live['batch_id']}").status_code == 204
    cancelled = api(own, "GET", f"/batch/{live['batch_id']}").json()
    assert cancelled["status"] == "cancelled" and cancelled["completed_at"] is not None
    error = assert_envelope(api(own, "DELETE", f"/batch/{live['batch_id']}"), 409, "CONFLICT")
    assert "only pending or processing" in error["message"]
    street = batches_by_name(own)["street-scenes"]
    assert_envelope(api(own, "DELETE", f"/batch/{street['batch_id']}"), 409, "CONFLICT")


def test_405_lists_every_method_of_the_path(service):
    resp = api(service, "PUT", "/batch/00000000-0000-4000-8000-000000000000")
    assert resp.status_code == 405 and resp.headers["Allow"] == "DELETE, GET"


def test_the_client_request_id_is_kept(service):
    resp = api(service, "GET", "/batch/00000000-0000-4000-8000-000000000000", headers={"X-Request-ID": "req_mine_1"})
    assert resp.headers["X-Request-ID"] == "req_mine_1" and resp.json()["request_id"] == "req_mine_1"
