"""The panel without a browser: set traits, click buttons, check the state and the service's side."""
from __future__ import annotations

import json
import threading
import urllib.request

import pytest

from aion_pandas.widgets import Panel, panel as make_panel
from aion_pandas.widgets.state import PAGE_SIZE


def _ready(panel: Panel) -> dict:
    """The ready dataset with the most images (a demo dataset, whatever other tests created)."""
    return max((r for r in panel.state.rows if r["status"] == "ready"), key=lambda r: r["successful_items"])


def _widget_texts(panel: Panel) -> list[str]:
    """Every trait value of every widget of the panel, as JSON text (what a browser could see)."""
    texts = []
    for widget in panel.view.walk():
        state = widget.get_state()
        texts.append(json.dumps({k: v for k, v in state.items() if not isinstance(v, (bytes, memoryview))},
                                default=str))
    return texts


def test_table_lists_the_services_datasets(panel, client):
    from ipydatagrid import DataGrid

    page = client.datasets.list(limit=100)
    assert len(panel.state.rows) == page.total_count > 0
    grid = panel.view.control("table")
    assert isinstance(grid, DataGrid) and grid.selection_mode == "row"
    assert list(grid.data.index) == [d.id for d in page][:PAGE_SIZE]
    by_id = {d.id: d for d in page}
    for dataset_id, row in grid.data.iterrows():
        assert (row["name"], row["status"], row["items"]) == (
            by_id[dataset_id].name, by_id[dataset_id].status, by_id[dataset_id].total_items)
    badge = grid.renderers["status"].background_color.value
    assert "'ready' ? '#2ca02c'" in badge and "'failed' ? '#d62728'" in badge  # the status colours
    # completed batches for the Create tab
    batches = [b.batch_id for b in client.batches.list(status="completed").auto_paging_iter()]
    assert [v for _, v in panel.view.control("batch").options][1:] == batches


def test_filter_search_and_selection_details(panel, select_rows):
    ready = _ready(panel)
    grid = panel.view.control("table")
    panel.view.control("status-filter").value = "ready"
    assert panel.state.status_filter == "ready"
    assert {r["status"] for r in panel.state.visible_rows()} == {"ready"} == set(grid.data["status"])
    panel.view.control("search").value = ready["name"].upper()
    assert ready["id"] in grid.data.index
    assert all(ready["name"].lower() in r["name"].lower() for r in panel.state.visible_rows())
    panel.view.control("search").value = "no dataset is called this"
    assert panel.state.visible_rows() == [] and len(grid.data) == 0
    panel.view.control("search").value = ""
    panel.view.control("status-filter").value = ""
    select_rows(panel, [ready["id"]])
    assert panel.state.selected_ids == [ready["id"]]
    details = panel.view.control("details").value
    assert ready["id"] in details and ready["batch_id"] in details


def test_export_button_exports_for_real(panel, client):
    ready = _ready(panel)
    before = client.datasets.get(ready["id"]).export_count
    panel.state.selected_ids = [ready["id"]]
    panel.view.control("export-format").value = "yolo"
    panel.view.control("export").click()
    assert panel.wait_idle(60)
    after = client.datasets.get(ready["id"])
    assert after.export_count == before + 1 and after.latest_export.format == "yolo"
    (result,) = panel.state.exports
    assert result["format"] == "yolo" and result["record_count"] > 0 and result["file_size_bytes"] > 0
    assert panel.state.row(ready["id"])["export_count"] == before + 1  # the table follows without refresh
    html = panel.view.control("export-result").value
    assert f"href='{result['download_url']}'".replace("&", "&amp;") in html
    with urllib.request.urlopen(result["download_url"]) as resp:  # the link works without a key
        assert len(resp.read()) == result["file_size_bytes"]
    assert not panel.state.busy and not panel.view.control("export").disabled
    assert panel.state.error == ""


def test_csv_export_sends_delimiter_and_include_failed(panel, client):
    ready = _ready(panel)
    panel.state.selected_ids = [ready["id"]]
    panel.state.export_format = "csv"
    panel.view.control("delimiter").value = ";"
    panel.view.control("include-failed").value = True
    panel.view.control("export").click()
    assert panel.wait_idle(60)
    (result,) = panel.state.exports
    with urllib.request.urlopen(result["download_url"]) as resp:
        head = resp.read().split(b"\n", 1)[0]
    assert b";" in head and b"," not in head
    exported_all = client.datasets.export(ready["id"], "csv", include_failed_items=True)
    assert result["record_count"] == exported_all.record_count


