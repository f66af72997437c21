"""The panel's state: plain traitlets, no widgets, no HTTP. The view draws it; the controller changes it.

>>> state = PanelState()
>>> state.status_filter, state.page, state.busy
('', 0, False)
>>> state.rows = [{"id": "d1", "name": "Q1", "status": "ready"}, {"id": "d2", "name": "Q2", "status": "failed"}]
>>> state.search = "q2"
>>> [r["id"] for r in state.visible_rows()]
['d2']
"""
from __future__ import annotations

from typing import Any

from traitlets import Any as AnyTrait
from traitlets import Bool, Bytes, Dict, HasTraits, Int, List, Unicode, observe

#: rows per page of the datasets table
PAGE_SIZE = 100
#: the statistics periods offered (days)
PERIODS: tuple[int, ...] = (7, 30, 90, 365)
EXPORT_FORMATS: tuple[str, ...] = ("csv", "coco", "yolo", "pascal_voc")


class PanelState(HasTraits):
    """Everything the panel shows, as traits (observable, testable without a browser).

    ``rows`` are plain dicts (one per dataset: id, name, status, total_items, successful_items,
    export_count, latest_export_format, latest_export_at, created_at, ...); the table shows the
    rows matching ``status_filter`` and ``search`` (case-insensitive substring of the name), a page
    of :data:`PAGE_SIZE` at a time.
    """

    # the datasets table
    rows = List(Dict())
    status_filter = Unicode("")          # "" = every status
    search = Unicode("")
    page = Int(0)
    selected_ids = List(Unicode())
    loading = Bool(False)

    # create from a batch
    batches = List(Dict())               # {"batch_id", "name", "status", "total_items"}
    batches_note = Unicode("")           # why there is no batch list (the hosted API has none), or ""
    watching = List(Unicode())           # datasets still pending/processing, polled in the background

    # export
    export_format = Unicode("coco")
    delimiter = Unicode(",")
    include_failed_items = Bool(False)
    busy = Bool(False)                   # an export (or load) is running
    progress = Int(0)                    # 0..progress_max while busy
    progress_max = Int(1)
    progress_text = Unicode("")          # what the running call does now ("downloading 1.2 of 3.4 MB")
    cancelling = Bool(False)             # Cancel was pressed; the call stops at its next step
    exports = List(Dict())               # results of the last export click, one dict per dataset

    # load / FiftyOne
    frame = AnyTrait(None, allow_none=True)
    frame_label = Unicode("")
    frame_summary = Unicode("")          # HTML of the loaded frame's annotation summary
    frame_png = Bytes(b"")               # its chart (class counts, boxes per image, sizes)

    # statistics
    stats_days = Int(30)
    stats_png = Bytes(b"")
    stats_summary = Unicode("")
    stats_loading = Bool(False)

    # messages: one line each, never a traceback, never a key
    message = Unicode("")
    error = Unicode("")

    def filtered_rows(self) -> list[dict[str, Any]]:
        """The rows passing the status filter and the name search (every page)."""
        needle = self.search.strip().lower()
        return [r for r in self.rows
                if (not self.status_filter or r.get("status") == self.status_filter)
                and (not needle or needle in str(r.get("name") or "").lower())]

    def page_count(self) -> int:
        """How many pages the filtered rows fill (at least 1)."""
        return max(1, -(-len(self.filtered_rows()) // PAGE_SIZE))

    def visible_rows(self) -> list[dict[str, Any]]:
        """The rows of the current page.

        >>> s = PanelState(rows=[{"id": str(i), "name": f"d{i}", "status": "ready"} for i in range(250)])
        >>> s.page = 2; len(s.visible_rows()), s.visible_rows()[0]["id"]
        (50, '200')
        """
        start = min(self.page, self.page_count() - 1) * PAGE_SIZE
        return self.filtered_rows()[start:start + PAGE_SIZE]

    def row(self, dataset_id: str) -> dict[str, Any] | None:
        """The row of one dataset, or None."""
        return next((r for r in self.rows if r.get("id") == dataset_id), None)

    def upsert_row(self, row: dict[str, Any]) -> None:
        """Replace the row with the same id (or put a new one first); assigns a new list so observers fire."""
        rows = [r for r in self.rows if r.get("id") != row["id"]]
        index = next((i for i, r in enumerate(self.rows) if r.get("id") == row["id"]), 0)
        rows.insert(index, row)
        self.rows = rows

    @observe("status_filter", "search")
    def _back_to_first_page(self, change: dict[str, Any]) -> None:
        self.page = 0

    @observe("page")
    def _clamp_page(self, change: dict[str, Any]) -> None:
        last = self.page_count() - 1
        if self.page > last or self.page < 0:
            self.page = max(0, min(self.page, last))
