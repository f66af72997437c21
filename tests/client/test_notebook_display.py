"""In a real Jupyter kernel: ``stats.plot()`` shows one PNG (not twice, not as text) and ``stats`` an HTML view."""
from __future__ import annotations

import base64
import os
import struct

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

CELL = '''from aion_pandas.records import Statistics
stats = Statistics.from_api({
    "dataset_statistics": {"total_datasets": 3, "by_status": {"ready": 2, "failed": 1}},
    "export_statistics": {"total_exports": 4, "by_format": {
        "csv": {"count": 3, "total_size": 2500000, "avg_export_time_seconds": 0.5},
        "coco": {"count": 1, "total_size": 900000, "avg_export_time_seconds": 1.5}}},
    "popular_formats": [{"format": "csv", "usage_count": 3}, {"format": "coco", "usage_count": 1}],
    "period": {"since": "2025-01-01T00:00:00Z", "until": "2025-01-31T00:00:00Z"}})
stats.plot()'''


def test_plot_and_html_view_in_a_kernel(monkeypatch):
    monkeypatch.delenv("MPLBACKEND")  # the kernel picks Jupyter's inline backend, as in a user's notebook
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL), nbformat.v4.new_code_cell("stats")]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                          resources={"metadata": {"path": os.getcwd()}}).execute()
    plot_outputs, html_outputs = nb.cells[0].outputs, nb.cells[1].outputs
    assert len(plot_outputs) == 1 and "image/png" in plot_outputs[0]["data"]  # shown once, as an image
    png = base64.b64decode(plot_outputs[0]["data"]["image/png"])
    width, height = struct.unpack(">II", png[16:24])
    assert 400 <= width <= 800 and height < width  # fits a narrow cell
    html = html_outputs[0]["data"]["text/html"]
    assert "Dataset statistics" in html and "2025-01-01 – 2025-01-31 (30 days)" in html
    assert "3 datasets" in html and "<table" in html
