"""manifest.csv and the helpers that put image columns onto the frame's rows (formats/manifest.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from aion_pandas.formats.manifest import assemble, row_layout


@pytest.mark.parametrize("values", [
    ["a", None, "bc"],
    [None, None],
    [],
    ["exactly12chr", "thirteen char", "", "ünïcødé text that is long enough to live out of line"],
])
def test_image_text_columns_are_repeated_onto_each_image_s_rows(values):
    rng = np.random.default_rng(len(values))
    counts = rng.integers(0, 4, len(values))
    images = pd.DataFrame({"image_id": np.arange(1, len(values) + 1), "file_name": values,
                           "description": pd.array(values, dtype="string")})
    box_image = np.repeat(np.arange(len(values)), counts)
    frame = assemble(images, box_image, {"x": np.zeros(len(box_image))}, "yolo", "x.zip")
    per_image = np.maximum(counts, 1).tolist()
    expected = [v for v, c in zip(values, per_image) for _ in range(c)]
    for column in ("file_name", "description"):
        assert str(frame[column].dtype) == "string"
        assert [None if pd.isna(v) else v for v in frame[column].tolist()] == expected
    assert frame["dataset_id"].isna().all() and len(frame) == sum(per_image)


def test_row_layout_repeats_each_image_at_least_once():
    image_pos, box_row = row_layout(np.array([2, 0, 2]), 4)
    assert image_pos.tolist() == [0, 1, 2, 2, 3]
    assert box_row.tolist() == [2, 0, 3]


@pytest.mark.parametrize("seed", range(6))
def test_row_layout_matches_a_python_walk(seed):
    rng = np.random.default_rng(seed)
    n_images = int(rng.integers(1, 40))
    box_image = rng.integers(0, n_images, int(rng.integers(0, 200)))
    rows, box_row, at = [], [0] * len(box_image), 0
    for image in range(n_images):
        mine = [k for k, b in enumerate(box_image.tolist()) if b == image]
        for k in mine:
            box_row[k] = at
            at += 1
        if not mine:
            at += 1
        rows += [image] * max(len(mine), 1)
    image_pos, got = row_layout(box_image, n_images)
    assert image_pos.tolist() == rows and got.tolist() == box_row


_HEAD = "image_id,file_name,label_file,width,height\n"


@pytest.mark.parametrize("rows", [
    "1,a.jpg,labels/a.txt,4,3\n2,b.jpg,labels/b.txt,4,3\n1,c.jpg,labels/c.txt,4,3\n",  # id again
    "3,a.jpg,labels/a.txt,4,3\n2,b.jpg,labels/b.txt,4,3\n3,c.jpg,labels/c.txt,4,3\n",
    "1,a.jpg,labels/a.txt,4,3\n2,b.jpg,labels/a.txt,4,3\n",  # a label file again
])
def test_a_manifest_repeating_an_id_or_a_label_file_is_refused(rows):
    from aion_pandas.errors import FormatError
    from aion_pandas.formats.manifest import read_manifest
    with pytest.raises(FormatError, match="x.zip: manifest.csv: image_id and label_file must be unique"):
        read_manifest((_HEAD + rows).encode(), where="x.zip")


def test_manifest_ids_in_any_order_are_read_and_members_found_by_label_file():
    from aion_pandas.errors import FormatError
    from aion_pandas.formats.manifest import manifest_positions, read_manifest
    rows = "9,a.jpg,labels/a.txt,4,3\n2,b.jpg,labels/b.txt,4,3\n5,c.jpg,labels/c.txt,4,3\n"
    manifest = read_manifest((_HEAD + rows).encode(), where="x.zip")
    assert manifest["image_id"].tolist() == [9, 2, 5]
    members = ["labels/c.txt", "labels/a.txt"]
    assert manifest_positions(manifest, members, where="x.zip", kind="label").tolist() == [1, -1, 0]
    with pytest.raises(FormatError, match=r"1 label files are not in manifest.csv, e.g. 'labels/z.txt'"):
        manifest_positions(manifest, members + ["labels/z.txt"], where="x.zip", kind="label")


def test_rows_with_the_same_tags_share_one_list_and_map_list_gives_each_its_own():
    from aion_pandas.formats.yolo import read_yolo

    from .helpers import zip_bytes
    manifest = ("image_id,file_name,label_file,width,height,tags\n"
                '1,a.jpg,labels/a.txt,10,10,"[""x""]"\n2,b.jpg,labels/b.txt,10,10,"[""x""]"\n'
                '3,c.jpg,labels/c.txt,10,10,"[""y"", ""z""]"\n')
    label = "0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.1 0.1\n"
    frame = read_yolo(zip_bytes({"labels/a.txt": label, "labels/b.txt": label,
                                 "labels/c.txt": "", "manifest.csv": manifest}))
    tags = frame["tags"].tolist()
    assert tags == [["x"]] * 4 + [["y", "z"]]
    assert all(t is tags[0] for t in tags[:4])
    own = frame["tags"].map(list).tolist()
    own[0].append("changed")
    assert own[1] == ["x"] and tags[0] == ["x"]
