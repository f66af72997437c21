"""The annotation figure, rendered with Agg: its bars, histograms and heatmaps hold the frame's numbers."""
from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from PIL import Image

import aion_pandas  # noqa: F401  (registers df.aion)
from aion_pandas.plots_annotations import GRID_BINS, PANELS

from .helpers import CLEAN, frame_of


def bars(ax) -> list[float]:
    return [p.get_width() for p in ax.patches]


def tick_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_yticklabels()]


def test_four_panels_whose_data_is_the_frame(clean_frame):
    assert matplotlib.get_backend().lower() == "agg"
    fig = clean_frame.aion.plot()
    assert [ax.get_title() for ax in fig.axes] == list(PANELS)
    classes, per_image, size, centres = fig.axes
    # boxes per class, most on top: cat 2, owl 2 (ties keep the class order), dog 1
    assert tick_labels(classes) == ["cat", "owl", "dog"] and bars(classes) == [2, 2, 1]
    assert classes.get_ylim()[0] > classes.get_ylim()[1]  # inverted: the first bar on top
    assert [t.get_text() for t in classes.texts] == ["2", "2", "1"]
    # boxes per image: c.jpg 0, b.jpg 2, a.jpg 3
    assert [p.get_height() for p in per_image.patches] == [1, 0, 1, 1]
    assert [p.get_x() + p.get_width() / 2 for p in per_image.patches] == pytest.approx([0, 1, 2, 3])
    edges = np.linspace(0, 1, GRID_BINS + 1)
    # relative sizes (w/W, h/H): (0.3, 0.25) twice, (0.5, 0.5), (0.1, 0.1), (0.05, 0.1); rows are h
    want, _, _ = np.histogram2d([0.25, 0.25, 0.5, 0.1, 0.1], [0.3, 0.3, 0.5, 0.1, 0.05], bins=[edges, edges])
    grid = size.collections[0].get_array()
    assert grid.shape == (GRID_BINS, GRID_BINS) and grid.filled(0).tolist() == want.tolist()
    assert grid.sum() == 5 and grid.max() == 2
    # centres (cx, cy): a.jpg (0.25, 0.25), (0.75, 0.75), (0.27, 0.625); b.jpg (0.05, 0.05), (0.775, 0.55)
    want, _, _ = np.histogram2d([0.25, 0.75, 0.625, 0.05, 0.55], [0.25, 0.75, 0.27, 0.05, 0.775], bins=[edges, edges])
    heat = centres.collections[0].get_array()
    assert heat.filled(0).tolist() == want.tolist() and heat.sum() == 5
    assert centres.get_ylim() == (1.0, 0.0)  # the image's top on top


def test_titled_with_the_source_never_a_url_query(clean_frame):
    clean_frame.attrs["source"] = "http://127.0.0.1:1/exports/e1/instances.json?expires=1&signature=abc"
    title = clean_frame.aion.plot()._suptitle.get_text()
    assert title == "instances.json: 3 images, 5 boxes" and "signature" not in title
    clean_frame.attrs["source"] = "/data/exports/labels.zip"
    assert clean_frame.aion.plot()._suptitle.get_text() == "labels.zip: 3 images, 5 boxes"
    del clean_frame.attrs["source"]
    assert clean_frame.aion.plot()._suptitle.get_text() == "3 images, 5 boxes"


def test_a_long_tail_of_classes_stays_readable():
    names = [f"c{k:02d}" for k in range(40)]
    counts = [2000] + [1] * 39   # one class has 2000x the others
    rows = [(1 + i // 50, f"{i // 50}.jpg", 1000, 1000, names[k], float(i % 50), 0.0, 5.0, 5.0, None)
            for i, k in enumerate(k for k, n in enumerate(counts) for _ in range(n))]
    fig = frame_of(rows, classes=names).aion.plot(max_classes=25)
    classes = fig.axes[0]
    assert len(classes.patches) == 25 and bars(classes)[0] == 2000 and bars(classes)[-1] == 39 - 23
    assert tick_labels(classes)[-1] == "(16 more classes)"
    assert classes.get_xscale() == "log"
    fig = frame_of(CLEAN).aion.plot()
    assert fig.axes[0].get_xscale() == "linear"


def test_by_a_column_overlays_the_groups(clean_frame):
    clean_frame["split"] = ["train", "train", "train", "val", "val", "val"]
    fig = clean_frame.aion.plot(by="split")
    assert fig._suptitle.get_text().endswith(", by split")
    classes, per_image, size, *centres = fig.axes
    train = [p.get_width() for p in classes.patches[:3]]
    val = [p.get_width() for p in classes.patches[3:]]
    assert tick_labels(classes) == ["cat", "owl", "dog"]
    assert train == pytest.approx([200 / 3, 0, 100 / 3]) and val == pytest.approx([0, 100, 0])  # % of the group
    assert [t.get_text() for t in classes.get_legend().get_texts()] == ["train", "val"]
    steps = [a for a in per_image.patches]
    values = [s.get_data().values.tolist() for s in steps]
    assert values == [[0, 0, 0, 1], [0.5, 0, 0.5, 0]]   # train: a.jpg 3 boxes; val: c.jpg 0, b.jpg 2
    assert [len(c.get_offsets()) for c in size.collections] == [3, 2]
    assert [ax.get_title() for ax in centres] == ["centres: train", "centres: val"]
    assert [ax.collections[0].get_array().sum() for ax in centres] == [3, 2]
    fig = clean_frame.aion.plot(by="dataset_id")
    assert len(fig.axes) == 4 and fig.axes[3].get_title() == PANELS[3]   # one group: the plain figure


def test_by_refuses_what_it_cannot_draw(clean_frame):
    with pytest.raises(ValueError, match="by='split' is not a column"):
        clean_frame.aion.plot(by="split")
    seven = frame_of(CLEAN + [CLEAN[0]])
    seven["many"] = range(7)
    with pytest.raises(ValueError, match="by='many' has 7 groups; at most 6 can be compared"):
        seven.aion.plot(by="many")
    assert len(seven.iloc[:6].aion.plot(by="many").axes) == 3 + 6   # six: one centre heatmap each


def test_a_frame_without_boxes_says_so():
    images_only = frame_of([(1, "a.jpg", 10, 10, None, None, None, None, None, None)], classes=["cat"])
    for frame in (images_only, frame_of([], classes=[])):
        fig = frame.aion.plot()
        assert "no boxes" in [t.get_text() for t in fig.texts] and fig.axes == []
        fig.savefig(io.BytesIO(), format="png")   # and it draws


def test_the_figure_renders_without_overlapping_panels(clean_frame, tmp_path):
    fig = clean_frame.aion.plot()
    fig.savefig(tmp_path / "a.png", dpi=80)
    assert Image.open(tmp_path / "a.png").size == (520, 480)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)


def test_boxes_of_images_without_a_size_are_left_out_of_the_relative_panels():
    frame = frame_of(CLEAN + [(4, "d.jpg", None, None, "cat", 0.0, 0.0, 5.0, 5.0, None)])
    fig = frame.aion.plot()
    assert sum(bars(fig.axes[0])) == 6                                   # counted
    assert fig.axes[2].collections[0].get_array().sum() == 5             # not placed
    assert fig.axes[3].collections[0].get_array().sum() == 5
    assert np.isclose(sum(p.get_height() for p in fig.axes[1].patches), 4)  # 4 images
