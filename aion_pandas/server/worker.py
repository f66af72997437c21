"""The background worker: claims pending datasets and snapshots their batch (pending -> processing -> ready/failed).

Batches are immutable once completed, so a dataset's snapshot is its batch's rows at creation time plus
the counts the worker records; a batch that is not completed fails the dataset with a reason. A claim is a
lease: a worker that dies loses it after ``lease_seconds`` and another worker (any replica) takes the job;
a worker that lost its claim cannot record a snapshot, so each dataset is snapshotted once. A dataset whose
workers keep dying on it is not claimed forever: past ``MAX_ATTEMPTS`` claims it ends ``failed``.

>>> worker_id().count(":")  # host:pid:random
2
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import threading

from .store import Store

log = logging.getLogger("aion_pandas.server.worker")
LEASE_SECONDS = 60.0
MAX_ATTEMPTS = 5  # claims of one dataset; the next one records it failed instead of trying again


def worker_id() -> str:
    """A name for one worker, unique across hosts and processes."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def process_one(store: Store, worker: str | None = None, lease_seconds: float = LEASE_SECONDS) -> bool:
    """Claim and process the oldest claimable dataset; False when there was none."""
    worker = worker or worker_id()
    dataset = store.claim_dataset(worker, lease_seconds)
    if dataset is None:
        return False
    if dataset["attempts"] >= MAX_ATTEMPTS:  # the claims before this one all ran out without a result
        store.finish_dataset(dataset["id"], "failed", claimed_by=worker,
                             failure_reason=f"the snapshot was claimed {dataset['attempts']} times and never "
                                            "finished (each worker stopped before recording it); create the "
                                            "dataset again")
        return True
    try:
        status = store.batch_status_by_key(dataset["bkey"]) or "missing"
        if status != "completed":
            store.finish_dataset(dataset["id"], "failed", claimed_by=worker,
                                 failure_reason=f"batch {dataset['batch_id']} is {status}, not completed")
            return True
        total, ok, boxes = store.batch_snapshot_counts(dataset["bkey"])
        if not store.finish_dataset(dataset["id"], "ready", claimed_by=worker, total_items=total,
                                    successful_items=ok, box_count=boxes):
            log.warning("dataset %s: the claim of %s ran out; another worker records it", dataset["id"], worker)
    except Exception as exc:  # a dataset must never stay 'processing' forever
        log.exception("dataset %s failed", dataset["id"])
        store.finish_dataset(dataset["id"], "failed", claimed_by=worker,
                             failure_reason=f"internal error: {type(exc).__name__}")
    return True


class DatasetWorker:
    """A daemon thread that drains the queue; ``wake()`` after creating a dataset."""

    def __init__(self, store: Store, poll_seconds: float = 0.2, lease_seconds: float = LEASE_SECONDS) -> None:
        self.store, self.poll_seconds, self.lease_seconds = store, poll_seconds, lease_seconds
        self.worker_id = worker_id()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"aion-dataset-worker-{self.worker_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while process_one(self.store, self.worker_id, self.lease_seconds) and not self._stop.is_set():
                    pass
            except Exception:  # keep the worker alive (e.g. the database restarting); retry next tick
                log.exception("worker tick failed")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()


class WorkerPool:
    """``count`` workers on one store (``count`` may be 0: an API replica that leaves the work to others)."""

    def __init__(self, store: Store, count: int = 1, poll_seconds: float = 0.2,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self.workers = [DatasetWorker(store, poll_seconds, lease_seconds) for _ in range(max(0, count))]

    def start(self) -> None:
        for w in self.workers:
            w.start()

    def wake(self) -> None:
        for w in self.workers[:1]:
            w.wake()

    def stop(self) -> None:
        for w in self.workers:
            w._stop.set()
        for w in self.workers:
            w.stop()
