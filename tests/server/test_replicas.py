"""Past one machine: three API replicas and two workers on one PostgreSQL and one S3 store, as
deploy/compose.yaml runs them, driven round robin like a load balancer; a worker killed mid-snapshot;
rate limits shared by replicas.
"""
from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import requests

from .deployment import Deployment
from .helpers import api, assert_envelope

pytestmark = [pytest.mark.backends("postgres-s3"), pytest.mark.slow]
KEYS = ("aion_replicas_tenant_one_0123456789abc", "aion_replicas_tenant_two_0123456789abc")
LEASE = 3.0


def _batch_body(name: str, n_items: int, boxes_per_item: int) -> dict:
    items = [{"file_name": f"img_{i:04d}.jpg", "output_data": {
        "width": 640, "height": 480, "tags": ["t"],
        "detections": [{"label": ("car", "person", "dog")[(i + j) % 3], "confidence": 0.5,
                        "bbox": {"x": 1 + j, "y": 2, "width": 10, "height": 20}} for j in range(boxes_per_item)]}}
             for i in range(n_items)]
    return {"name": name, "items": items}


@pytest.fixture(scope="module")
def deployment(backend, tmp_path_factory):
    """3 API replicas (no workers of their own) and 2 `aion-pandas worker` processes."""
    root = tmp_path_factory.mktemp("deployment")
    deploy = Deployment(backend.database_url(root), backend.storage(root), backend.weed.endpoint, KEYS, root)
    try:
        for _ in range(3):
            deploy.add_replica(lease=LEASE)
        for _ in range(2):
            deploy.add_worker(lease=LEASE)
        yield deploy
    finally:
        deploy.stop()


def _wait_ready(deploy: Deployment, ids: list[str], timeout: float = 60) -> dict[str, dict]:
    deadline, done = time.monotonic() + timeout, {}
    while len(done) < len(ids) and time.monotonic() < deadline:
        for did in ids:
            if did not in done:
                body = api(deploy.next(), "GET", f"/datasets/{did}").json()
                if body["status"] in ("ready", "failed"):
                    done[did] = body
        time.sleep(0.1)
    return done


