"""FiftyOne's own YOLOv5 importer reads our YOLO zips to the same boxes, and we read its exports."""
from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aion_pandas.formats import LossyConversionWarning
from aion_pandas.formats.yolo import read_yolo, write_yolo

from .helpers import fiftyone_export

pytestmark = pytest.mark.fiftyone


@pytest.fixture(scope="module")
def fo():
    import fiftyone

    return fiftyone



def test_fiftyone_yolov5_importer_reads_our_zip_to_the_same_boxes(fo, sample_frame, tmp_path):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)
        write_yolo(sample_frame, buf)
    with zipfile.ZipFile(buf) as archive:
        archive.extractall(tmp_path)  # our own zip, in a test
    manifest = pd.read_csv(tmp_path / "manifest.csv")
    for row in manifest.itertuples():  # FiftyOne pairs images/<stem>.<ext> with labels/<stem>.txt
        stem = row.label_file[len("labels/"):-len(".txt")]
        image = tmp_path / "images" / (stem + Path(row.file_name).suffix)
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(b"")
    dataset = fo.Dataset.from_dir(dataset_dir=str(tmp_path), dataset_type=fo.types.YOLOv5Dataset,
                                  yaml_path="data.yaml", split="val", include_all_data=True,
                                  label_field="gt")
    try:
        assert len(dataset) == 3  # the image without boxes is a sample too
        classes = dataset.classes.get("gt") or dataset.default_classes or dataset.info.get("classes")
        assert classes == ["cat", "chien", "root", "自転車"]
        by_image = {Path(r.label_file).relative_to("labels").with_suffix("").as_posix(): r
                    for r in manifest.itertuples()}
        seen = 0
        for sample in dataset:
            stem = Path(sample.filepath).relative_to((tmp_path / "images").resolve()).with_suffix("")
            row = by_image[stem.as_posix()]
            ours = sample_frame[(sample_frame["file_name"] == row.file_name) & sample_frame["x"].notna()]
            dets = sample.gt.detections if sample.gt is not None else []
            assert len(dets) == len(ours), row.file_name
            theirs = [(d.label, d.bounding_box[0] * row.width, d.bounding_box[1] * row.height,
                       d.bounding_box[2] * row.width, d.bounding_box[3] * row.height, d.confidence)
                      for d in dets]
            for mine, their in zip(ours.itertuples(), theirs):  # same order: the file's order
                assert mine.category == their[0]
                assert np.allclose([mine.x, mine.y, mine.w, mine.h], their[1:5], atol=1e-3)
                assert their[5] == pytest.approx(mine.score, abs=1e-6)
            seen += len(dets)
        assert seen == 5
    finally:
        dataset.delete()


def test_we_read_fiftyone_yolov5_exports_to_the_same_boxes(fo, tmp_path):
    sizes = {"a.png": (200, 100), "sub/b.png": (64, 48), "c.png": (30, 30)}
    boxes = {"a.png": [("dog", [0.1, 0.2, 0.3, 0.4]), ("cat", [0.5, 0.5, 0.25, 0.5])],
             "sub/b.png": [("dog", [0.0, 0.0, 1.0, 1.0])], "c.png": []}
    out = fiftyone_export(fo, tmp_path, sizes, boxes, fo.types.YOLOv5Dataset, split="val",
                          classes=["cat", "dog"])
    frame = read_yolo(out)
    assert sorted(frame["file_name"].unique()) == ["val/a.png", "val/b.png", "val/c.png"]
    for name, dets in boxes.items():
        width, height = sizes[name]
        rows = frame[frame["file_name"] == "val/" + Path(name).name]
        assert rows["width"].unique().tolist() == [width]
        got = sorted((r.category, round(r.x, 3), round(r.y, 3), round(r.w, 3), round(r.h, 3))
                     for r in rows.itertuples() if not pd.isna(r.x))
        want = sorted((label, round(b[0] * width, 3), round(b[1] * height, 3),
                       round(b[2] * width, 3), round(b[3] * height, 3)) for label, b in dets)
        assert got == want
    assert sorted(frame["category"].cat.categories) == ["cat", "dog"]
