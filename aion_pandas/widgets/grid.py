"""The panel's datasets table: an ``ipydatagrid.DataGrid`` fed a DataFrame, row selection out as ids.

The grid renders on a canvas and virtualizes its rows; it sorts in the browser (the header's menu),
so a selection (``grid.selections``, rows of the *visible* order) is mapped back to dataset ids
through ``grid.get_visible_data()``. No HTTP here, no state: :class:`~.view.PanelView` wires it.

>>> grid = DatasetsGrid()
>>> grid.show([{"id": "d1", "name": "Q1", "status": "ready"}, {"id": "d2", "name": "Q2", "status": "failed"}])
>>> grid.widget.selections = [{"r1": 1, "r2": 1, "c1": 0, "c2": 6}]
>>> grid.selected_ids()
['d2']
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import pandas as pd
from ipydatagrid import DataGrid, TextRenderer, VegaExpr

from ..plots import STATUS_COLORS

#: (row key, column title) of the grid's columns, in order; the dataset id is the (hidden) index
GRID_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "name"), ("status", "status"), ("total_items", "items"), ("successful_items", "successful"),
    ("export_count", "exports"), ("latest_export", "latest export"), ("created_at", "created"))
ROW_HEIGHT = 22          # px per body row (browser tests click at these offsets)
HEADER_HEIGHT = 24       # px of the column header
MAX_ROWS_SHOWN = 14      # rows in view before the grid scrolls
_WIDTHS = {"name": 200, "status": 80, "items": 56, "successful": 84, "exports": 68, "latest export": 150,
           "created": 120}
_SLACK = 18              # px for borders and a scroll bar
_NUMBERS = ("items", "successful", "exports")


def grid_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The grid's DataFrame of panel rows: index ``id``, one column per :data:`GRID_COLUMNS` title.

    >>> int(grid_frame([{"id": "d1", "name": "Q1", "status": "ready", "total_items": 3}]).loc["d1", "items"])
    3
    """
    records = []
    for r in rows:
        latest = (f"{r.get('latest_export_format')} {r.get('latest_export_at') or ''}".strip()
                  if r.get("latest_export_format") else "—")
        records.append({"id": r.get("id"), **{title: (latest if key == "latest_export" else r.get(key))
                                              for key, title in GRID_COLUMNS}})
    frame = pd.DataFrame.from_records(records, columns=["id", *[t for _, t in GRID_COLUMNS]]).set_index("id")
    for title in _NUMBERS:
        frame[title] = pd.to_numeric(frame[title], errors="coerce").astype("Int64").fillna(0).astype("int64")
    for title in ("name", "status", "latest export", "created"):
        frame[title] = frame[title].fillna("").astype(str).astype(object)
    frame.index = frame.index.astype(str).astype(object)
    return frame


def _status_renderer() -> TextRenderer:
    """White text on the status colour (the same colours as the statistics chart)."""
    expr = " : ".join(f"cell.value === '{s}' ? '{c}'" for s, c in STATUS_COLORS.items()) + " : '#7f7f7f'"
    return TextRenderer(text_color="white", horizontal_alignment="center", font="bold 12px sans-serif",
                        background_color=VegaExpr(expr))


class DatasetsGrid:
    """A kept ``DataGrid`` (``.widget``) showing panel rows, with multi-row selection by id."""

    def __init__(self) -> None:
        self.widget = DataGrid(grid_frame([]), selection_mode="row", header_visibility="column",
                               base_row_size=ROW_HEIGHT, base_column_header_size=HEADER_HEIGHT,
                               column_widths=dict(_WIDTHS), renderers={"status": _status_renderer()},
                               layout={"height": f"{HEADER_HEIGHT + 3 * ROW_HEIGHT + _SLACK}px",
                                       "width": f"{sum(_WIDTHS.values()) + _SLACK}px", "max_width": "100%"})
        self._frame = grid_frame([])
        self._ids: list[str] = []
        self._resend = False      # the browser lost its selection with the old data: send it again
        self._syncing = False
        self._wanted: list[str] = []
        # the browser sorted (or re-sorted new data): the highlight follows the datasets, not the positions
        self.widget.observe(lambda _: self._syncing or self.select_ids(self._wanted), "_visible_rows")

    def show(self, rows: list[dict[str, Any]]) -> None:
        """Show ``rows`` (unchanged rows: nothing is sent; the browser keeps its sort and scroll)."""
        frame = grid_frame(rows)
        if frame.equals(self._frame) and list(frame.index) == self._ids:
            return
        self._frame, self._ids, self._resend = frame, list(frame.index), True
        shown = min(MAX_ROWS_SHOWN, max(3, len(self._ids)))  # no empty space under a short list
        self.widget.layout.height = f"{HEADER_HEIGHT + shown * ROW_HEIGHT + _SLACK}px"
        self._syncing = True
        try:
            self.widget._visible_rows = []   # the browser sends the new order if it sorts
            self.widget.data = frame
        finally:
            self._syncing = False

    def visible_ids(self) -> list[str]:
        """The dataset ids in the order the grid shows them (after the browser's sort)."""
        if not self._ids:
            return []
        return [str(i) for i in self.widget.get_visible_data().index]

    def selected_ids(self) -> list[str]:
        """The ids of the selected rows (``grid.selections``, in visible order), without repeats."""
        order = self.visible_ids()
        rows = [r for s in self.widget.selections for r in range(s["r1"], s["r2"] + 1)]
        return list(dict.fromkeys(order[r] for r in rows if 0 <= r < len(order)))

    def select_ids(self, ids: Iterable[str]) -> None:
        """Select the rows of ``ids`` that are shown (the others are left out)."""
        self._wanted = list(ids)
        order = {dataset_id: i for i, dataset_id in enumerate(self.visible_ids())}
        last = len(GRID_COLUMNS) - 1
        wanted = [{"r1": order[i], "r2": order[i], "c1": 0, "c2": last} for i in self._wanted if i in order]
        if wanted != self.widget.selections or self._resend:
            self._syncing, self._resend = True, False
            try:
                self.widget.selections = wanted
                self.widget.send_state("selections")
            finally:
                self._syncing = False

    def on_select(self, callback: Callable[[list[str]], None]) -> None:
        """Call ``callback(ids)`` when the user (or code) selects rows through ``grid.selections``.

        The browser empties its selection whenever the data is replaced or re-sorted and reports that
        as ``[]``; that is no choice of the user's (a click always selects a row), so the datasets stay
        selected and the grid is told their rows again.
        """
        def changed(change: dict[str, Any]) -> None:
            if self._syncing:
                return
            if not change["new"]:
                self._resend = True
                self.select_ids(self._wanted)
                return
            callback(self.selected_ids())

        self.widget.observe(changed, "selections")
