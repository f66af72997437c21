"""`serve` options: --rate-limit (429 + Retry-After), --import-root (path imports), --public-url, --url-ttl."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from .helpers import all_results, api, assert_envelope, new_dataset


def test_rate_limit_answers_429_with_retry_after(start_service):
    svc = start_service(extra_args=("--rate-limit", "3"))
    codes = [api(svc, "GET", "/datasets").status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    limited = api(svc, "GET", "/datasets")
    error = assert_envelope(limited, 429, "RATE_LIMITED")
    assert int(limited.headers["retry-after"]) == error["details"]["retry_after_seconds"] >= 1
    # the limit is per tenant: the other key still gets through
    assert api(svc, "GET", "/datasets", key=svc.other_api_key).status_code == 200
    assert requests.get(f"{svc.root_url}/healthz", timeout=10).status_code == 200  # no key, no limit


def test_import_root_allows_paths_under_it_only(start_service, tmp_path):
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    Image.new("RGB", (30, 20), (9, 9, 9)).save(root / "sub" / "a.png")
    (tmp_path / "secret.txt").write_text("not for you")
    svc = start_service(extra_args=("--import-root", str(root)))
    ok = api(svc, "POST", "/batches", json={"items": [{"file_name": "a.png", "path": "sub/a.png"}]})
    assert ok.status_code == 201, ok.text
    item = all_results(svc, ok.json()["batch_id"])[0]
    assert (item["output_data"]["width"], item["output_data"]["height"]) == (30, 20)  # read from the file
    assert api(svc, "GET", f"/user-files/{item['file_id']}/download").content == (root / "sub" / "a.png").read_bytes()
    for outside in ("../secret.txt", str(tmp_path / "secret.txt"), "sub/missing.png"):
        resp = api(svc, "POST", "/batches", json={"items": [{"file_name": "x.png", "path": outside}]})
        assert "no such file under the import root" in assert_envelope(resp, 404, "NOT_FOUND")["message"]


def test_public_url_and_url_ttl(start_service):
    svc = start_service(demo=True, extra_args=("--public-url", "https://datasets.example.org/", "--url-ttl", "60"))
    dataset = new_dataset(svc, "warehouse-safety")
    export = api(svc, "POST", f"/datasets/{dataset['id']}/export", json={"format": "csv"}).json()
    assert export["download_url"].startswith("https://datasets.example.org/exports/")
    expires = int(export["download_url"].split("expires=")[1].split("&")[0])
    assert abs(expires - (time.time() + 60)) < 30
    path = export["download_url"].split("example.org", 1)[1]
    assert requests.get(svc.root_url + path, timeout=10).status_code == 200
    coco = api(svc, "POST", f"/datasets/{dataset['id']}/export", json={"format": "coco"}).json()
    doc = requests.get(svc.root_url + coco["download_url"].split("example.org", 1)[1], timeout=10).json()
    assert doc["images"][0]["coco_url"].startswith("https://datasets.example.org/api/v2/user-files/")
    assert Path(svc.data_dir / "server.json").exists()


@pytest.mark.backends("sqlite")  # a fault injected into the export folder (the S3 store's: test_replicas.py)
def test_internal_error_is_an_envelope_and_leaves_nothing_behind(start_service):
    svc = start_service(demo=True)
    dataset = new_dataset(svc, "warehouse-safety")
    exports_dir = svc.data_dir / "exports"
    before = {p.name for p in exports_dir.iterdir()}
    moved = svc.data_dir / "exports-moved"
    exports_dir.rename(moved)
    exports_dir.write_text("a file where the export store should be")  # fault injected on disk
    try:
        resp = api(svc, "POST", f"/datasets/{dataset['id']}/export", json={"format": "coco"})
    finally:
        exports_dir.unlink()
        moved.rename(exports_dir)
    error = assert_envelope(resp, 500, "INTERNAL_ERROR")
    assert "Traceback" not in resp.text and "exports" not in error["message"]
    assert f"internal error {resp.json()['request_id']}" in (svc.data_dir / "server.log").read_text()
    assert api(svc, "GET", f"/datasets/{dataset['id']}").json()["export_count"] == 0
    assert {p.name for p in exports_dir.iterdir()} == before
    # and the service goes on working
    assert api(svc, "POST", f"/datasets/{dataset['id']}/export", json={"format": "coco"}).status_code == 200


def test_serve_reports_a_busy_port(start_service):
    import subprocess
    import sys

    svc = start_service()
    port = svc.root_url.rsplit(":", 1)[1]
    done = subprocess.run([sys.executable, "-m", "aion_pandas", "serve", "--port", port, "--data-dir",
                           str(svc.data_dir / "other")], capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "AION_PANDAS_SERVER_API_KEYS": "aion_x"})
    assert done.returncode == 1 and "choose another --port" in done.stderr and "Traceback" not in done.stderr


def test_data_a_format_cannot_hold_is_a_422_not_a_crash(start_service, service_keys, tmp_path, backend):
    from aion_pandas.server.auth import tenant_id
    from aion_pandas.server.store import NewItem

    data_dir = tmp_path / "legacy"
    store = backend.store_for(data_dir)  # a batch stored without image sizes (no image, no width)
    store.import_batch(tenant_id(service_keys[0]), "legacy", [NewItem("a.jpg", detections=[("dog", 0.9, 1, 1, 2, 2)])])
    svc = start_service(data_dir=data_dir)
    dataset = new_dataset(svc, "legacy")
    error = assert_envelope(api(svc, "POST", f"/datasets/{dataset['id']}/export", json={"format": "yolo"}),
                            422, "VALIDATION_ERROR")
    assert error["details"]["format"] == "yolo" and "width" in error["message"]
    assert api(svc, "GET", f"/datasets/{dataset['id']}").json()["export_count"] == 0
    assert api(svc, "POST", f"/datasets/{dataset['id']}/export", json={"format": "coco"}).status_code == 200
