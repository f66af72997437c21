"""Long calls in the panel: progress shown step by step, Cancel, and the summary of a loaded frame."""
from __future__ import annotations

import pandas as pd
import pytest

from aion_pandas.client import Client
from aion_pandas.widgets import panel as make_panel


def _ready(panel) -> list[dict]:
    return sorted((r for r in panel.state.rows if r["status"] == "ready"), key=lambda r: -r["successful_items"])


def _texts(panel) -> list[str]:
    """Every progress line the panel shows while it works (recorded as the state changes)."""
    seen: list[str] = []
    panel.state.observe(lambda ch: seen.append(ch.new) if ch.new else None, "progress_text")
    return seen


@pytest.fixture
def own_panel(service, tmp_path):
    """A panel whose client has a cache of its own (so files left behind can be counted)."""
    with Client(service.api_key, service.base_url, max_retries=1, cache_dir=tmp_path / "cache") as client:
        p = make_panel(client)
        assert p.wait_idle(60)
        yield p, client
        p.close()


def _files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_load_shows_each_step_then_the_annotation_summary(own_panel):
    panel, client = own_panel
    ready = _ready(panel)[0]
    texts = _texts(panel)
    panel.state.selected_ids = [ready["id"]]
    panel.state.export_format = "coco"
    panel.view.control("load").click()
    assert panel.state.busy and panel.view.control("cancel").layout.visibility == "visible"
    assert panel.wait_idle(60) and panel.state.error == ""
    assert any(t.startswith(f"downloading {ready['name']}: ") and " of " in t for t in texts)  # bytes of bytes
    assert [t.split(" ")[0] for t in texts if not t.startswith("downloading ")] == ["exporting", "reading", "summarizing"]
    assert not panel.state.busy and panel.view.control("cancel").layout.visibility == "hidden"
    frame = panel.frame
    summary = panel.view.control("frame-summary").value
    assert f"Loaded: {ready['name']} (coco)" in summary
    counts = frame["category"].value_counts()
    top = counts.index[0]
    assert f"<th>{top}</th>" in summary and f"<td>{counts.iloc[0]}</td>" in summary  # the class counts
    chart = bytes(panel.view.control("frame-chart").value)
    assert chart.startswith(b"\x89PNG") and panel.view.control("frame-chart").layout.display is None


def test_cancel_during_the_download_leaves_no_file(own_panel):
    panel, client = own_panel
    ready = _ready(panel)[0]
    cache = client.cache_dir / "downloads"
    before = _files(cache)

    def press_cancel(change):
        if change.new.startswith("downloading "):
            panel.view.control("cancel").click()

    panel.state.observe(press_cancel, "progress_text")
    panel.state.selected_ids = [ready["id"]]
    panel.view.control("load").click()
    assert panel.wait_idle(60)
    assert panel.state.message.startswith("Cancelled") and panel.frame is None and panel.state.error == ""
    assert _files(cache) == before          # neither the file nor a partial one
    assert not panel.state.busy and not panel.state.cancelling
    # the next call runs as usual
    panel.state.unobserve(press_cancel, "progress_text")
    panel.view.control("load").click()
    assert panel.wait_idle(60) and panel.frame is not None


def test_cancel_between_exports_starts_no_more(own_panel):
    panel, client = own_panel
    first, second = _ready(panel)[:2]
    counts = {r["id"]: client.datasets.get(r["id"]).export_count for r in (first, second)}
    panel.state.observe(lambda ch: len(ch.new) == 1 and panel.controller.cancel(), "exports")
    panel.state.selected_ids = [first["id"], second["id"]]
    panel.view.control("export").click()
    assert panel.wait_idle(60)
    assert [r["dataset_id"] for r in panel.state.exports] == [first["id"]]
    assert client.datasets.get(first["id"]).export_count == counts[first["id"]] + 1
    assert client.datasets.get(second["id"]).export_count == counts[second["id"]]
    assert panel.state.message.startswith("Cancelled: exported 1 of 2")


def test_closing_the_panel_cancels_its_running_call(own_panel):
    panel, client = own_panel
    ready = _ready(panel)[0]
    panel.state.observe(lambda ch: ch.new.startswith("downloading ") and panel.close(), "progress_text")
    panel.state.selected_ids = [ready["id"]]
    panel.controller.load()
    assert panel.wait_idle(60)
    assert panel.frame is None and _files(client.cache_dir / "downloads") == []


def test_load_of_two_selected_datasets_gives_one_frame_of_both(own_panel, select_rows):
    panel, client = own_panel
    first, second = _ready(panel)[:2]
    select_rows(panel, [first["id"], second["id"]])
    assert panel.state.selected_ids == [first["id"], second["id"]]
    panel.state.export_format = "yolo"
    panel.view.control("load").click()
    assert panel.wait_idle(60) and panel.state.error == ""
    frame = panel.frame
    per_dataset = frame.groupby("dataset_id", observed=True)["image_id"].nunique()
    assert per_dataset.to_dict() == {first["id"]: first["successful_items"], second["id"]: second["successful_items"]}
    assert frame.attrs["format"] == "yolo" and isinstance(frame["category"].dtype, pd.CategoricalDtype)
    assert "Loaded: 2 datasets (yolo)" in panel.view.control("frame-summary").value
    images = first["successful_items"] + second["successful_items"]
    assert f"{images:,} images" in panel.state.message


@pytest.mark.fiftyone
@pytest.mark.slow
def test_cancel_while_fetching_images_for_fiftyone_opens_nothing_and_leaves_whole_images(own_panel):
    pytest.importorskip("fiftyone")
    from aion_pandas.image_cache import image_cache_dir

    panel, client = own_panel
    ready = _ready(panel)[0]
    texts = _texts(panel)

    def press_cancel(change):
        if change.new.startswith("fetching images: 1 of"):
            panel.controller.cancel()

    panel.state.observe(press_cancel, "progress_text")
    panel.state.selected_ids = [ready["id"]]
    panel.view.control("fiftyone").click()
    assert panel.wait_idle(120)
    assert panel.state.message.startswith("Cancelled") and panel.controller.fiftyone_session is None
    assert any(t.startswith("fetching images of ") for t in texts)
    fetched = [p for p in image_cache_dir(client).rglob("*") if p.is_file()]
    assert 1 <= len(fetched) < ready["successful_items"]       # stopped part-way
    assert not [p for p in fetched if p.name.startswith(".part-")]
