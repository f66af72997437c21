"""The FiftyOne App, served on loopback by launch_app, opened in a real headless Chromium.

The test saves ``artifacts/fiftyone-app.png`` for a person to look at.
"""
from __future__ import annotations

import tempfile

import pytest
from browser_support import ARTIFACTS, free_port, open_chromium, require_chromium

import aion_pandas as aion

fo = pytest.importorskip("fiftyone")
pytestmark = [pytest.mark.fiftyone, pytest.mark.browser]


def test_app_shows_every_sample_of_a_small_dataset(coco_export, fo_client, tmp_path):
    require_chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    frame = aion.read_export(coco_export.path)
    first_ids = sorted(frame["image_id"].unique())[:6]
    small = frame[frame["image_id"].isin(first_ids)]
    dataset = aion.to_fiftyone(small, client=fo_client, cache_dir=tmp_path / "cache", name="app-small")
    assert len(dataset) == 6

    port = free_port()
    session = aion.launch_app(dataset, remote=True, port=port, address="127.0.0.1", auto=False)
    try:
        with sync_api.sync_playwright() as pw:
            context = open_chromium(pw, tempfile.mkdtemp(prefix="chromium-", dir=tmp_path),
                                    {"width": 1280, "height": 800})
            try:
                context.add_init_script("window.IS_PLAYWRIGHT = true;")
                page = context.pages[0] if context.pages else context.new_page()
                page.goto(f"http://127.0.0.1:{port}/datasets/app-small", wait_until="commit",
                          timeout=60_000)
                page.wait_for_selector("[data-cy=fo-grid]", timeout=90_000)
                page.wait_for_function("document.querySelectorAll('[data-cy=looker]').length >= 6",
                                       timeout=90_000)
                page.wait_for_timeout(1500)  # the canvases draw after the grid lays out
                lookers = page.locator("[data-cy=looker]").count()
                body = page.inner_text("body")
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "fiftyone-app.png"))
            finally:
                context.close()
    finally:
        session.close()
    assert lookers == len(dataset)
    assert f"{len(dataset)} samples" in body
    for field in ("ground_truth", "aion_dataset_id", "image_id", "description"):
        assert field in body  # the sidebar lists the fields to_fiftyone made
