"""``aion.to_fiftyone(dask_frame)``: one partition computed at a time, its samples added in turn."""
from __future__ import annotations

import warnings

import pytest

import aion_pandas as aion
from aion_pandas.formats import read_export, write_export

from test_read_export import _frame

fo = pytest.importorskip("fiftyone")
pytestmark = [pytest.mark.fiftyone, pytest.mark.slow]


class _Reads:
    """Counts, per graph Dask computes, the export parts it reads."""

    def __init__(self) -> None:
        self.per_compute: list[int] = []

    def callback(self):
        from dask.callbacks import Callback
        outer = self

        class Count(Callback):
            def _start(self, dsk):
                outer.per_compute.append(sum("aion-read" in str(key) for key in dsk))
        return Count()


def test_a_dask_frame_becomes_the_same_dataset_partition_by_partition(tmp_path):
    path = tmp_path / "export_yolo.zip"
    write_export(_frame(90).drop(columns=["description"]), path, "yolo")
    lazy = aion.read_export(path, engine="dask", npartitions=3)
    whole = read_export(path)
    reads = _Reads()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no pixels here: samples kept, named missing
        with reads.callback():
            dataset = aion.to_fiftyone(lazy, name="dask-parts", images_dir=tmp_path / "images")
        reference = aion.to_fiftyone(whole, name="pandas-whole", images_dir=tmp_path / "images")
    try:
        assert reads.per_compute == [1, 1, 1]  # three computes, one partition each
        assert len(dataset) == len(reference) == whole["image_id"].nunique()
        assert dataset.count("ground_truth.detections") == reference.count("ground_truth.detections") \
            == int(whole["x"].notna().sum())
        assert sorted(dataset.distinct("ground_truth.detections.label")) == \
            sorted(reference.distinct("ground_truth.detections.label"))
        assert sorted(dataset.default_classes) == sorted(reference.default_classes)
        assert sorted(dataset.values("filepath")) == sorted(reference.values("filepath"))
    finally:
        dataset.delete()
        reference.delete()