def test_second_click_while_busy_does_not_start_a_second_export(panel, client):
    ready = _ready(panel)
    before = client.datasets.get(ready["id"]).export_count
    panel.state.selected_ids = [ready["id"]]
    gate = threading.Event()
    panel.controller._pool.submit(gate.wait, 30)  # occupy the pool so the first export is queued
    panel.controller._pool.submit(gate.wait, 30)
    panel.controller._pool.submit(gate.wait, 30)
    panel.view.control("export").click()
    assert panel.state.busy and panel.view.control("export").disabled
    panel.view.control("export").click()           # the browser would not send it; the controller ignores it
    assert panel.controller.export() is None
    assert "already running" in panel.state.message
    gate.set()
    assert panel.wait_idle(60)
    assert client.datasets.get(ready["id"]).export_count == before + 1
    assert len(panel.state.exports) == 1


def test_load_into_dataframe(panel):
    ready = _ready(panel)
    panel.state.selected_ids = [ready["id"]]
    panel.state.export_format = "coco"
    panel.view.control("load").click()
    assert panel.wait_idle(60)
    frame = panel.frame
    assert frame is not None and len(frame) > 0 and frame.attrs["format"] == "coco"
    assert {"image_id", "file_name", "category", "x", "y", "w", "h"} <= set(frame.columns)
    assert frame["image_id"].nunique() == ready["successful_items"]
    assert "panel.frame" in panel.view.control("message").value
    assert "panel.frame" not in panel.state.error


def test_create_from_batch_row_appears_and_turns_ready_without_refresh(panel, client, wait_for):
    batch_id = [v for _, v in panel.view.control("batch").options if v][0]
    panel.view.control("batch").value = batch_id
    panel.view.control("name").value = "made in the panel"
    panel.view.control("description").value = "a panel test"
    panel.view.control("format-config").value = '{"csv_delimiter": ";"}'
    panel.view.control("create").click()
    new_id = wait_for(lambda: next((r["id"] for r in panel.state.rows if r["name"] == "made in the panel"), None),
                      what="the new row")
    assert panel.state.selected_ids == [new_id] and panel.view.selected_tab == "Datasets"
    row = wait_for(lambda: (r := panel.state.row(new_id)) and r["status"] in ("ready", "failed") and r,
                   timeout=60, what="the new dataset to become ready")
    assert row["status"] == "ready"
    created = client.datasets.get(new_id)
    assert created.batch_id == batch_id and created.description == "a panel test"
    assert created.format_config.get("csv_delimiter") == ";"
    assert new_id in panel.view.control("table").data.index
    wait_for(lambda: not panel.controller.poller_alive, timeout=10, what="the poller to stop")
    assert panel.state.watching == []


def test_poller_stops_when_the_panel_closes(client, service):
    batch_id = client.batches.list(status="completed").items[0].batch_id
    p = make_panel(client)
    try:
        assert p.wait_idle(60)
        p.controller.create(batch_id, "closed early")
        assert p.wait_idle(60)
        # the poller is following it (or it was already done, then nothing polls)
        alive = p.controller.poller_alive
    finally:
        p.close()
    assert not p.controller.poller_alive
    assert alive or client.datasets.get(p.state.selected_ids[0]).is_done


def test_typed_unknown_batch_shows_code_and_request_id(panel):
    panel.view.control("batch-id").value = "00000000-0000-0000-0000-000000000000"
    panel.view.control("name").value = "nope"
    panel.view.control("create").click()
    assert panel.wait_idle(30)
    error = panel.state.error
    assert error.startswith(("NOT_FOUND", "VALIDATION_ERROR")) and "request id " in error
    assert "Traceback" not in error
    assert "request id" in panel.view.control("error").value


def test_bad_format_config_is_refused_before_any_call(panel):
    panel.view.control("batch").value = [v for _, v in panel.view.control("batch").options if v][0]
    panel.view.control("name").value = "x"
    panel.view.control("format-config").value = "{not json"
    rows = len(panel.state.rows)
    panel.view.control("create").click()
    assert "not valid JSON" in panel.state.error
    assert panel.controller.wait_idle(5) and len(panel.state.rows) == rows


