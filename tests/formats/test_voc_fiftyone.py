"""FiftyOne's own VOC importer reads our VOC zips to the same boxes (within one pixel of the
frame we wrote, exactly what we read back), and we read its VOC exports to the same boxes."""
from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aion_pandas.formats import LossyConversionWarning
from aion_pandas.formats.voc import read_voc, write_voc

from .helpers import fiftyone_export

pytestmark = pytest.mark.fiftyone


@pytest.fixture(scope="module")
def fo():
    import fiftyone

    return fiftyone



@pytest.mark.parametrize("one_based", [False, True])
def test_fiftyone_voc_importer_reads_our_zip_within_one_pixel(fo, sample_frame, tmp_path, one_based):
    frame = sample_frame.copy()
    frame["difficult"] = pd.array([True, False, None, False, False, True], dtype="boolean")
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)
        write_voc(frame, buf, one_based=one_based)
    ours = read_voc(buf.getvalue(), one_based=one_based)
    with zipfile.ZipFile(buf) as archive:
        archive.extractall(tmp_path / "zip")  # our own zip, in a test
    manifest = pd.read_csv(tmp_path / "zip" / "manifest.csv")
    for row in manifest.itertuples():  # FiftyOne pairs data/<stem>.* with labels/<stem>.xml
        stem = row.label_file[len("Annotations/"):-len(".xml")]
        image = tmp_path / "data" / (stem + Path(row.file_name).suffix)
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(b"")
    dataset = fo.Dataset.from_dir(dataset_type=fo.types.VOCDetectionDataset,
                                  data_path=str(tmp_path / "data"),
                                  labels_path=str(tmp_path / "zip" / "Annotations"),
                                  include_all_data=True, label_field="gt")
    try:
        assert len(dataset) == 3
        by_stem = {r.label_file[len("Annotations/"):-len(".xml")]: r for r in manifest.itertuples()}
        seen = 0
        for sample in dataset:
            stem = Path(sample.filepath).relative_to((tmp_path / "data").resolve()).with_suffix("")
            row = by_stem[stem.as_posix()]
            assert (sample.metadata.width, sample.metadata.height) == (row.width, row.height)
            dets = sample.gt.detections if sample.gt is not None else []
            theirs = np.array([[d.bounding_box[0] * row.width, d.bounding_box[1] * row.height,
                                d.bounding_box[2] * row.width, d.bounding_box[3] * row.height]
                               for d in dets]).reshape(-1, 4)
            written = frame[(frame["file_name"] == row.file_name) & frame["x"].notna()]
            read = ours[(ours["file_name"] == row.file_name) & ours["x"].notna()]
            assert [d.label for d in dets] == written["category"].astype(str).tolist()
            assert [bool(d["difficult"]) for d in dets] == written["difficult"].tolist()
            boxes = written[["x", "y", "w", "h"]].to_numpy(dtype=float)
            back = read[["x", "y", "w", "h"]].to_numpy(dtype=float)
            assert np.abs(back - boxes).max(initial=0) <= 1.0             # our round trip
            if one_based:  # FiftyOne counts from 0: it sees the devkit's boxes one pixel off
                assert np.abs(theirs - back).max(initial=0) <= 1.0 + 1e-9
            else:          # the same convention: exactly what we read
                assert np.abs(theirs - back).max(initial=0) <= 1e-9
                assert np.abs(theirs - boxes).max(initial=0) <= 1.0
            seen += len(dets)
        assert seen == 5
    finally:
        dataset.delete()


def test_we_read_fiftyone_voc_exports_to_the_same_boxes(fo, tmp_path):
    sizes = {"a.png": (200, 100), "b.png": (64, 48), "c.png": (30, 30)}
    # (a name with "&" would not do: FiftyOne writes it unescaped, which is not XML)
    boxes = {"a.png": [("dog", [0.1, 0.2, 0.3, 0.4]), ("chat été", [0.5, 0.5, 0.25, 0.5])],
             "b.png": [("dog", [0.0, 0.0, 1.0, 1.0])], "c.png": []}
    out = fiftyone_export(fo, tmp_path, sizes, boxes, fo.types.VOCDetectionDataset)
    frame = read_voc(out)
    for name, dets in boxes.items():
        width, height = sizes[name]
        rows = frame[(frame["file_name"] == name) & frame["x"].notna()]
        got = sorted((r.category, r.x, r.y, r.w, r.h) for r in rows.itertuples())
        want = sorted((label, b[0] * width, b[1] * height, b[2] * width, b[3] * height)
                      for label, b in dets)
        assert [g[0] for g in got] == [w[0] for w in want]
        assert np.abs(np.array([g[1:] for g in got]) - np.array([w[1:] for w in want])
                      ).max(initial=0) <= 1.0
    assert frame["width"].tolist() == [200, 200, 64, 30]        # c.png: one row, no box
    assert frame["x"].isna().tolist() == [False, False, False, True]
