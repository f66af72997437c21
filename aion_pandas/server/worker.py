"""The background worker: takes pending datasets and snapshots their batch (pending -> processing -> ready/failed).

Batches are immutable once completed, so a dataset's snapshot is its batch's rows at creation time plus
the counts the worker records; a batch that is not completed fails the dataset with a reason.

>>> DatasetWorker  # started by create_app's lifespan; see ``process_one`` for one step
<class 'aion_pandas.server.worker.DatasetWorker'>
"""
from __future__ import annotations

import logging
import threading

from .store import Store

log = logging.getLogger("aion_pandas.server.worker")


def process_one(store: Store) -> bool:
    """Process the oldest pending dataset; False when there was none."""
    dataset = store.claim_pending_dataset()
    if dataset is None:
        return False
    try:
        status = store.batch_status_by_key(dataset["bkey"]) or "missing"
        if status != "completed":
            store.finish_dataset(dataset["id"], "failed",
                                 failure_reason=f"batch {dataset['batch_id']} is {status}, not completed")
            return True
        total, ok, boxes = store.batch_snapshot_counts(dataset["bkey"])
        store.finish_dataset(dataset["id"], "ready", total_items=total, successful_items=ok, box_count=boxes)
    except Exception as exc:  # a dataset must never stay 'processing' forever
        log.exception("dataset %s failed", dataset["id"])
        store.finish_dataset(dataset["id"], "failed", failure_reason=f"internal error: {type(exc).__name__}")
    return True


class DatasetWorker:
    """A daemon thread that drains the pending queue; ``wake()`` after creating a dataset."""

    def __init__(self, store: Store, poll_seconds: float = 0.2) -> None:
        self.store, self.poll_seconds = store, poll_seconds
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="aion-dataset-worker", daemon=True)

    def start(self) -> None:
        self.store.requeue_interrupted()
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
                while process_one(self.store) and not self._stop.is_set():
                    pass
            except Exception:  # keep the worker alive (e.g. a locked database); retry next tick
                log.exception("worker tick failed")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
