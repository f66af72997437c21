"""The panel in a real browser: notebooks/panel.ipynb served by Voilà, driven by headless Chromium.

Screenshots go to ``artifacts/`` (gitignored) for a person to look at.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "panel.ipynb"
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"voila exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url + "/__ping__", timeout=2)
            return
        except urllib.error.HTTPError:  # a 404 means the server answers (without running the notebook)
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("voila did not come up")


@pytest.fixture
def voila(service, tmp_path):
    """Voilà serving notebooks/panel.ipynb on a free loopback port, configured for the test service."""
    port = _free_port()
    env = {**os.environ, "AIONVISION_BASE_URL": service.base_url, "AIONVISION_API_KEY": service.api_key,
           "MPLBACKEND": "Agg", "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = open(tmp_path / "voila.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={port}",
                             "--Voila.ip=127.0.0.1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url, proc)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
        print((tmp_path / "voila.log").read_text(errors="replace")[-3000:])


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="aion-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1200, "height": 1500})
            context.route("**/*", lambda route: route.continue_()
                          if route.request.url.startswith(("http://127.0.0.1", "blob:", "data:"))
                          else route.abort())
            try:
                yield context.new_page()
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_select_export_yolo_download_and_statistics_in_chromium(voila, page, service):
    from aion_pandas.client import Client

    ARTIFACTS.mkdir(exist_ok=True)
    with Client(service.api_key, service.base_url) as client:
        ready = max(client.datasets.list(status="ready").auto_paging_iter(), key=lambda d: d.successful_items)
        before = client.datasets.get(ready.id).export_count

    page.set_default_timeout(60_000)
    page.goto(voila + "/", wait_until="commit")
    row = page.locator(f".aion-table tr[data-id='{ready.id}']")
    row.wait_for()                                                     # the table filled in the background
    page.locator(".aion-panel").screenshot(path=str(ARTIFACTS / "panel-datasets.png"))

    option = page.locator(f".aion-dataset-select option[value$='{ready.id}']")
    page.locator(".aion-dataset-select select").select_option(value=option.get_attribute("value"))
    page.locator(".aion-details").get_by_text(ready.batch_id, exact=False).wait_for()
    page.locator(".aion-export-format select").select_option(label="YOLO")
    page.locator("button.aion-export").click()

    link = page.locator(".aion-export-result a.aion-download")
    link.wait_for()
    href = link.get_attribute("href")
    assert href and "/exports/" in href and "signature=" in href
    answer = page.context.request.get(href)                            # the link works without a key
    assert answer.status == 200 and answer.body()[:2] == b"PK"         # a YOLO zip
    # the table follows: one more export, the latest one YOLO
    page.locator(f".aion-table tr[data-id='{ready.id}'] td:nth-child(5)").get_by_text(
        str(before + 1), exact=True).wait_for()
    assert "yolo" in row.inner_text()
    assert service.api_key not in page.content()
    page.locator(".aion-panel").screenshot(path=str(ARTIFACTS / "panel-exported.png"))

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
    new_row = page.locator(".aion-table tr", has_text="made in Chromium")
    new_row.locator(".aion-status-ready").wait_for()
    assert page.locator(".aion-details").get_by_text("created by the browser test").is_visible()

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
