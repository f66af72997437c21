"""The helpers that put image columns onto the frame's rows (formats/manifest.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from aion_pandas.formats._strings import take_strings
from aion_pandas.formats.manifest import row_layout


def _expected(values: list, counts: list[int]) -> list:
    return [v for v, c in zip(values, counts) for _ in range(c)]


def repeat_strings(strings, counts):
    return take_strings(strings, np.repeat(np.arange(len(counts)), counts))


@pytest.mark.parametrize("values", [
    ["a", None, "bc"],
    [None, None],
    [],
    ["exactly12chr", "thirteen char", "", "ünïcødé text that is long enough to live out of line"],
])
@pytest.mark.parametrize("large", [False, True])
def test_taking_strings_in_runs_matches_repeating_python_values(values, large):
    rng = np.random.default_rng(len(values))
    counts = rng.integers(0, 4, len(values))
    strings = pa.array(values, type=pa.large_string() if large else pa.string())
    out = repeat_strings(strings, counts)
    assert str(out.dtype) == "string"
    assert [None if pd.isna(v) else v for v in out.tolist()] == \
        _expected(values, counts.tolist())


def test_repeating_a_slice_uses_the_slice_s_own_values_and_nulls():
    strings = pa.array(["skip", None, "x" * 40, "y", None, "z" * 20])[1:5]
    out = repeat_strings(strings, np.array([1, 2, 3, 1]))
    assert out.isna().tolist() == [True, False, False, False, False, False, True]
    assert out[1] == out[2] == "x" * 40 and out[3] == out[5] == "y"


def test_row_layout_repeats_each_image_at_least_once():
    image_pos, box_row = row_layout(np.array([2, 0, 2]), 4)
    assert image_pos.tolist() == [0, 1, 2, 2, 3]
    assert box_row.tolist() == [2, 0, 3]


@pytest.mark.parametrize("value", ["completed", None])
def test_one_value_for_every_image_shares_one_block_and_reads_like_any_column(value):
    from aion_pandas.formats._strings import _SHARED_ROWS
    counts = np.array([_SHARED_ROWS, 3, 0, _SHARED_ROWS + 5])
    out = repeat_strings(pa.array([value] * len(counts), type=pa.string()), counts)
    chunked = out._pa_array
    assert len(out) == counts.sum() and chunked.num_chunks == 3
    assert chunked.chunk(0).buffers()[1].address == chunked.chunk(1).buffers()[1].address  # shared
    series = pd.Series(out)
    assert series.isna().all() if value is None else (series == value).all()
    assert series.iloc[-1] is pd.NA if value is None else series.iloc[-1] == value
    assert series.astype(object).tolist() == [pd.NA if value is None else value] * int(counts.sum())


def test_a_column_with_two_values_is_not_shared():
    out = repeat_strings(pa.array(["a", "b"]), np.array([1 << 16, 1]))
    assert out._pa_array.num_chunks == 1 and out[-1] == "b" and out[0] == "a"


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


@pytest.mark.parametrize("seed", range(6))
def test_the_layout_of_boxes_read_file_by_file_is_row_layout_s(seed):
    from aion_pandas.formats.manifest import file_row_layout
    rng = np.random.default_rng(seed)
    n_images = int(rng.integers(1, 40))
    n_files = int(rng.integers(0, n_images + 1))
    image_of_file = rng.permutation(n_images)[:n_files]
    if seed == 5 and n_files:
        image_of_file[0] = -1  # a file of no image: the general path
    box_file = np.sort(rng.integers(0, max(n_files, 1), int(rng.integers(0, 200)))) if n_files \
        else np.zeros(0, dtype=np.int64)
    if seed == 5:
        box_file = box_file[image_of_file[box_file] >= 0]
    if seed == 4 and len(box_file) > 2:
        box_file = box_file[::-1].copy()  # not file by file: the general path
    got = file_row_layout(box_file, image_of_file, n_images)
    want = row_layout(image_of_file[box_file], n_images)
    assert [a.tolist() for a in got] == [a.tolist() for a in want]


def test_taking_strings_in_any_order_matches_python():
    values = ["a", None, "a long string that lives outside its view", "ü", ""]
    positions = np.array([4, 2, 2, 0, 1, 3, 0])
    out = take_strings(pa.array(values)[0:5], positions)
    assert [None if pd.isna(v) else v for v in out.tolist()] == [values[i] for i in positions]


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
