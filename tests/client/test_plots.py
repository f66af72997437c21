"""The statistics chart, rendered with Agg: bar heights equal the statistics, titles and units are there."""
from __future__ import annotations

import matplotlib
import pytest

import aion_pandas as aion
from aion_pandas.plots import PANELS


@pytest.fixture
def stats(client):
    return aion.statistics(days=30, client=client)


def test_one_figure_with_four_panels_whose_bars_are_the_statistics(stats):
    assert matplotlib.get_backend().lower() == "agg"
    fig = stats.plot()
    assert [ax.get_title() for ax in fig.axes] == list(PANELS)
    heights = [[bar.get_height() for bar in ax.patches] for ax in fig.axes]
    assert heights[0] == [float(v) for v in stats.by_status["count"]]
    assert heights[1] == [float(v) for v in stats.by_format["count"]]
    assert heights[2] == pytest.approx([v / 1e6 for v in stats.by_format["total_size"]])
    assert heights[3] == pytest.approx([float(v) for v in stats.by_format["avg_export_time_seconds"]])
    assert sum(heights[1]) == stats.total_exports > 0 and sum(heights[0]) == stats.total_datasets
    ticks = [[t.get_text() for t in ax.get_xticklabels()] for ax in fig.axes]
    assert ticks[0] == ["pending", "processing", "ready", "failed"]
    assert ticks[1] == ["CSV", "COCO", "YOLO", "Pascal VOC"]


def test_titled_with_the_period_and_labelled_with_units(stats):
    fig = stats.plot()
    title = fig._suptitle.get_text()
    assert stats.since.strftime("%Y-%m-%d") in title and stats.until.strftime("%Y-%m-%d") in title
    assert "30 days" in title
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels == ["datasets (count)", "exports (count)", "volume (MB)", "time per export (s)"]
    width, height = fig.get_size_inches()
    assert 6 <= width <= 7 and height <= 6  # fits a narrow notebook cell


def test_renders_to_png_without_overlap(stats, tmp_path):
    fig = stats.plot()
    fig.savefig(tmp_path / "stats.png", dpi=80)
    assert (tmp_path / "stats.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]  # titles, labels and tick labels included
    for i, a in enumerate(boxes):  # constrained layout keeps the four panels apart
        for b in boxes[i + 1:]:
            assert not a.overlaps(b)
    title = fig._suptitle.get_window_extent(renderer)
    assert title.x0 >= 0 and title.x1 <= fig.bbox.width  # the title fits the width


def test_empty_statistics_still_plot(tmp_path):
    from aion_pandas.records import Statistics
    empty = Statistics.from_api({"dataset_statistics": {"by_status": {}}, "export_statistics": {"by_format": {}},
                                 "popular_formats": [], "period": {"since": "2025-01-01T00:00:00Z",
                                                                   "until": "2025-01-31T00:00:00Z"}})
    fig = empty.plot()
    assert all(bar.get_height() == 0 for ax in fig.axes for bar in ax.patches)
    assert "30 days" in fig._suptitle.get_text()