def test_bad_key_error_has_code_and_request_id_and_no_key(service):
    from aion_pandas.client import Client

    bad = "aion_this_is_not_a_valid_key_0123456789"
    with Client(bad, service.base_url, max_retries=0) as c:
        p = make_panel(c)
        try:
            assert p.wait_idle(30)
            assert p.state.error.startswith("INVALID_API_KEY") and "request id " in p.state.error
            texts = _widget_texts(p)
            assert any("INVALID_API_KEY" in t for t in texts)
            assert not any(bad in t for t in texts) and bad not in repr(p)
        finally:
            p.close()


def test_the_key_never_appears_in_any_widget(panel, service, wait_for):
    ready = _ready(panel)
    panel.state.selected_ids = [ready["id"]]
    panel.view.control("export").click()
    assert panel.wait_idle(60)
    panel.view.show_tab("Statistics")
    wait_for(lambda: panel.state.stats_png, what="the chart")
    assert panel.wait_idle(30)
    texts = _widget_texts(panel)
    assert any("download" in t for t in texts)
    assert not any(service.api_key in t for t in texts)
    assert service.api_key not in repr(panel)


def test_statistics_tab_draws_the_chart_per_period(panel, client, wait_for):
    assert panel.state.stats_png == b""  # nothing fetched before the tab is opened
    panel.view.show_tab("Statistics")
    png = wait_for(lambda: panel.state.stats_png, what="the chart")
    assert panel.wait_idle(30)
    assert png.startswith(b"\x89PNG") and bytes(panel.view.control("stats-chart").value) == png
    stats = client.datasets.statistics(days=30)
    assert f"{stats.total_datasets} datasets" in panel.view.control("stats-summary").value
    panel.view.control("stats-days").value = 7
    assert panel.wait_idle(30)
    assert "(7 days)" in panel.view.control("stats-summary").value
    assert bytes(panel.view.control("stats-chart").value).startswith(b"\x89PNG")


def test_pages_past_100_rows(start_service):
    from aion_pandas.client import Client

    svc = start_service(demo=True)
    with Client(svc.api_key, svc.base_url, max_retries=1) as c:
        batch_id = c.batches.list(status="completed").items[0].batch_id
        existing = c.datasets.list().total_count
        for i in range(PAGE_SIZE + 5 - existing):
            c.datasets.create(batch_id, f"bulk {i:03d}")
        p = make_panel(c)
        try:
            assert p.wait_idle(60)
            total = c.datasets.list().total_count
            assert len(p.state.rows) == total > PAGE_SIZE
            assert len(p.view.control("table").data) == PAGE_SIZE
            assert p.view.control("prev-page").disabled and not p.view.control("next-page").disabled
            p.view.control("next-page").click()
            assert p.state.page == 1 and len(p.state.visible_rows()) == total - PAGE_SIZE
            assert f"of {total}" in p.view.control("page-label").value
            assert p.view.control("next-page").disabled
            assert set(p.view.control("table").data.index) == {r["id"] for r in p.state.rows[PAGE_SIZE:]}
        finally:
            p.close()


def test_a_batch_still_processing_is_refused_before_a_dataset_is_made(panel, client):
    processing = [b for b in client.batches.list(status="processing").auto_paging_iter()]
    if not processing:
        pytest.skip("the demo service has no processing batch")
    before = client.datasets.list().total_count
    panel.view.control("batch-id").value = processing[0].batch_id.upper()  # any UUID spelling
    panel.view.control("name").value = "from a processing batch"
    panel.view.control("create").click()
    assert panel.wait_idle(30)
    assert panel.state.error == (f"Batch {processing[0].batch_id} is processing: a dataset is made from a "
                                 "completed batch (wait for it to finish).")
    assert client.datasets.list().total_count == before


def test_a_batch_id_that_is_no_uuid_is_refused_at_once(panel):
    panel.view.control("batch-id").value = "batch-42"
    panel.view.control("name").value = "x"
    assert panel.controller.create_from_form() is None
    assert panel.state.error.startswith("'batch-42' is not a batch id: batch ids are UUIDs")


