"""The panel in a real browser: notebooks/panel.ipynb served by Voilà, driven by headless Chromium.

Screenshots go to ``artifacts/`` (gitignored) for a person to look at.
"""
from __future__ import annotations

import os

import pytest

from browser_support import ARTIFACTS, ROOT, click_grid_row, free_port, notebook_server

NOTEBOOK = ROOT / "notebooks" / "panel.ipynb"

pytestmark = pytest.mark.browser  # Chromium is required by the page fixture


@pytest.fixture
def voila(service, tmp_path):
    """Voilà serving notebooks/panel.ipynb on a free loopback port, configured for the test service."""
    port = free_port()
    env = {**os.environ, "AIONVISION_BASE_URL": service.base_url, "AIONVISION_API_KEY": service.api_key,
           "MPLBACKEND": "Agg", "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    args = ["voila", str(NOTEBOOK), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1"]
    with notebook_server(args, port=port, env=env, cwd=ROOT, log_path=tmp_path / "voila.log") as url:
        yield url


def test_select_export_yolo_download_and_statistics_in_chromium(voila, page, service):
    from aion_pandas.client import Client

    ARTIFACTS.mkdir(exist_ok=True)
    with Client(service.api_key, service.base_url) as client:
        ready_ones = list(client.datasets.list(status="ready").auto_paging_iter())
        ready = max(ready_ones, key=lambda d: d.successful_items)
        namesakes = [d for d in ready_ones if ready.name.lower() in d.name.lower()]  # the rows the search leaves
        before = client.datasets.get(ready.id).export_count

    page.set_default_timeout(60_000)
    page.goto(voila + "/", wait_until="commit")
    page.locator(".aion-table .lm-DataGrid canvas").first.wait_for()
    page.locator(".aion-page-label").get_by_text("of ", exact=False).wait_for()   # the table filled
    page.locator(".aion-status-filter select").select_option(value="ready")
    page.locator(".aion-page-label").get_by_text(f"of {len(ready_ones)} ", exact=False).wait_for()
    page.locator(".aion-panel").screenshot(path=str(ARTIFACTS / "panel-datasets.png"))

    page.locator(".aion-search input").fill(ready.name)                # its row (and its namesakes') first
    page.locator(".aion-page-label").get_by_text(f"of {len(namesakes)} ", exact=False).wait_for()
    click_grid_row(page, ".aion-table", namesakes.index(ready))        # a click on the grid's canvas
    details = page.locator(".aion-details")
    details.get_by_text(ready.batch_id, exact=False).wait_for()
    page.locator(".aion-export-format select").select_option(label="YOLO")
    page.locator("button.aion-export").click()

    link = page.locator(".aion-export-result a.aion-download")
    link.wait_for()
    href = link.get_attribute("href")
    assert href and "/exports/" in href and "signature=" in href
    answer = page.context.request.get(href)                            # the link works without a key
    assert answer.status == 200 and answer.body()[:2] == b"PK"         # a YOLO zip
    # the details follow: one more export, the latest one YOLO
    details.locator("tr", has_text="exports").get_by_text(str(before + 1), exact=True).wait_for()
    assert "yolo" in details.locator("tr", has_text="latest export").inner_text()
    assert service.api_key not in page.content()
    page.locator(".aion-panel").screenshot(path=str(ARTIFACTS / "panel-exported.png"))

    # load it: the annotation summary (class counts) and its chart appear under the results
    page.locator("button.aion-load").click()
    summary = page.locator(".aion-frame-summary")
    summary.get_by_text(f"Loaded: {ready.name} (yolo)").wait_for()
    assert "classes" in summary.inner_text() and "boxes" in summary.inner_text()
    loaded_chart = page.locator("img.aion-frame-chart[src^='blob:']")
    page.wait_for_function("img => img.complete && img.naturalWidth > 300", arg=loaded_chart.element_handle())
    page.locator(".aion-panel").screenshot(path=str(ARTIFACTS / "panel-loaded.png"))

    with Client(service.api_key, service.base_url) as client:
        after = client.datasets.get(ready.id)
    assert after.export_count == before + 1 and after.latest_export.format == "yolo"
    from aion_pandas.formats import read_export

    frame = read_export(answer.body())                                 # a real YOLO export of that dataset
    assert frame.attrs["format"] == "yolo" and frame["image_id"].nunique() == after.successful_items

    # create a dataset from a batch: its row appears and turns ready without pressing Refresh
    page.locator(".aion-tabs .lm-TabBar-tab", has_text="Create").click()
    page.locator(".aion-batch select").select_option(index=1)
    page.locator(".aion-name input").fill("made in Chromium")
    page.locator(".aion-description textarea").fill("created by the browser test")
    page.screenshot(path=str(ARTIFACTS / "panel-create.png"))
    page.locator("button.aion-create").click()
    details.get_by_text("made in Chromium").wait_for()                 # the new dataset is selected
    details.locator(".aion-status-ready").wait_for()                   # and turns ready by itself
    assert details.get_by_text("created by the browser test").is_visible()

    page.locator(".aion-tabs .lm-TabBar-tab", has_text="Statistics").click()
    chart = page.locator("img.aion-stats-chart[src^='blob:']")
    chart.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 300", arg=chart.element_handle())
    assert "(30 days)" in page.locator(".aion-stats-summary").inner_text()
    page.locator(".aion-panel").screenshot(path=str(ARTIFACTS / "panel-statistics.png"))
    src = chart.get_attribute("src")
    page.locator(".aion-stats-days select").select_option(label="last 7 days")
    page.locator(".aion-stats-summary").get_by_text("(7 days)", exact=False).wait_for()
    page.wait_for_function("([img, old]) => img.src !== old && img.complete && img.naturalWidth > 300",
                           arg=[chart.element_handle(), src])
