"""The panel in JupyterLab itself, in headless Chromium: run ``aion.panel()`` in a notebook, click rows in
the grid, export them as COCO, read the downloads back, and switch the statistics period.

Screenshots go to ``artifacts/`` (gitignored); ``docs/panel-*.png`` are copies of two of them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

from browser_support import ARTIFACTS, click_grid_row, free_port, notebook_server


CELL = "import aion_pandas as aion\np = aion.panel()\np"


@pytest.fixture
def lab(service, tmp_path):
    """JupyterLab on a free loopback port (no token, no news toast) with one notebook running the panel."""
    root = tmp_path / "lab"
    root.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, root / "panel.ipynb")
    settings = tmp_path / "lab-settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port = free_port()
    env = {**os.environ, "AIONVISION_BASE_URL": service.base_url, "AIONVISION_API_KEY": service.api_key,
           "MPLBACKEND": "Agg", "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    args = ["jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ServerApp.ip=127.0.0.1",
            "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=", "--ServerApp.open_browser=False"]
    with notebook_server(args, port=port, env=env, cwd=root, log_path=tmp_path / "lab.log") as url:
        yield url


@pytest.mark.browser
@pytest.mark.slow
def test_select_two_rows_export_coco_and_statistics_in_jupyterlab(lab, page, service, tmp_path):
    from aion_pandas import read_export
    from aion_pandas.client import Client

    ARTIFACTS.mkdir(exist_ok=True)
    with Client(service.api_key, service.base_url) as client:
        ready = list(client.datasets.list(status="ready").auto_paging_iter())[:2]
        before = {d.id: client.datasets.get(d.id).export_count for d in ready}
    assert len(ready) == 2

    page.set_default_timeout(120_000)
    page.goto(lab + "/lab/tree/panel.ipynb", wait_until="commit")
    page.locator(".jp-Notebook").wait_for()
    page.locator("#jp-main-statusbar").get_by_text("Idle").wait_for()   # the kernel is up
    page.locator(".jp-Cell .jp-InputArea-editor").first.click()
    page.keyboard.press("Shift+Enter")
    panel = page.locator(".jp-OutputArea .aion-panel")
    panel.wait_for()
    # only the ready datasets, in the service's order: the two first rows are the two datasets above
    page.locator(".aion-status-filter select").select_option(value="ready")
    page.locator(".aion-page-label").get_by_text("of ", exact=False).wait_for()
    page.locator(".aion-table .lm-DataGrid canvas").first.wait_for()
    panel.scroll_into_view_if_needed()
    click_grid_row(page, ".aion-table", 0)
    details = page.locator(".aion-details")
    details.get_by_text(ready[0].id).wait_for()                          # the kernel saw the click
    click_grid_row(page, ".aion-table", 1, shift=True)
    details.get_by_text("and 1 more selected").wait_for()                # ...and the shift-click
    panel.screenshot(path=str(ARTIFACTS / "lab-panel-selected.png"))

    page.locator(".aion-export-format select").select_option(label="COCO")
    page.locator("button.aion-export").click()
    links = page.locator(".aion-export-result li.aion-export-done a.aion-download")
    page.wait_for_function("() => document.querySelectorAll('.aion-export-result li.aion-export-done').length == 2")
    assert page.locator(".aion-export-result li.aion-export-failed").count() == 0
    # the rows changed (one more export each) and the grid got new data: both stay selected
    details.get_by_text("and 1 more selected").wait_for()
    details.locator("tr", has_text="latest export").get_by_text("coco", exact=False).wait_for()
    panel.screenshot(path=str(ARTIFACTS / "lab-panel-exported.png"))
    for i, dataset in enumerate(ready):
        href = links.nth(i).get_attribute("href")
        assert href and "signature=" in href
        answer = page.context.request.get(href)                          # the link works without a key
        assert answer.status == 200
        path = tmp_path / f"export-{i}.json"
        path.write_bytes(answer.body())
        frame = read_export(path)
        assert frame.attrs["format"] == "coco"
        assert set(frame["dataset_id"].astype(str)) == {dataset.id}
        assert frame["image_id"].nunique() == dataset.successful_items
    with Client(service.api_key, service.base_url) as client:
        for dataset in ready:
            after = client.datasets.get(dataset.id)
            assert after.export_count == before[dataset.id] + 1 and after.latest_export.format == "coco"

    page.locator(".aion-tabs .lm-TabBar-tab", has_text="Statistics").click()
    chart = page.locator("img.aion-stats-chart[src^='blob:']")
    chart.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 300", arg=chart.element_handle())
    assert "(30 days)" in page.locator(".aion-stats-summary").inner_text()
    src = chart.get_attribute("src")
    page.locator(".aion-stats-days select").select_option(label="last 7 days")
    page.locator(".aion-stats-summary").get_by_text("(7 days)", exact=False).wait_for()
    page.wait_for_function("([img, old]) => img.src !== old && img.complete && img.naturalWidth > 300",
                           arg=[chart.element_handle(), src])
    panel.screenshot(path=str(ARTIFACTS / "lab-panel-statistics.png"))
    assert service.api_key not in page.content()


def test_jupyterlab_has_the_grid_and_widgets_extensions():
    """The grid's JupyterLab extension comes prebuilt with the ``widgets`` extra (nothing to build)."""
    out = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "NO_COLOR": "1"})
    lines = {line.split()[0]: line for line in (out.stdout + out.stderr).splitlines() if line.strip() and
             line.startswith(" ")}
    for name in ("ipydatagrid", "@jupyter-widgets/jupyterlab-manager"):
        assert name in lines and "enabled" in lines[name] and "OK" in lines[name], out.stdout + out.stderr
