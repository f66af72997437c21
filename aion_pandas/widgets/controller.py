"""The panel's controller: wires the view's buttons to the client, off the kernel's main thread.

Slow calls (list, create, export, load, statistics) run on a small thread pool so the notebook stays
responsive; their results land in the :class:`PanelState`, which the view draws. A background poller
follows datasets that are still ``pending``/``processing`` until they are ``ready`` or ``failed`` (or
the panel closes). A click while an export runs does nothing (the buttons are disabled and a lock
guards the start). Errors become one line with the code and request id: never a traceback or a key.

>>> controller = PanelController(state, view, client)   # doctest: +SKIP
>>> controller.export(["660f9500-..."]); controller.wait_idle()   # doctest: +SKIP
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

from ..errors import (AionError, CancelledError, ConnectionError, ExtensionMissingError, NotFoundError,
                      RateLimitError, ServerError)
from . import jobs
from .rows import check_create_form, dataset_row, describe_error
from .state import PanelState
from .view import PanelView

if TYPE_CHECKING:
    from ..client import Client
    from ..records import Dataset

log = logging.getLogger(__name__)

POLL_START, POLL_MAX = 0.3, 2.0  # seconds between status polls of pending datasets (doubling)
POLL_BACKOFF_MAX = 60.0          # after a 429 or an outage, polls wait up to this long (Retry-After first)
NO_BATCH_LIST = ("This server lists no batches (the hosted API has no GET /batches): type or paste the id "
                 "of a completed batch below; it is checked before the dataset is created.")


class PanelController:
    """Binds a :class:`PanelView` over a :class:`PanelState` to a client."""

    def __init__(self, state: PanelState, view: PanelView, client: "Client") -> None:
        self.state, self.view, self._client = state, view, client
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="aion-panel")
        self._futures: set[Future] = set()
        self._futures_lock = threading.Lock()
        self._busy_lock = threading.Lock()
        self._rows_lock = threading.Lock()
        self._stop = threading.Event()
        self._cancel = threading.Event()   # Cancel of the running export/load (set by close() too)
        self._poller: threading.Thread | None = None
        self._poller_lock = threading.Lock()
        self._stats_loaded = False
        self.fiftyone_session: Any = None
        #: keywords for ``launch_app`` (e.g. ``{"remote": True, "address": "127.0.0.1", "port": 5152}``)
        self.fiftyone_app_options: dict[str, Any] = {"auto": False}
        v = view
        v.control("refresh").on_click(lambda _: self.refresh())
        v.control("export").on_click(lambda _: self.export())
        v.control("load").on_click(lambda _: self.load())
        v.control("fiftyone").on_click(lambda _: self.open_in_fiftyone())
        v.control("cancel").on_click(lambda _: self.cancel())
        v.control("create").on_click(lambda _: self.create_from_form())
        v.control("stats-refresh").on_click(lambda _: self.load_statistics())
        v.control("tabs").observe(self._on_tab, "selected_index")
        state.observe(lambda _: self._stats_loaded and self.load_statistics(), "stats_days")

    # ------------------------------------------------------------------ running work off the main thread
    def _submit(self, job: Callable[..., Any], *args: Any) -> Future | None:
        if self._stop.is_set():
            return None
        future = self._pool.submit(self._guarded, job, *args)
        with self._futures_lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future) -> None:
        with self._futures_lock:
            self._futures.discard(future)

    def _guarded(self, job: Callable[..., Any], *args: Any) -> Any:
        try:
            return job(*args)
        except Exception as exc:  # shown as one line; the traceback goes to the debug log only
            self._report(exc)
            return None

    def _report(self, exc: BaseException) -> None:
        log.debug("panel action failed", exc_info=exc)
        self.state.error = self._scrub(describe_error(exc))

    def _scrub(self, text: str) -> str:
        key = self._client.settings.api_key
        raw = key.reveal() if key is not None else ""
        return text.replace(raw, str(key)) if raw and raw in text else text

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no job is running (the poller excepted); True if idle before ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._futures_lock:
                pending = list(self._futures)
            if not pending:
                return True
            for future in pending:
                try:
                    future.result(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:  # noqa: BLE001 (already reported into the state)
                    pass
        return False

    @property
    def poller_alive(self) -> bool:
        """True while the background status poller runs."""
        return self._poller is not None and self._poller.is_alive()

    def close(self) -> None:
        """Stop the poller, drop queued work and cancel the running call at its next step."""
        self._stop.set()
        self._cancel.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        poller = self._poller
        if poller is not None:
            poller.join(timeout=POLL_MAX + 5)
        if self.fiftyone_session is not None:
            try:
                self.fiftyone_session.close()
            except Exception:  # noqa: BLE001 (the App may already be gone)
                log.debug("closing the FiftyOne session failed", exc_info=True)

    # ------------------------------------------------------------------ the datasets table
    def refresh(self) -> Future | None:
        """Reload every dataset (all pages) and the completed batches, in the background."""
        self.state.loading = True
        future = self._submit(self._refresh_job)
        if future is None:
            self.state.loading = False
        return future

    def _refresh_job(self) -> None:
        try:
            rows = [dataset_row(d) for d in self._client.datasets.list(limit=100).auto_paging_iter()]
            with self._rows_lock:
                self.state.rows = rows
            self.state.error = ""
            self._watch([r["id"] for r in rows if r["status"] in ("pending", "processing")])
            self._load_batches()
        finally:
            self.state.loading = False

    def _load_batches(self) -> None:
        """The Create tab's batch picker; a server without ``GET /batches`` gets a note instead."""
        try:
            batches = self._client.batches.list(status="completed", limit=100).auto_paging_iter()
            self.state.batches = [{"batch_id": b.batch_id, "name": b.name, "status": b.status,
                                   "total_items": b.total_items} for b in batches]
            self.state.batches_note = ""
        except ExtensionMissingError:
            self.state.batches, self.state.batches_note = [], NO_BATCH_LIST
        except AionError as exc:  # the datasets are shown; only the picker is missing
            self.state.batches = []
            self.state.batches_note = f"The batch list could not be loaded ({self._scrub(describe_error(exc))}); " \
                                      "type or paste a batch id below."

    def _update_row(self, dataset: "Dataset") -> None:
        with self._rows_lock:
            self.state.upsert_row(dataset_row(dataset))

    # ------------------------------------------------------------------ status poller
    def _watch(self, ids: list[str]) -> None:
        if not ids:
            return
        with self._poller_lock:
            self.state.watching = list(dict.fromkeys([*self.state.watching, *ids]))
            if not self.poller_alive and not self._stop.is_set():
                self._poller = threading.Thread(target=self._poll_loop, name="aion-panel-poller", daemon=True)
                self._poller.start()

    def _poll_loop(self) -> None:
        interval = POLL_START
        while not self._stop.wait(interval):
            with self._poller_lock:
                watching = list(self.state.watching)
                if not watching:
                    self._poller = None if self._poller is threading.current_thread() else self._poller
                    return
            done: list[str] = []
            pause = 0.0
            for dataset_id in watching:
                try:
                    dataset = self._client.datasets.get(dataset_id)
                except RateLimitError as exc:  # the client's retries ran out: wait, keep watching
                    pause = exc.retry_after if exc.retry_after is not None else POLL_MAX * 4
                    self.state.message = f"The service asks to slow down; checking again in {pause:.0f} s."
                    break
                except (ConnectionError, ServerError) as exc:  # an outage: keep watching, back off
                    self._report(exc)
                    pause = max(pause, interval * 2)
                    break
                except NotFoundError as exc:  # gone (or never this key's): stop following it
                    self._report(exc)
                    done.append(dataset_id)
                    continue
                except AionError as exc:
                    self._report(exc)
                    done.append(dataset_id)
                    continue
                self._update_row(dataset)
                if dataset.is_done:
                    done.append(dataset_id)
            with self._poller_lock:
                self.state.watching = [i for i in self.state.watching if i not in done]
            interval = min(POLL_BACKOFF_MAX, pause) if pause else min(POLL_MAX, interval * 1.5)

    # ------------------------------------------------------------------ create
    def create_from_form(self) -> Future | None:
        """Create a dataset from what the Create tab holds (checked here, created in the background)."""
        try:
            args = check_create_form(self.view.create_form())
        except ValueError as exc:
            self.state.error = str(exc)
            return None
        return self.create(**args)

    def create(self, batch_id: str, name: str, description: str | None = None,
               format_config: dict[str, Any] | None = None) -> Future | None:
        """Create a dataset; its row appears at once and follows its status until ready or failed."""
        self.state.error = ""
        return self._submit(self._create_job, batch_id, name, description, format_config)

    def _create_job(self, batch_id: str, name: str, description: str | None,
                    format_config: dict[str, Any] | None) -> None:
        try:
            batch = self._client.batches.get(batch_id)  # checked first: a clear message, not a failed dataset
        except NotFoundError as exc:
            self.state.error = f"{self._scrub(describe_error(exc))}; check the batch id."
            return
        if batch.status not in ("completed", "partially_completed"):
            self.state.error = (f"Batch {batch_id} is {batch.status}: a dataset is made from a completed batch"
                                f"{' (wait for it to finish)' if not batch.is_done else ''}.")
            return
        dataset = self._client.datasets.create(batch_id, name, description=description, format_config=format_config)
        self.state.selected_ids = [dataset.id]  # first: the row is selected when it appears
        self._update_row(dataset)
        self.state.message = f"Created '{dataset.name}' ({dataset.status}); its status updates below."
        self.view.show_tab("Datasets")
        if not dataset.is_done:
            self._watch([dataset.id])

    # ------------------------------------------------------------------ export / load / FiftyOne
    def _start_busy(self) -> bool:
        with self._busy_lock:
            if self.state.busy:
                self.state.message = "An export is already running; wait for it to finish."
                return False
            self._cancel.clear()
            self.state.cancelling, self.state.progress_text = False, ""
            self.state.busy = True
            return True

    def _end_busy(self) -> None:
        self.state.busy, self.state.cancelling, self.state.progress_text = False, False, ""

    def cancel(self) -> None:
        """Stop the running export, download, load or FiftyOne call at its next step or chunk."""
        if self.state.busy:
            self.state.cancelling = True
            self._cancel.set()

    def _selection(self, ids: list[str] | None) -> list[str] | None:
        chosen = list(ids if ids is not None else self.state.selected_ids)
        if not chosen:
            self.state.error = "Select a dataset first."
            return None
        return chosen

    def _start(self, job: Callable[..., Any], *args: Any) -> Future | None:
        future = self._submit(job, *args)
        if future is None:
            self._end_busy()
        return future

    def export(self, ids: list[str] | None = None) -> Future | None:
        """Export the selected datasets (or ``ids``) with the chosen format and options."""
        chosen = self._selection(ids)
        if chosen is None or not self._start_busy():
            return None
        s = self.state
        s.error, s.progress, s.progress_max = "", 0, len(chosen)
        options = {"delimiter": s.delimiter} if s.export_format == "csv" and s.delimiter else {}
        return self._start(self._export_job, chosen, s.export_format, options, s.include_failed_items)

    def _export_one(self, dataset_id: str, fmt: str, options: dict[str, Any], include_failed: bool) -> dict[str, Any]:
        return jobs.export_one(self._client, self.state.row(dataset_id) or {"id": dataset_id}, fmt, options,
                               include_failed)

    def _export_job(self, ids: list[str], fmt: str, options: dict[str, Any], include_failed: bool) -> None:
        results: list[dict[str, Any]] = []
        steps = jobs.Steps(self.state, self._cancel)
        try:
            steps.phase(f"exporting {len(ids)} dataset(s) as {fmt}", len(ids))
            for index, dataset_id in enumerate(ids):
                steps.advance(index, text=f"exporting {index + 1} of {len(ids)} as {fmt}")
                try:
                    results.append(self._export_one(dataset_id, fmt, options, include_failed))
                    self._update_row(self._client.datasets.get(dataset_id))
                except AionError as exc:
                    self._report(exc)
                    row = self.state.row(dataset_id) or {}
                    results.append({"dataset_id": dataset_id, "name": row.get("name"),
                                    "error": self._scrub(describe_error(exc))})
                self.state.exports = list(results)
                self.state.progress = index + 1
            ok = sum(1 for r in results if not r.get("error"))
            self.state.message = f"Exported {ok} of {len(ids)} dataset(s) as {fmt}."
        except CancelledError:
            ok = sum(1 for r in results if not r.get("error"))
            self.state.message = f"Cancelled: exported {ok} of {len(ids)} dataset(s) as {fmt}; the rest were not started."
        finally:
            self._end_busy()

    def load(self, dataset_id: str | None = None) -> Future | None:
        """Read the selected datasets (each one's export from this panel, else a new one) into one
        ``panel.frame``, with its annotation summary under the results."""
        chosen = self._selection([dataset_id] if dataset_id else None)
        if chosen is None or not self._start_busy():
            return None
        self.state.error, self.state.progress, self.state.progress_max = "", 0, 1
        return self._start(self._load_job, chosen, self.state.export_format, False)

    def open_in_fiftyone(self, dataset_id: str | None = None) -> Future | None:
        """Load the selected datasets and open them in the FiftyOne App (when FiftyOne is installed)."""
        chosen = self._selection([dataset_id] if dataset_id else None)
        if chosen is None or not self._start_busy():
            return None
        self.state.error, self.state.progress, self.state.progress_max = "", 0, 1
        return self._start(self._load_job, chosen, self.state.export_format, True)

    def _load_job(self, ids: list[str], fmt: str, fiftyone: bool) -> None:
        steps = jobs.Steps(self.state, self._cancel)
        try:
            frames, names = [], []
            for dataset_id in ids:
                done = [r for r in self.state.exports
                        if r.get("dataset_id") == dataset_id and r.get("format") == fmt and not r.get("error")]
                name = (self.state.row(dataset_id) or {}).get("name") or dataset_id
                if done:
                    exported = done[-1]
                else:
                    steps.phase(f"exporting {name} as {fmt}")
                    exported = self._export_one(dataset_id, fmt, {}, False)
                frames.append(jobs.read(self._client, steps, exported, fmt))
                names.append(exported.get("name") or name)
            frame = jobs.combine(frames, fmt)
            name = names[0] if len(names) == 1 else f"{len(names)} datasets"
            steps.phase("summarizing the annotations")
            summary_html, chart = jobs.summarize(frame, f"{name} ({fmt})")
            self.state.frame_label = f"{name} ({fmt})"
            self.state.frame = frame
            self.state.frame_summary, self.state.frame_png = summary_html, chart
            images = frame.groupby(["dataset_id", "image_id"], observed=True, dropna=False).ngroups if len(frame) else 0
            self.state.message = (f"Loaded {', '.join(repr(n) for n in names)} into panel.frame: {len(frame):,} "
                                  f"rows, {images:,} images (from the {fmt} export{'s' if len(names) > 1 else ''}).")
            if fiftyone:
                from ..fiftyone import launch_app

                dataset = jobs.to_fiftyone(self._client, steps, frame, "-".join(names) if len(names) < 4 else name)
                steps.phase("opening the FiftyOne App")
                self.fiftyone_session = launch_app(dataset, **self.fiftyone_app_options)
                self.state.message = (f"Opened '{name}' in FiftyOne ({len(dataset)} samples): "
                                      f"{getattr(self.fiftyone_session, 'url', '')}")
        except CancelledError:
            self.state.message = "Cancelled; nothing half-downloaded was kept."
        finally:
            self._end_busy()

    # ------------------------------------------------------------------ statistics
    def _on_tab(self, change: dict[str, Any]) -> None:
        if self.view.selected_tab == "Statistics" and not self._stats_loaded:
            self.load_statistics()

    def load_statistics(self) -> Future | None:
        """Fetch the statistics of the chosen period and draw their chart (PNG) in the background."""
        self._stats_loaded = True
        self.state.stats_loading = True
        future = self._submit(self._stats_job, self.state.stats_days)
        if future is None:
            self.state.stats_loading = False
        return future

    def _stats_job(self, days: int) -> None:
        try:
            summary, png = jobs.statistics_chart(self._client, days)
            if days == self.state.stats_days:  # a newer period may have been chosen meanwhile
                self.state.stats_summary, self.state.stats_png = summary, png
        finally:
            if days == self.state.stats_days:  # the latest request ends the spinner
                self.state.stats_loading = False
