"""``aion.read_export(path, engine="dask")``: one large export split where its format allows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aion_pandas as aion
from aion_pandas.dask_frames import partitions_of
from aion_pandas.errors import FormatError
from aion_pandas.export_parts import csv_ranges, export_parts
from aion_pandas.formats import parse_csv, read_export, validate_frame, write_export

from dask_helpers import sorted_rows


def _frame(n_images: int = 300, seed: int = 7) -> pd.DataFrame:
    """A canonical frame made here: 0-3 boxes per image, descriptions with newlines, quotes and
    delimiters in them."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(1, n_images + 1):
        text = f'image {i}\n"quoted", a second line\nand a third' if i % 3 else f"plain {i}"
        for k in range(int(rng.integers(0, 4))):
            rows.append({"image_id": i, "file_name": f"img_{i:05d}.jpg", "width": 640, "height": 480,
                         "description": text, "category": ["cat", "dog", "person"][k % 3],
                         "x": float(k), "y": 2.0, "w": 10.0 + k, "h": 5.0})
        if not any(r["image_id"] == i for r in rows[-3:]):
            rows.append({"image_id": i, "file_name": f"img_{i:05d}.jpg", "width": 640, "height": 480,
                         "description": text, "category": None, "x": None, "y": None, "w": None, "h": None})
    return validate_frame(pd.DataFrame(rows))


def _plain(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame[columns].astype({"category": "string"})
    out["dataset_id"] = pd.array([pd.NA] * len(out), dtype="string")
    return sorted_rows(out)


def test_a_csv_is_cut_between_images_and_never_inside_a_quoted_value(tmp_path):
    path = tmp_path / "labels.csv"
    write_export(_frame(), path, "csv")
    data = path.read_bytes()
    assert b'\n"quoted""' in data or b'""quoted""' in data  # the writer quoted the newlines
    header_end, ranges = csv_ranges(path, blocksize=4096)
    assert len(ranges) > 5 and ranges[0][0] == header_end and ranges[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    whole = read_export(path)
    seen: set[int] = set()
    for start, stop in ranges:  # every range parses alone, and holds whole images
        part = parse_csv(data[:header_end] + data[start:stop])
        ids = set(part["image_id"])
        assert not ids & seen
        seen |= ids
        for image_id in ids:
            assert (part["image_id"] == image_id).sum() == (whole["image_id"] == image_id).sum()
    assert seen == set(whole["image_id"])


def test_a_csv_read_with_dask_equals_the_pandas_read(tmp_path):
    path = tmp_path / "labels.csv"
    write_export(_frame(), path, "csv")
    whole = read_export(path)
    lazy = aion.read_export(str(path), engine="dask", blocksize=8192)
    assert lazy.npartitions > 3
    assert all(isinstance(r, tuple) for r in partitions_of(lazy)["part"])
    computed = lazy.compute()
    pd.testing.assert_frame_equal(_plain(computed, list(whole.columns)), _plain(whole, list(whole.columns)))


def test_a_csv_without_image_ids_is_one_partition(tmp_path):
    path = tmp_path / "no_ids.csv"
    path.write_text("file_name,category,x,y,w,h\n" + "".join(f"a{i}.jpg,cat,1,2,3,4\n" for i in range(500)))
    assert len(export_parts(path, blocksize=256)) == 1


@pytest.mark.parametrize("fmt", ["yolo", "pascal_voc"])
def test_a_zip_is_read_in_runs_of_images(tmp_path, fmt):
    path = tmp_path / f"export_{fmt}.zip"
    write_export(_frame(120).drop(columns=["description"]), path, fmt)
    whole = read_export(path, format=fmt)
    lazy = aion.read_export(path, engine="dask", npartitions=4)
    assert lazy.npartitions == 4 and partitions_of(lazy)["part"].tolist() == [(k, 4) for k in range(4)]
    computed = lazy.compute()
    pd.testing.assert_frame_equal(_plain(computed, list(whole.columns)), _plain(whole, list(whole.columns)))
    assert set(computed["category"].cat.categories) == set(whole["category"].cat.categories)


def test_coco_is_one_partition_per_file(tmp_path):
    path = tmp_path / "instances.json"
    write_export(_frame(50), path, "coco")
    lazy = aion.read_export(path, engine="dask", blocksize=64)
    assert lazy.npartitions == 1
    whole = read_export(path)
    pd.testing.assert_frame_equal(_plain(lazy.compute(), list(whole.columns)), _plain(whole, list(whole.columns)))


def test_a_bad_row_is_named_with_its_part(tmp_path):
    path = tmp_path / "bad.csv"
    write_export(_frame(200), path, "csv")
    text = path.read_text()
    path.write_text(text + ",999,x.jpg,640,480,,cat,,1,2,-5,4,\n")
    lazy = aion.read_export(path, engine="dask", blocksize=4096)
    with pytest.raises(FormatError, match=r"bad\.csv bytes \d+-\d+.*negative box size"):
        lazy.compute()