def _on(replica, url: str) -> str:
    """``url`` with its host and port swapped for ``replica``'s."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, urlsplit(replica.root_url).netloc, parts.path, parts.query, ""))


def test_replicas_share_one_database_and_store(deployment):
    deploy = deployment
    batch = api(deploy.next(), "POST", "/batches", json=_batch_body("shared", 40, 3))
    assert batch.status_code == 201, batch.text
    batch_id = batch.json()["batch_id"]

    def create(i: int) -> requests.Response:
        return api(deploy.replicas[i % 3], "POST", "/datasets", json={"batch_id": batch_id, "name": f"d{i}"})

    with ThreadPoolExecutor(16) as pool:
        created = list(pool.map(create, range(50)))
    assert [r.status_code for r in created] == [201] * 50
    ids = [r.json()["id"] for r in created]
    assert len(set(ids)) == 50
    ready = _wait_ready(deploy, ids)
    assert {d["status"] for d in ready.values()} == {"ready"} and len(ready) == 50
    assert {(d["total_items"], d["successful_items"]) for d in ready.values()} == {(40, 40)}
    rows = deploy.rows("SELECT id, status, attempts, snapshots, box_count, claimed_by FROM datasets")
    assert len(rows) == 50
    assert all(r["snapshots"] == 1 and r["attempts"] == 1 and r["box_count"] == 120 for r in rows), rows
    assert len({r["claimed_by"] for r in rows}) >= 1  # claimed by the two worker processes, never an API replica
    pids = {int(r["claimed_by"].split(":")[1]) for r in rows}
    assert pids <= {w.pid for w in deploy.workers}
    for replica in deploy.replicas:  # every replica sees the same 50
        assert api(replica, "GET", "/datasets", params={"limit": 1}).json()["total_count"] == 50

    formats = ("csv", "coco", "yolo", "pascal_voc")

    def export(i: int) -> requests.Response:
        return api(deploy.replicas[i % 3], "POST", f"/datasets/{ids[i % 50]}/export",
                   json={"format": formats[i % 4]})

    with ThreadPoolExecutor(12) as pool:
        exports = list(pool.map(export, range(100)))
    assert [r.status_code for r in exports] == [200] * 100, [r.text for r in exports if r.status_code != 200][:2]
    bodies = [r.json() for r in exports]
    assert len({b["export_id"] for b in bodies}) == 100
    assert {b["record_count"] for b in bodies} == {40}
    for i, body in enumerate(bodies):  # signed by one replica, fetched through another (one secret)
        other = deploy.replicas[(i + 1) % 3]
        got = requests.get(_on(other, body["download_url"]), timeout=30)
        assert got.status_code == 200 and len(got.content) == body["file_size_bytes"], (got.status_code, got.text[:200])
    (count,) = deploy.rows("SELECT COUNT(*) AS n FROM exports")
    assert count["n"] == 100
    objects = [k for k in _objects(deploy) if "/exports/" in k]
    assert len(objects) == 100
    stats = [api(r, "GET", "/datasets/statistics/summary").json() for r in deploy.replicas]
    for s in stats:  # the period names the second each replica answered in: the three may straddle one
        s.pop("period")
    assert stats[0] == stats[1] == stats[2]
    assert stats[0]["export_statistics"]["total_exports"] == 100
    assert stats[0]["export_statistics"]["total_data_volume"] == sum(b["file_size_bytes"] for b in bodies)
    assert stats[0]["dataset_statistics"]["by_status"]["ready"] == 50
    # the other tenant sees none of it, on any replica
    for replica in deploy.replicas:
        assert api(replica, "GET", "/datasets", key=KEYS[1]).json()["total_count"] == 0
        assert_envelope(api(replica, "GET", f"/datasets/{ids[0]}", key=KEYS[1]), 404, "NOT_FOUND")


def _objects(deploy: Deployment) -> list[str]:
    from service_backends import s3_client

    bucket, _, prefix = deploy.storage[5:].partition("/")
    pages = s3_client(deploy.endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_readyz_on_every_replica(deployment):
    for replica in deployment.replicas:
        assert requests.get(f"{replica.root_url}/healthz", timeout=10).json() == {"status": "ok"}
        assert requests.get(f"{replica.root_url}/readyz", timeout=10).json() == {"status": "ok"}


def test_worker_killed_mid_snapshot_another_finishes_after_the_lease(deployment):
    deploy = deployment
    batch = api(deploy.next(), "POST", "/batches", json=_batch_body("killed", 25, 2)).json()
    conn_info = deploy.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conn_info) as blocker:
        # hold the items table: a worker that claims the dataset blocks inside its snapshot
        blocker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        created = api(deploy.next(), "POST", "/datasets", json={"batch_id": batch["batch_id"], "name": "k"})
        did = created.json()["id"]
        deadline = time.monotonic() + 30
        while True:
            (row,) = deploy.rows("SELECT status, claimed_by, attempts FROM datasets WHERE id = :id", id=did)
            if row["status"] == "processing" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert row["status"] == "processing" and row["attempts"] == 1, row
        victim_pid = int(row["claimed_by"].split(":")[1])
        victim = next(w for w in deploy.workers if w.pid == victim_pid)
        os.kill(victim_pid, signal.SIGKILL)
        victim.wait(timeout=10)
        blocker.rollback()  # release the table
    killed_at = time.monotonic()
    done = _wait_ready(deploy, [did], timeout=30)[did]
    assert time.monotonic() - killed_at >= LEASE - 1.0  # taken over only once the lease ran out
    assert done["status"] == "ready" and (done["total_items"], done["successful_items"]) == (25, 25)
    (row,) = deploy.rows("SELECT attempts, snapshots, box_count, claimed_by FROM datasets WHERE id = :id", id=did)
    assert row["attempts"] == 2 and row["snapshots"] == 1 and row["box_count"] == 50
    survivor = next(w for w in deploy.workers if w.pid != victim_pid)
    assert int(row["claimed_by"].split(":")[1]) == survivor.pid
    deploy.workers.remove(victim)


def test_rate_limit_holds_across_replicas(backend, tmp_path_factory):
    root = tmp_path_factory.mktemp("rate")
    deploy = Deployment(backend.database_url(root), backend.storage(root), backend.weed.endpoint, KEYS, root)
    try:
        for _ in range(2):
            deploy.add_replica(extra=("--rate-limit", "6"))
        if time.time() % 60 > 50:  # the limit counts per clock minute: keep the burst inside one
            time.sleep(61 - time.time() % 60)
        codes = [api(deploy.next(), "GET", "/datasets").status_code for _ in range(8)]
        assert codes == [200] * 6 + [429] * 2  # 6 a minute in all, not 6 per replica
        limited = api(deploy.replicas[0], "GET", "/datasets")
        error = assert_envelope(limited, 429, "RATE_LIMITED")
        assert int(limited.headers["retry-after"]) == error["details"]["retry_after_seconds"] >= 1
        assert api(deploy.replicas[1], "GET", "/datasets", key=KEYS[1]).status_code == 200  # per tenant
    finally:
        deploy.stop()
