"""Snapshot claims on both databases: workers racing on one queue each take a dataset once; a claim is a
lease that another worker takes over when it runs out, and the late owner can no longer record; a dataset
whose workers all die on it ends failed after MAX_ATTEMPTS claims.
"""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from aion_pandas.server.store import NewItem, Store
from aion_pandas.server.worker import MAX_ATTEMPTS, process_one


@pytest.fixture
def url(backend, tmp_path) -> str:
    if backend.postgres is None:
        return f"sqlite:///{tmp_path / 'claims.sqlite3'}"
    return backend.postgres.create("c_" + uuid.uuid4().hex[:12])


def _queue(store: Store, n: int) -> list[str]:
    batch_id = store.import_batch("ten", "b", [NewItem(f"{i}.jpg", detections=[("cat", 0.5, 1, 1, 2, 2)],
                                                       width=10, height=10) for i in range(7)])
    batch = store.get_batch("ten", batch_id)
    return [store.create_dataset("ten", batch, f"d{i}", None, {}) for i in range(n)]


def test_racing_workers_take_each_dataset_once(url):
    first = Store(url, migrate=True)
    ids = _queue(first, 40)
    stores = [Store(url) for _ in range(4)]  # four processes' worth of engines on one database
    counts = [0] * 4

    def drain(k: int) -> None:
        while process_one(stores[k], f"worker-{k}", lease_seconds=30):
            counts[k] += 1

    threads = [threading.Thread(target=drain, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert sum(counts) == 40
    rows = [first.get_dataset("ten", did) for did in ids]
    assert {(r["status"], r["attempts"], r["snapshots"], r["total_items"], r["box_count"]) for r in rows} == \
        {("ready", 1, 1, 7, 7)}
    for store in (first, *stores):
        store.close()


def test_a_lease_that_runs_out_passes_the_job_on(url):
    store = Store(url, migrate=True)
    (did,) = _queue(store, 1)
    dead = store.claim_dataset("dead-worker", lease_seconds=0.5)
    assert dead["id"] == did and store.claim_dataset("other", 30) is None  # held while the lease lasts
    time.sleep(0.7)
    assert process_one(store, "other", lease_seconds=30)
    assert not store.finish_dataset(did, "failed", claimed_by="dead-worker", failure_reason="late")
    row = store.get_dataset("ten", did)
    assert (row["status"], row["claimed_by"], row["attempts"], row["snapshots"]) == ("ready", "other", 2, 1)
    assert store.claim_dataset("third", 30) is None  # done work is never claimed again
    store.close()


def test_a_dataset_claimed_too_often_ends_failed(url):
    store = Store(url, migrate=True)
    (did,) = _queue(store, 1)
    for k in range(MAX_ATTEMPTS):  # each worker dies before recording: its lease runs out
        assert store.claim_dataset(f"dead-{k}", lease_seconds=0.01)["id"] == did
        time.sleep(0.05)
    assert process_one(store, "last", lease_seconds=30)
    row = store.get_dataset("ten", did)
    assert (row["status"], row["attempts"], row["snapshots"], row["lease_until"]) == \
        ("failed", MAX_ATTEMPTS + 1, 1, None)
    assert f"claimed {MAX_ATTEMPTS} times and never finished" in row["failure_reason"]
    assert store.claim_dataset("next", 30) is None and not process_one(store, "next")  # never claimed again
    store.close()