def test_export_of_several_datasets_keeps_going_past_one_that_fails(panel, client, select_rows):
    ready = _ready(panel)
    failed = next((r for r in panel.state.rows if r["status"] == "failed"), None)
    if failed is None:
        pytest.skip("no failed dataset in the demo data")
    before = client.datasets.get(ready["id"]).export_count
    select_rows(panel, [failed["id"], ready["id"]])
    assert panel.state.selected_ids == [failed["id"], ready["id"]]
    panel.state.export_format = "pascal_voc"
    panel.view.control("export").click()
    assert panel.wait_idle(60)
    assert panel.state.progress == panel.state.progress_max == 2
    by_id = {r["dataset_id"]: r for r in panel.state.exports}
    assert by_id[failed["id"]]["error"].startswith("DATASET_NOT_READY") and "request id" in by_id[failed["id"]]["error"]
    assert by_id[ready["id"]]["format"] == "pascal_voc" and by_id[ready["id"]]["record_count"] > 0
    assert client.datasets.get(ready["id"]).export_count == before + 1
    html = panel.view.control("export-result").value
    assert "aion-export-failed" in html and "aion-download" in html
    assert "DATASET_NOT_READY" in panel.state.error and "1 of 2" in panel.state.message


def test_refresh_shows_a_dataset_made_elsewhere(panel, client, wait_for):
    batch_id = client.batches.list(status="completed").items[0].batch_id
    made = client.datasets.create(batch_id, "made outside the panel")
    assert panel.state.row(made.id) is None
    panel.view.control("refresh").click()
    assert panel.wait_idle(30)
    assert panel.state.row(made.id) is not None
    wait_for(lambda: panel.state.row(made.id)["status"] == "ready", timeout=60, what="ready")


def test_export_without_a_selection_says_so(panel, client):
    panel.state.selected_ids = []
    panel.view.control("export").click()
    assert panel.state.error == "Select a dataset first." and not panel.state.busy


def test_panel_shows_itself_as_a_widget(panel):
    bundle = panel._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    view = data["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == panel.model_id
    assert "Panel" in repr(panel) and panel.view.selected_tab == "Datasets"


@pytest.mark.fiftyone
@pytest.mark.slow
def test_open_in_fiftyone_makes_a_dataset_with_every_image(panel, client):
    pytest.importorskip("fiftyone")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    panel.controller.fiftyone_app_options = {"auto": False, "remote": True, "address": "127.0.0.1", "port": port}
    ready = _ready(panel)
    panel.state.selected_ids = [ready["id"]]
    panel.view.control("fiftyone").click()
    assert panel.wait_idle(120), panel.state.error
    assert panel.state.error == ""
    session = panel.controller.fiftyone_session
    assert session is not None and len(session.dataset) == ready["successful_items"]
    assert session.dataset.count("ground_truth.detections") == panel.frame["x"].notna().sum()
    assert "Opened" in panel.state.message and str(port) in panel.state.message


def test_fiftyone_button_only_when_fiftyone_is_there():
    from aion_pandas.widgets.state import PanelState
    from aion_pandas.widgets.view import PanelView

    assert PanelView(PanelState(), fiftyone=False).control("fiftyone").layout.display == "none"
    assert PanelView(PanelState(), fiftyone=True).control("fiftyone").layout.display is None


def test_the_notebook_is_committed_without_outputs():
    import nbformat
    from pathlib import Path

    nb = nbformat.read(Path(__file__).resolve().parents[2] / "notebooks" / "panel.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert code[0].source.rstrip().endswith("panel")  # the panel is the cell's last expression


def test_aion_panel_is_the_public_name(service, monkeypatch):
    import aion_pandas as aion
    from aion_pandas.client import set_default_client

    assert aion.panel is make_panel
    monkeypatch.setenv("AIONVISION_BASE_URL", service.base_url)
    monkeypatch.setenv("AIONVISION_API_KEY", service.api_key)
    client = aion.connect()
    try:
        p = aion.panel()          # no client: the default one of aion.connect()
        try:
            assert p.wait_idle(60) and p._client is client and len(p.state.rows) > 0
        finally:
            p.close()
        assert p.controller.refresh() is None and not p.state.loading  # a closed panel does no more work
    finally:
        set_default_client(None)
        client.close()
