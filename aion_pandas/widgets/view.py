"""The panel's view: ipywidgets drawn from a :class:`PanelState`, with private children.

Each control carries a CSS class ``aion-<name>`` (browser tests select on it) and is reachable by the
same name through :meth:`PanelView.control` (Python tests ``click()`` it). The view links its inputs to
the state and redraws when the state changes; it never calls the service (the controller does).

>>> from aion_pandas.widgets.state import PanelState
>>> view = PanelView(PanelState())
>>> view.control("export").description
'Export'
"""
from __future__ import annotations

import threading
from typing import Any

import ipywidgets as w
from traitlets import link

from . import render
from .grid import DatasetsGrid
from .state import EXPORT_FORMATS, PAGE_SIZE, PERIODS, PanelState

_STATUS_OPTIONS = [("all statuses", ""), ("pending", "pending"), ("processing", "processing"),
                   ("ready", "ready"), ("failed", "failed")]
_FORMAT_LABELS = {"csv": "CSV", "coco": "COCO", "yolo": "YOLO", "pascal_voc": "Pascal VOC"}
TABS = ("Datasets", "Create", "Statistics")


def _hook(widget: w.Widget, name: str) -> w.Widget:
    widget.add_class(f"aion-{name}")
    return widget


class PanelView(w.VBox):
    """Datasets (grid, details, export, load), Create and Statistics tabs, plus a message line."""

    def __init__(self, state: PanelState, *, fiftyone: bool = False, **kwargs: Any) -> None:
        self._state = state
        self._controls: dict[str, w.Widget] = {}
        self._syncing = False
        self._draw_lock = threading.RLock()  # the poller and jobs redraw from their threads
        c = self._make
        wide = w.Layout(width="auto")
        # header
        self._message = c("message", w.HTML())
        self._error = c("error", w.HTML())
        # datasets tab
        self._status = c("status-filter", w.Dropdown(options=_STATUS_OPTIONS, description="Status",
                                                      layout=w.Layout(width="210px")))
        self._search = c("search", w.Text(placeholder="search by name", continuous_update=True,
                                          layout=w.Layout(width="220px")))
        self._refresh = c("refresh", w.Button(description="Refresh", icon="refresh", layout=w.Layout(width="100px")))
        self._prev = c("prev-page", w.Button(description="◀", tooltip="previous page", layout=w.Layout(width="40px")))
        self._next = c("next-page", w.Button(description="▶", tooltip="next page", layout=w.Layout(width="40px")))
        self._page_label = c("page-label", w.HTML())
        self._grid = DatasetsGrid()
        self._table = c("table", self._grid.widget)
        self._hint = w.HTML("<span style='font-size:11px;color:#666'>click a row to select it; shift-click or "
                            "ctrl-click for more; sort from a column's header menu</span>")
        self._details = c("details", w.HTML())
        self._format = c("export-format", w.Dropdown(options=[(_FORMAT_LABELS[f], f) for f in EXPORT_FORMATS],
                                                      description="Format", layout=w.Layout(width="200px")))
        self._delimiter = c("delimiter", w.Text(description="Delimiter", layout=w.Layout(width="140px")))
        self._include_failed = c("include-failed", w.Checkbox(description="include failed items", indent=False))
        self._export = c("export", w.Button(description="Export", icon="download", button_style="primary"))
        self._progress = c("progress", w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="160px",
                                                                                             visibility="hidden")))
        self._progress_label = c("progress-label", w.HTML())
        self._cancel = c("cancel", w.Button(description="Cancel", icon="stop", button_style="warning",
                                            layout=w.Layout(width="100px", visibility="hidden")))
        self._results = c("export-result", w.HTML())
        self._frame_summary = c("frame-summary", w.HTML())
        self._frame_chart = c("frame-chart", w.Image(format="png", layout=w.Layout(max_width="680px",
                                                                                   display="none")))
        self._load = c("load", w.Button(description="Load into DataFrame", icon="table", layout=w.Layout(width="auto")))
        self._fiftyone = c("fiftyone", w.Button(description="Open in FiftyOne", icon="eye", layout=w.Layout(
            width="auto", display=None if fiftyone else "none")))
        datasets_tab = w.VBox([
            w.HBox([self._status, self._search, self._refresh, self._prev, self._page_label, self._next]),
            self._table, self._hint, self._details,
            w.HBox([self._format, self._delimiter, self._include_failed], layout=wide),
            w.HBox([self._export, self._load, self._fiftyone, self._progress, self._progress_label, self._cancel]),
            self._results, self._frame_summary, self._frame_chart])
        # create tab
        form = {"style": {"description_width": "110px"}}
        self._batch = c("batch", w.Dropdown(options=[("— pick a batch —", "")], description="Batch", **form,
                                            layout=w.Layout(width="520px")))
        self._batch_id = c("batch-id", w.Text(description="or batch id", **form, placeholder="550e8400-…",
                                              layout=w.Layout(width="520px")))
        self._batch_note = c("batch-note", w.HTML(layout=w.Layout(display="none")))
        self._name = c("name", w.Text(description="Name", **form, layout=w.Layout(width="520px")))
        self._description = c("description", w.Textarea(description="Description", **form, layout=w.Layout(width="520px")))
        self._format_config = c("format-config", w.Textarea(description="Format config", **form,
                                                            placeholder='{"csv_delimiter": ",", "include_timestamps": true}',
                                                            layout=w.Layout(width="520px")))
        self._create = c("create", w.Button(description="Create dataset", icon="plus", button_style="success"))
        create_tab = w.VBox([self._batch_note, self._batch, self._batch_id, self._name, self._description, self._format_config,
                             self._create])
        # statistics tab
        self._days = c("stats-days", w.Dropdown(options=[(f"last {d} days", d) for d in PERIODS], value=30,
                                                description="Period"))
        self._stats_refresh = c("stats-refresh", w.Button(description="Refresh", icon="refresh"))
        self._chart = c("stats-chart", w.Image(format="png", layout=w.Layout(max_width="680px")))
        self._summary = c("stats-summary", w.HTML())
        stats_tab = w.VBox([w.HBox([self._days, self._stats_refresh]), self._summary, self._chart])

        self._tabs = c("tabs", w.Tab(children=[datasets_tab, create_tab, stats_tab], titles=TABS))
        title = w.HTML("<b style='font-size:14px'>Aionvision datasets</b>")
        super().__init__([title, self._error, self._message, self._tabs], **kwargs)
        self.add_class("aion-panel-view")
        self._link()
        self._redraw_table()
        self._redraw_busy()

    # -------------------------------------------------------------------------------- public
    def control(self, name: str) -> w.Widget:
        """The widget with CSS class ``aion-<name>`` (e.g. ``control("export").click()``)."""
        return self._controls[name]

    @property
    def selected_tab(self) -> str:
        """The title of the tab in front."""
        return TABS[self._tabs.selected_index or 0]

    def show_tab(self, title: str) -> None:
        """Bring the tab titled ``title`` to the front."""
        self._tabs.selected_index = TABS.index(title)

    def walk(self) -> list[w.Widget]:
        """This widget and every widget it holds: children, the grid's renderers and their expressions."""
        out: list[w.Widget] = []
        seen: set[int] = set()
        todo: list[Any] = [self]
        while todo:
            value = todo.pop()
            if isinstance(value, (list, tuple)):
                todo.extend(value)
            elif isinstance(value, dict):
                todo.extend(value.values())
            elif isinstance(value, w.Widget) and id(value) not in seen:
                seen.add(id(value))
                out.append(value)
                todo.extend(value.trait_values(sync=lambda v: v).values())
        return out

    # -------------------------------------------------------------------------------- wiring
    def _make(self, name: str, widget: w.Widget) -> w.Widget:
        self._controls[name] = _hook(widget, name)
        return widget

    def _link(self) -> None:
        s = self._state
        for name, widget in (("status_filter", self._status), ("search", self._search),
                             ("export_format", self._format), ("delimiter", self._delimiter),
                             ("include_failed_items", self._include_failed), ("stats_days", self._days)):
            link((s, name), (widget, "value"))
        self._grid.on_select(self._on_select)
        self._prev.on_click(lambda _: setattr(s, "page", s.page - 1))
        self._next.on_click(lambda _: setattr(s, "page", s.page + 1))
        s.observe(lambda _: self._redraw_table(), ["rows", "status_filter", "search", "page", "selected_ids", "loading"])
        s.observe(lambda _: self._redraw_busy(), ["busy", "progress", "progress_max", "progress_text", "loading",
                                                  "stats_loading", "cancelling"])
        s.observe(lambda ch: setattr(self._frame_summary, "value", ch.new), "frame_summary")
        s.observe(self._redraw_frame_chart, "frame_png")
        s.observe(lambda ch: setattr(self._results, "value", render.export_results(ch.new)), "exports")
        s.observe(lambda ch: setattr(self._message, "value", render.message(ch.new)), "message")
        s.observe(lambda ch: setattr(self._error, "value", render.error(ch.new)), "error")
        s.observe(lambda ch: setattr(self._chart, "value", ch.new), "stats_png")
        s.observe(lambda ch: setattr(self._summary, "value", ch.new), "stats_summary")
        s.observe(self._redraw_batches, "batches")
        s.observe(self._redraw_batch_note, "batches_note")
        s.observe(lambda ch: setattr(self._delimiter, "disabled", ch.new != "csv"), "export_format")
        self._delimiter.disabled = s.export_format != "csv"

    def _on_select(self, ids: list[str]) -> None:
        if not self._syncing:
            self._state.selected_ids = ids

    def _redraw_frame_chart(self, change: dict[str, Any]) -> None:
        self._frame_chart.value = change["new"]
        self._frame_chart.layout.display = None if change["new"] else "none"

    def _redraw_table(self) -> None:
        with self._draw_lock:
            self._draw_table()

    def _draw_table(self) -> None:
        s = self._state
        visible = s.visible_rows()
        self._syncing = True
        try:
            self._grid.show(visible)
            self._grid.select_ids(s.selected_ids)
        finally:
            self._syncing = False
        total = len(s.filtered_rows())
        first = min(s.page, s.page_count() - 1) * PAGE_SIZE
        label = "loading…" if s.loading and not s.rows else (
            f"{first + 1 if total else 0}–{first + len(visible)} of {total} · "
            f"page {min(s.page, s.page_count() - 1) + 1}/{s.page_count()}")
        self._page_label.value = f"<span style='font-size:12px'>{label}</span>"
        self._prev.disabled = s.page <= 0
        self._next.disabled = s.page >= s.page_count() - 1
        rows = [s.row(i) for i in s.selected_ids]
        rows = [r for r in rows if r is not None]
        self._details.value = render.details(rows[0] if rows else None, more=len(rows) - 1)

    def _redraw_busy(self) -> None:
        s = self._state
        self._export.disabled = s.busy
        self._load.disabled = s.busy
        self._fiftyone.disabled = s.busy
        self._export.description = "Exporting…" if s.busy else "Export"
        self._progress.max = max(1, s.progress_max)
        self._progress.value = min(s.progress, self._progress.max)
        self._progress.layout.visibility = "visible" if s.busy else "hidden"
        self._progress_label.value = render.progress(s.progress_text) if s.busy else ""
        self._cancel.layout.visibility = "visible" if s.busy else "hidden"
        self._cancel.disabled = s.cancelling
        self._cancel.description = "Cancelling…" if s.cancelling else "Cancel"
        self._refresh.disabled = s.loading
        self._stats_refresh.disabled = s.stats_loading

    def _redraw_batches(self, change: dict[str, Any]) -> None:
        options = [("— pick a batch —", "")] + [
            (f"{b.get('name') or b['batch_id']} · {b.get('status')} · {b.get('total_items')} items", b["batch_id"])
            for b in change["new"]]
        value = self._batch.value if any(v == self._batch.value for _, v in options) else ""
        self._batch.options = options
        self._batch.value = value

    def _redraw_batch_note(self, change: dict[str, Any]) -> None:
        """With no batch list, the picker goes and the note says why; the typed id is the way in."""
        note = change["new"]
        self._batch_note.value = render.message(note) if note else ""
        self._batch_note.layout.display = None if note else "none"
        self._batch.layout.display = "none" if note else None
        self._batch_id.description = "Batch id" if note else "or batch id"

    def create_form(self) -> dict[str, str]:
        """What the Create tab's fields hold (batch id typed in wins over the picker)."""
        return {"batch_id": (self._batch_id.value or "").strip() or self._batch.value,
                "name": self._name.value.strip(), "description": self._description.value.strip(),
                "format_config": self._format_config.value.strip()}
