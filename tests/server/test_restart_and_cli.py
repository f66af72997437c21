"""Restart persistence, the `import-batch` command and the embedded service."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests
from PIL import Image

from aion_pandas.embedded import ensure_local_service, read_server_json

from .helpers import api, batches_by_name, new_dataset, wait_status


def test_restart_keeps_everything(start_service, tmp_path):
    data_dir = tmp_path / "data"
    first = start_service(data_dir=data_dir, demo=True)
    dataset = new_dataset(first, "park-scenes")
    export = api(first, "POST", f"/datasets/{dataset['id']}/export", json={"format": "yolo"}).json()
    before = api(first, "GET", "/datasets", params={"limit": 1000}).json()
    batches = batches_by_name(first)
    first.stop()
    assert not (data_dir / "server.json").exists()  # removed on a clean stop
    second = start_service(data_dir=data_dir, demo=True)  # --demo again: no second seeding
    after = api(second, "GET", "/datasets", params={"limit": 1000}).json()
    assert after["total_count"] == before["total_count"]
    assert {d["id"]: d["export_count"] for d in after["datasets"]} == {
        d["id"]: d["export_count"] for d in before["datasets"]}
    assert batches_by_name(second) == batches
    # the old signed URL still works (same secret), on the new port
    path = export["download_url"].split("/exports/", 1)[1]
    resp = requests.get(f"{second.root_url}/exports/{path}", timeout=30)
    assert resp.status_code == 200 and len(resp.content) == export["file_size_bytes"]
    assert api(second, "GET", f"/datasets/{dataset['id']}").json()["latest_export"]["export_id"] == export["export_id"]


def _coco_set(folder):
    (folder / "img").mkdir(parents=True)
    Image.new("RGB", (40, 30), (200, 0, 0)).save(folder / "img" / "one.jpg")
    Image.new("RGB", (20, 20), (0, 0, 200)).save(folder / "img" / "two.jpg")
    doc = {"images": [{"id": 7, "file_name": "one.jpg", "width": 40, "height": 30},
                      {"id": 9, "file_name": "two.jpg", "width": 20, "height": 20}],
           "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [1, 2, 10, 5], "area": 50, "iscrowd": 0},
                           {"id": 2, "image_id": 7, "category_id": 4, "bbox": [5, 5, 4, 4], "area": 16, "iscrowd": 0}],
           "categories": [{"id": 3, "name": "apple"}, {"id": 4, "name": "pear"}]}
    (folder / "ann.json").write_text(json.dumps(doc))
    return folder / "ann.json", folder / "img"


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aion_pandas", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.backends("sqlite")  # import-batch --data-dir writes the data dir's own SQLite
def test_import_batch_into_data_dir_and_via_api(start_service, tmp_path):
    ann, images = _coco_set(tmp_path / "coco")
    data_dir = tmp_path / "data"
    key = "aion_cli_tenant_key_0001"
    done = _cli("import-batch", "--coco", str(ann), "--images", str(images), "--data-dir", str(data_dir),
                "--api-key", key)
    assert done.returncode == 0, done.stderr
    assert "2 items" in done.stdout
    svc = start_service(data_dir=data_dir, api_keys=(key, "aion_cli_other_key_0002"))
    batch = batches_by_name(svc)["ann"]
    assert batch["status"] == "completed" and batch["total_items"] == 2
    results = api(svc, "GET", f"/batch/{batch['batch_id']}/results").json()["results"]
    dets = results[0]["output_data"]["detections"]
    assert [(d["label"], d["bbox"]["x"], d["bbox"]["width"]) for d in dets] == [("apple", 1.0, 10.0), ("pear", 5.0, 4.0)]
    assert results[1]["output_data"]["detections"] == []
    img = api(svc, "GET", f"/user-files/{results[0]['file_id']}/download")
    assert img.content == (images / "one.jpg").read_bytes()
    # the same set through the API of the running service
    via = _cli("import-batch", "--coco", str(ann), "--images", str(images), "--name", "via-api",
               "--base-url", svc.base_url, env={"AIONVISION_API_KEY": key})
    assert via.returncode == 0, via.stderr
    assert batches_by_name(svc)["via-api"]["successful_items"] == 2
    dataset = api(svc, "POST", "/datasets", json={"batch_id": batches_by_name(svc)["via-api"]["batch_id"],
                                                  "name": "x"}).json()
    assert wait_status(svc, dataset["id"])["status"] == "ready"
    bad = _cli("import-batch", "--coco", str(images / "one.jpg"), "--images", str(images), "--data-dir", str(data_dir))
    assert bad.returncode == 2 and "import-batch:" in bad.stderr


def test_ensure_local_service_starts_once_then_reuses(tmp_path):
    data_dir = tmp_path / "home"
    first = ensure_local_service(data_dir, demo=True)
    try:
        assert first.started and first.base_url.endswith("/api/v2")
        assert first.api_key not in repr(first) and "aion_***" in repr(first)
        assert (data_dir / "api_key").read_text().strip() == first.api_key
        assert oct((data_dir / "api_key").stat().st_mode & 0o777) == "0o600"
        info = read_server_json(data_dir)
        assert info["pid"] == first.pid and info["base_url"] == first.base_url
        second = ensure_local_service(data_dir)
        assert not second.started and second.pid == first.pid and second.api_key == first.api_key
        listed = requests.get(f"{first.base_url}/datasets", headers={"Authorization": f"Bearer {first.api_key}"},
                              timeout=10).json()
        assert listed["total_count"] >= 3
    finally:
        os.kill(first.pid, signal.SIGTERM)


def test_serve_makes_and_prints_a_key_once(tmp_path):
    from aion_pandas.embedded import start_server_process

    data_dir = tmp_path / "fresh"
    proc, info = start_server_process(data_dir, detached=False)
    try:
        key = (data_dir / "api_key").read_text().strip()
        assert key.startswith("aion_")
        assert key in (data_dir / "server.log").read_text()  # printed once, on creation
        assert requests.get(f"{info['base_url']}/datasets", headers={"Authorization": f"Bearer {key}"},
                            timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    proc, _ = start_server_process(data_dir, detached=False)
    proc.terminate()
    proc.wait(timeout=15)
    assert (data_dir / "server.log").read_text().count(key) == 1


def test_demo_command_runs_jupyterlab_against_the_embedded_service(tmp_path):
    import socket

    import psutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tmp_path / "aion-home"
    env = {**os.environ, "AION_PANDAS_HOME": str(home)}
    demo = subprocess.Popen([sys.executable, "-m", "aion_pandas", "demo", "--no-browser", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        lab_up = False
        while time.monotonic() < deadline and not lab_up:
            try:
                lab_up = requests.get(f"http://127.0.0.1:{port}/lab", timeout=2, allow_redirects=False).status_code in (200, 302)
            except requests.ConnectionError:
                time.sleep(0.3)
        assert lab_up, "JupyterLab did not answer"
        info = read_server_json(home)
        key = (home / "api_key").read_text().strip()
        lab = next(p for p in psutil.Process(demo.pid).children(recursive=True) if "jupyterlab" in " ".join(p.cmdline()))
        lab_env = lab.environ()
        assert lab_env["AIONVISION_BASE_URL"] == info["base_url"] and lab_env["AIONVISION_API_KEY"] == key
        assert "quickstart.ipynb" in " ".join(lab.cmdline())
        server_pid = info["pid"]
    finally:
        demo.terminate()
        out, _ = demo.communicate(timeout=60)
    assert key not in out
    assert not psutil.pid_exists(server_pid) or psutil.Process(server_pid).status() == psutil.STATUS_ZOMBIE
    assert not (home / "server.json").exists()
