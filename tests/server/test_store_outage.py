"""The S3 store killed while an export uploads to it: a 503 in the error envelope, no export row and no
object left behind; /readyz says so; once the store is back the next export succeeds.
"""
from __future__ import annotations

import threading
import time

import pytest
import requests

from service_backends import WeedServer, s3_client

from .deployment import Deployment
from .helpers import api, assert_envelope
from .test_replicas import KEYS, _batch_body

pytestmark = [pytest.mark.backends("postgres-s3"), pytest.mark.slow]


@pytest.fixture(scope="module")
def own_store(tmp_path_factory):
    """A weed server of this module's own (the session's stays up for the other tests)."""
    server = WeedServer(tmp_path_factory.mktemp("weed-outage"))
    s3_client(server.endpoint).create_bucket(Bucket="outage")
    yield server
    server.kill()


def test_store_killed_during_an_export(backend, own_store, tmp_path_factory):
    root = tmp_path_factory.mktemp("outage")
    deploy = Deployment(backend.database_url(root), "s3://outage/exports-test", own_store.endpoint, KEYS, root)
    try:
        replica = deploy.add_replica(workers=1)
        batch = api(replica, "POST", "/batches", json=_batch_body("outage", 30, 2)).json()
        did = api(replica, "POST", "/datasets", json={"batch_id": batch["batch_id"], "name": "o"}).json()["id"]
        deadline = time.monotonic() + 30
        while api(replica, "GET", f"/datasets/{did}").json()["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.05)

        own_store.pause()  # the upload connects and then hangs: the export is in flight when the store dies
        answer: dict = {}
        thread = threading.Thread(target=lambda: answer.update(
            resp=api(replica, "POST", f"/datasets/{did}/export", json={"format": "coco"})))
        thread.start()
        time.sleep(2.0)
        assert thread.is_alive()  # still waiting on the store
        own_store.kill()
        thread.join(timeout=60)
        error = assert_envelope(answer["resp"], 503, "STORAGE_UNAVAILABLE")
        assert "try the export again" in error["message"]
        ready = requests.get(f"{replica.root_url}/readyz", timeout=30)
        assert_envelope(ready, 503, "NOT_READY")
        assert ready.json()["error"]["details"]["unreachable"] == ["storage"]
        assert requests.get(f"{replica.root_url}/healthz", timeout=10).status_code == 200  # the process is up

        own_store.start()
        assert deploy.rows("SELECT COUNT(*) AS n FROM exports")[0]["n"] == 0
        assert api(replica, "GET", f"/datasets/{did}").json()["export_count"] == 0
        client = s3_client(own_store.endpoint)
        assert client.list_objects_v2(Bucket="outage", Prefix="exports-test/").get("Contents", []) == []
        assert requests.get(f"{replica.root_url}/readyz", timeout=30).status_code == 200
        again = api(replica, "POST", f"/datasets/{did}/export", json={"format": "coco"})
        assert again.status_code == 200, again.text
        body = requests.get(again.json()["download_url"], timeout=30)
        assert len(body.content) == again.json()["file_size_bytes"] and len(body.json()["images"]) == 30
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="outage", Prefix="exports-test/")["Contents"]]
        assert keys == [f"exports-test/exports/{again.json()['export_id']}/{body.url.split('?')[0].rsplit('/', 1)[1]}"]
    finally:
        deploy.stop()
