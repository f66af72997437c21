"""Pure parts of the panel: the state's filtering and paging, the HTML it draws, error lines."""
from __future__ import annotations

import pytest

from aion_pandas.errors import APIError, ConnectionError, FormatError, NotFoundError, RateLimitError
from aion_pandas.widgets import render
from aion_pandas.widgets.rows import describe_error
from aion_pandas.widgets.state import PAGE_SIZE, PanelState

ROWS = [{"id": f"d{i}", "name": name, "status": status}
        for i, (name, status) in enumerate([("Street scenes", "ready"), ("Park", "failed"), ("street lights", "pending"),
                                            ("Warehouse", "ready")])]


@pytest.mark.parametrize("status, search, expected", [
    ("", "", ["d0", "d1", "d2", "d3"]),
    ("ready", "", ["d0", "d3"]),
    ("", "STREET", ["d0", "d2"]),
    ("ready", "street", ["d0"]),
    ("processing", "", []),
    ("", "  park ", ["d1"]),
])
def test_filter_and_search(status, search, expected):
    state = PanelState(rows=ROWS, status_filter=status, search=search)
    assert [r["id"] for r in state.visible_rows()] == expected


@pytest.mark.parametrize("n, page, first, count, pages", [
    (0, 0, None, 0, 1), (100, 0, "0", 100, 1), (101, 1, "100", 1, 2), (250, 2, "200", 50, 3), (250, 9, "200", 50, 3),
])
def test_pages(n, page, first, count, pages):
    state = PanelState(rows=[{"id": str(i), "name": f"n{i}", "status": "ready"} for i in range(n)])
    state.page = page
    visible = state.visible_rows()
    assert state.page_count() == pages and len(visible) == count
    assert (visible[0]["id"] if visible else None) == first
    assert state.page == min(page, pages - 1)  # clamped


def test_filter_change_goes_back_to_the_first_page():
    state = PanelState(rows=[{"id": str(i), "name": f"n{i}", "status": "ready"} for i in range(2 * PAGE_SIZE)])
    state.page = 1
    state.search = "n1"
    assert state.page == 0


def test_upsert_keeps_the_place_of_a_known_row_and_puts_a_new_one_first():
    state = PanelState(rows=[dict(r) for r in ROWS])
    state.upsert_row({"id": "d2", "name": "street lights", "status": "ready"})
    assert [r["id"] for r in state.rows] == ["d0", "d1", "d2", "d3"] and state.row("d2")["status"] == "ready"
    state.upsert_row({"id": "new", "name": "n", "status": "pending"})
    assert state.rows[0]["id"] == "new" and len(state.rows) == 5


def test_names_are_escaped_everywhere():
    evil = "<img src=x onerror=alert(1)>"
    row = {"id": "d'1", "name": evil, "status": "ready", "description": evil}
    for html in (render.details(row), render.progress(evil),
                 render.export_results([{"name": evil, "format": "csv", "download_url": "http://h/x?a=1&b='"}]),
                 render.message(evil), render.error(evil)):
        assert "<img" not in html


@pytest.mark.parametrize("size, text", [(0, "0 B"), (999, "999 B"), (245678, "245.7 kB"), (12_300_000, "12.3 MB"),
                                        (2_000_000_000, "2.0 GB"), (None, "")])
def test_human_size(size, text):
    assert render.human_size(size) == text


@pytest.mark.parametrize("exc, line", [
    (NotFoundError("dataset 'x' not found", status=404, code="NOT_FOUND", request_id="req-1"),
     "NOT_FOUND: dataset 'x' not found (request id req-1)"),
    (RateLimitError("slow down", status=429, code="RATE_LIMITED", request_id="r2", retry_after=3.0),
     "RATE_LIMITED: slow down (request id r2)"),
    (APIError("bad gateway", status=502), "HTTP 502: bad gateway"),
    (ConnectionError("connection refused", method="GET", url="http://127.0.0.1:9/api/v2/datasets?sig=secret"),
     "CONNECTION_ERROR: connection refused (GET http://127.0.0.1:9/api/v2/datasets)"),
    (FormatError("line 3: expected 5 fields", path="a.zip"), "FORMAT_ERROR: a.zip: line 3: expected 5 fields"),
    (ValueError("first line\nTraceback (most recent call last):\n  ..."), "ValueError: first line"),
])
def test_errors_are_one_line_with_code_and_request_id(exc, line):
    assert describe_error(exc) == line


def test_a_thousand_datasets_page_filter_and_select_in_the_grid():
    """1,200 datasets: the grid holds one page, the filter and search see every page, a selection on a
    later page names that page's datasets."""
    from aion_pandas.widgets.view import PanelView

    rows = [{"id": f"d{i}", "name": f"set {i:04d}", "status": ("ready", "failed")[i % 2]} for i in range(1200)]
    state = PanelState(rows=rows)
    view = PanelView(state)
    grid = view.control("table")
    assert list(grid.data.index) == [f"d{i}" for i in range(PAGE_SIZE)]
    state.page = 11
    assert list(grid.data.index) == [f"d{i}" for i in range(1100, 1200)]
    assert "1101–1200 of 1200" in view.control("page-label").value
    grid.selections = [{"r1": 5, "r2": 6, "c1": 0, "c2": 6}]
    assert state.selected_ids == ["d1105", "d1106"]
    view.control("status-filter").value = "failed"
    assert state.page == 0 and state.page_count() == 6 and set(grid.data["status"]) == {"failed"}
    view.control("search").value = "set 1199"
    assert list(grid.data.index) == ["d1199"]
    assert state.selected_ids == ["d1105", "d1106"]      # a filter does not drop the selection


def test_steps_show_each_percent_and_stop_on_cancel():
    """A download's thousands of chunks update the bar once per percent; Cancel stops at the next chunk."""
    import threading

    from aion_pandas.errors import CancelledError
    from aion_pandas.widgets.jobs import Steps

    state, cancel = PanelState(), threading.Event()
    shown: list[int] = []
    state.observe(lambda ch: shown.append(ch.new), "progress")
    steps = Steps(state, cancel)
    steps.phase("downloading", 10_000)
    for done in range(1, 10_001):
        steps.advance(done)
    assert shown[0] == 1 and shown[-1] == 10_000 and len(shown) == 101
    cancel.set()
    with pytest.raises(CancelledError):
        steps.advance(5)
    with pytest.raises(CancelledError):
        steps.phase("reading")


def test_the_load_summary_escapes_the_dataset_name():
    """A dataset name is the user's text: in the summary's HTML it is text, never markup."""
    import pandas as pd

    from aion_pandas.widgets.jobs import summarize

    frame = pd.DataFrame({"dataset_id": ["d"], "image_id": [1], "file_name": ["a.jpg"], "width": [10],
                          "height": [10], "category": pd.Categorical(["cat"]), "x": [1.0], "y": [1.0],
                          "w": [2.0], "h": [2.0]})
    html, png = summarize(frame, "<img src=x onerror=alert(1)> (coco)")
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt; (coco)" in html
    assert png.startswith(b"\x89PNG")
