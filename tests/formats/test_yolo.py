"""YOLO zips: layout of what we write, round trips, class names, sizes, bad input."""
from __future__ import annotations

import functools
import io
import json
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import yaml

from aion_pandas.errors import FormatError
from aion_pandas.formats import LossyConversionWarning
from aion_pandas.formats._vectext import fixed
from aion_pandas.formats._yololines import _parse, parse_lines
from aion_pandas.formats.manifest import MANIFEST_COLUMNS, member_stems
from aion_pandas.formats.schema import CORE_COLUMNS
from aion_pandas.formats.yolo import MissingImageSizeWarning, read_yolo, write_yolo

from .helpers import boxes_by_image, write_quietly, zip_bytes

pytestmark = pytest.mark.filterwarnings("ignore::aion_pandas.formats.yolo.MissingImageSizeWarning")


_write = functools.partial(write_quietly, write_yolo)



def _png(width: int, height: int) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "gray").save(buf, "PNG")
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------
# pure functions


@pytest.mark.parametrize("names, ids, expected", [
    (["a.jpg", "b.png"], [1, 2], ["a", "b"]),
    (["dir/a.jpg", "dir\\b.jpg"], [1, 2], ["dir/a", "dir/b"]),                     # Windows
    (["a.jpg", "a.png", "b.jpg"], [4, 9, 2], ["a__4", "a__9", "b"]),              # same stem
    (["cat.jpg", "Cat.JPG"], [1, 2], ["cat__1", "Cat__2"]),                       # case-insensitive
    (["../../etc/passwd", "/abs/x.jpg", "C:\\win\\y.jpg"], [1, 2, 3], ["etc/passwd", "abs/x", "C_/win/y"]),
    (["a:b*?.jpg", "trailing. .jpg", ""], [1, 2, 3], ["a_b__", "trailing", "image_3"]),
    (["été/測試.jpeg", "x.tar.gz"], [1, 2], ["été/測試", "x.tar"]),
    (["a.jpg", "a.jpg", "a__2.jpg"], [1, 2, 3], ["a__1", "a__2__2", "a__2__3"]),   # suffix meets a name
])
def test_member_stems_are_safe_and_unique(names, ids, expected):
    stems = member_stems(pd.Series(names, dtype="string"), np.array(ids))
    assert list(stems) == expected
    assert len({s.lower() for s in stems}) == len(stems)


@pytest.mark.parametrize("value, decimals, text", [
    (0.5, 6, "0.500000"), (1.0, 6, "1.000000"), (0.1234565, 6, "0.123456"), (0.9999996, 6, "1.000000"),
    (-0.25, 6, "-0.250000"), (-0.0000004, 6, "0.000000"), (12.5, 0, "12"), (3.14159, 2, "3.14"),
])
def test_fixed_point_text(value, decimals, text):
    assert fixed(np.array([value]), decimals).to_pylist() == [text]


# ------------------------------------------------------------------------------------------------
# what the writer writes


def test_layout_one_label_file_per_image_with_yaml_classes_and_manifest(sample_frame):
    archive = zipfile.ZipFile(io.BytesIO(_write(sample_frame)))
    names = set(archive.namelist())
    assert {"data.yaml", "classes.txt", "manifest.csv"} <= names
    labels = sorted(n for n in names if n.startswith("labels/"))
    assert labels == ["labels/train/été/a.txt", "labels/val/b 2.txt", "labels/測試/c.txt"]
    assert archive.read("labels/val/b 2.txt") == b""  # the image without boxes has its file
    data = yaml.safe_load(archive.read("data.yaml"))
    assert data["names"] == {0: "cat", 1: "chien", 2: "root", 3: "自転車"} and data["nc"] == 4
    assert archive.read("classes.txt").decode().splitlines() == ["cat", "chien", "root", "自転車"]
    lines = archive.read("labels/測試/c.txt").decode().splitlines()
    # chien (index 1) at 333.33,250 66.67x125.5 on 1000x750, confidence 0.25
    assert lines[0] == "1 0.366665 0.417000 0.066670 0.167333 0.250000"
    manifest = pd.read_csv(io.BytesIO(archive.read("manifest.csv")), dtype=str, keep_default_na=False)
    assert tuple(manifest.columns) == MANIFEST_COLUMNS
    row = manifest.set_index("file_name").loc["測試/c.jpg"]
    assert row["label_file"] == "labels/測試/c.txt" and row["width"] == "1000"
    assert json.loads(row["tags"]) == ["ünï"] and row["item_status"] == "completed"
    assert row["image_url"].endswith("/user-files/f3/download")


def test_label_files_are_stored_in_name_order_and_the_rest_deflated(sample_frame):
    infos = zipfile.ZipFile(io.BytesIO(_write(sample_frame))).infolist()
    labels = [i for i in infos if i.filename.startswith("labels/")]
    assert [i.filename for i in labels] == sorted(i.filename for i in labels)
    assert {i.compress_type for i in labels} == {zipfile.ZIP_STORED}
    assert {i.compress_type for i in infos if i not in labels} == {zipfile.ZIP_DEFLATED}


def test_writer_is_deterministic_and_readable_by_unzip_tools(sample_frame):
    first, second = _write(sample_frame), _write(sample_frame)
    assert first == second
    assert zipfile.ZipFile(io.BytesIO(first)).testzip() is None


def test_score_is_the_sixth_field_only_when_present(sample_frame):
    frame = sample_frame.copy()
    frame.loc[frame.index[0], "score"] = np.nan
    text = zipfile.ZipFile(io.BytesIO(_write(frame))).read("labels/train/été/a.txt").decode()
    assert [len(line.split()) for line in text.splitlines()] == [5, 6]


def test_writer_warns_what_yolo_cannot_carry(sample_frame):
    with pytest.warns(LossyConversionWarning, match=r"yolo cannot carry: iscrowd \(1 box\)"):
        write_yolo(sample_frame, io.BytesIO())


def test_boxes_without_image_size_are_refused(sample_frame):
    frame = sample_frame.drop(columns="iscrowd")
    frame["width"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    with pytest.raises(FormatError, match=r"'train/été/a.jpg' \(image_id 1\) has boxes but no width"):
        write_yolo(frame, io.BytesIO())


def test_writes_to_a_stream_that_cannot_seek(sample_frame):
    class Sink:  # a socket or pipe: write only
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        def write(self, data: bytes) -> int:
            self.parts.append(bytes(data))
            return len(data)

    sink = Sink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)
        write_yolo(sample_frame, sink)
    assert b"".join(sink.parts) == _write(sample_frame)


def test_writes_to_a_path_atomically(sample_frame, tmp_path):
    path = tmp_path / "out.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)
        write_yolo(sample_frame, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zip"]
    assert len(read_yolo(path)) == len(sample_frame)


# ------------------------------------------------------------------------------------------------
# round trips


def test_round_trip_keeps_images_boxes_names_and_extras(sample_frame):
    frame = read_yolo(_write(sample_frame))
    assert list(frame.columns[:12]) == list(CORE_COLUMNS)
    for name, dtype in CORE_COLUMNS.items():
        assert str(frame[name].dtype) == str(pd.Series(dtype=dtype).dtype), name
    assert boxes_by_image(frame, 3) == boxes_by_image(sample_frame, 3)
    assert frame["image_id"].tolist() == sample_frame["image_id"].tolist()
    assert sorted(frame["category"].cat.categories) == ["cat", "chien", "root", "自転車"]
    for column in ("file_name", "width", "height", "description", "image_url", "item_id",
                   "item_status", "dataset_id"):
        assert frame[column].tolist() == sample_frame[column].tolist(), column
    assert frame["tags"].tolist() == sample_frame["tags"].tolist()
    assert np.allclose(frame["score"], sample_frame["score"], equal_nan=True)
    assert frame.attrs == {"format": "yolo", "source": "<bytes>"}


@pytest.mark.parametrize("text", ["NA", "null", "nan", "N/A", " ", "a,\"b\"\nc"])
def test_round_trip_of_texts_that_look_like_nulls(sample_frame, text):
    frame = sample_frame.assign(description=text, file_name=sample_frame["file_name"] + text.strip())
    back = read_yolo(_write(frame))
    assert back["description"].tolist() == [text] * len(frame)
    assert back["file_name"].tolist() == frame["file_name"].tolist()


def test_round_trip_of_images_sharing_a_file_name():
    frame = pd.DataFrame({"image_id": [1, 2, 3], "file_name": ["a/x.jpg", "b/x.jpg", "a/x.jpg"],
                          "width": [10, 20, 30], "height": [10, 20, 30],
                          "category": ["p", "q", None], "x": [1.0, 2.0, None],
                          "y": [1.0, 2.0, None], "w": [2.0, 4.0, None], "h": [3.0, 5.0, None]})
    data = _write(frame)
    labels = sorted(n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.startswith("labels/"))
    assert labels == ["labels/a/x__1.txt", "labels/a/x__3.txt", "labels/b/x.txt"]
    back = read_yolo(data)
    assert back["file_name"].tolist() == ["a/x.jpg", "b/x.jpg", "a/x.jpg"]
    assert back["width"].tolist() == [10, 20, 30]
    assert np.allclose(back["w"], [2.0, 4.0, np.nan], equal_nan=True)


def test_class_ids_that_already_number_0_to_k_are_kept():
    frame = pd.DataFrame({"file_name": ["a.jpg"] * 2, "width": [10] * 2, "height": [10] * 2,
                          "category": ["zebra", "ant"], "category_id": [0, 1],
                          "x": [0.0, 1.0], "y": [0.0, 1.0], "w": [1.0, 1.0], "h": [1.0, 1.0]})
    archive = zipfile.ZipFile(io.BytesIO(_write(frame)))
    assert archive.read("classes.txt").decode().split() == ["zebra", "ant"]
    back = read_yolo(archive.fp.getvalue())
    assert back["category"].astype(str).tolist() == ["zebra", "ant"]
    assert back["category_id"].tolist() == [0, 1]


# ------------------------------------------------------------------------------------------------
# files from elsewhere

_LABEL = "0 0.5 0.5 0.2 0.4\n1 0.25 0.25 0.1 0.1 0.9\n"


@pytest.mark.parametrize("extra, expected", [
    ({"data.yaml": "names: [person, car]\n"}, ["person", "car"]),
    ({"data.yaml": "names:\n  0: person\n  1: car\nnc: 2\n"}, ["person", "car"]),
    ({"dataset.yaml": "names: {1: car, 0: person}\n"}, ["person", "car"]),
    ({"classes.txt": "person\ncar\n"}, ["person", "car"]),
    ({"obj.names": "person\r\ncar\r\n"}, ["person", "car"]),
    ({}, ["0", "1"]),
])
def test_class_names_from_yaml_or_classes_txt(extra, expected):
    frame = read_yolo(zip_bytes({"labels/a.txt": _LABEL, **extra}))
    assert frame["category"].astype(str).tolist() == expected


def test_class_names_argument_wins():
    frame = read_yolo(zip_bytes({"labels/a.txt": _LABEL, "classes.txt": "x\ny\n"}), class_names=["p", "q"])
    assert frame["category"].astype(str).tolist() == ["p", "q"]


def test_sizes_from_images_in_the_zip_and_empty_label_files():
    data = zip_bytes({"images/train/a.png": _png(200, 100), "labels/train/a.txt": _LABEL,
                 "images/train/b.png": _png(50, 40), "labels/train/b.txt": "",
                 "images/train/c.png": _png(30, 20)})                       # c: no label file
    frame = read_yolo(data)
    assert frame["file_name"].tolist() == ["train/a.png", "train/a.png", "train/b.png", "train/c.png"]
    assert frame["image_id"].tolist() == [1, 1, 2, 3]
    assert frame["width"].tolist() == [200, 200, 50, 30]
    assert frame[["x", "y", "w", "h"]].iloc[0].tolist() == [80.0, 30.0, 40.0, 40.0]
    assert frame["score"].iloc[1] == 0.9 and frame["x"].iloc[2:].isna().all()


def test_without_sizes_boxes_are_nan_with_a_warning():
    with pytest.warns(MissingImageSizeWarning, match=r"2 boxes on 1 images have no image size"):
        frame = read_yolo(zip_bytes({"labels/a.txt": _LABEL, "labels/b.txt": ""}))
    assert frame["file_name"].tolist() == ["a", "a", "b"]
    assert frame["width"].isna().all() and frame["x"].isna().all()
    assert frame["category"].notna().tolist() == [True, True, False]


def test_windows_separators_unicode_and_nested_names():
    data = zip_bytes({"labels\\été\\深\\a.txt": _LABEL, "images\\été\\深\\a.png": _png(10, 10)})
    frame = read_yolo(data)
    assert frame["file_name"].unique().tolist() == ["été/深/a.png"]
    assert frame["w"].tolist() == pytest.approx([2.0, 1.0])


@pytest.mark.parametrize("text", [
    "0 0.5 0.5 0.2 0.4\r\n1 0.25 0.25 0.1 0.1 0.9\r\n",      # CRLF
    "0 0.5 0.5 0.2\r0.4\n1 0.25 0.25 0.1 0.1 0.9",           # a lone CR is a space
    "\n0\t0.5 0.5  0.2 0.4 \n\n  1 0.25 0.25 0.1 0.1 0.9",    # blank lines, tabs, no final newline
])
def test_odd_whitespace_is_read(text):
    frame = read_yolo(zip_bytes({"labels/a.txt": text, "classes.txt": "p\nq\n"}))
    assert frame["category"].astype(str).tolist() == ["p", "q"]
    assert frame["category_id"].tolist() == [0, 1]
    assert np.allclose(frame["score"], [np.nan, 0.9], equal_nan=True)


@pytest.mark.parametrize("bad, message", [
    ("oops", r"labels/c.txt: line 4: expected 5 fields .* got 1"),
    ("0 .5 .5 .2 zero", r"labels/c.txt: line 4: 'zero' is not a number"),
    ("0 .5 .5 .2 -.2", r"labels/c.txt: line 4: negative box size"),
    ("0 .5 .5 .2 \xe9", r"labels/c.txt: line 4: not UTF-8 text"),
])
def test_a_line_after_files_without_a_final_newline_is_named_in_its_own_file(bad, message):
    members = {"labels/a.txt": "0 .5 .5 .2 .2", "labels/b.txt": "", "labels/c.txt":
               "\n0 .5 .5 .2 .2\r\n\t1 .5 .5 .2 .2 \n".encode() + bad.encode("latin-1")}
    with pytest.raises(FormatError, match=message):
        read_yolo(zip_bytes(members))
    members["labels/c.txt"] = members["labels/c.txt"][:-len(bad)]
    assert read_yolo(zip_bytes(members))["category_id"].dropna().tolist() == [0, 0, 1]


def test_crlf_label_files_read_like_lf_ones():
    lines = ["0 0.5 0.5 0.2 0.4 0.8", "1 0.25 0.25 0.1 0.1 0.9", "1 0.75 0.5 0.5 0.5 0.7"]
    frames = [read_yolo(zip_bytes({"labels/a.txt": end.join(lines[:2]) + end,
                                   "labels/b.txt": lines[2] + end, "classes.txt": "p\nq\n"}))
              for end in ("\n", "\r\n")]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert frames[1]["score"].tolist() == [0.8, 0.9, 0.7]


def test_segmentation_lines_are_read_as_their_bounding_box():
    data = zip_bytes({"labels/a.txt": "0 0.1 0.2 0.5 0.2 0.3 0.6\n", "images/a.png": _png(100, 100)})
    frame = read_yolo(data)
    assert frame[["x", "y", "w", "h"]].iloc[0].tolist() == pytest.approx([10, 20, 40, 40])


@pytest.mark.parametrize("text, message", [
    ("0 0.5 0.5 0.2 0.4\n0 0.5 0.5 0.2\n", r"labels/bad.txt: line 2: expected 5 fields .* got 4"),
    ("0 0.5 0.5 0.2 0.4 0.9 1 0.5\n", r"labels/bad.txt: line 1: expected 5 fields .* got 8"),
    ("\n\n0 0.5 0.5 0.2 zero\n", r"labels/bad.txt: line 3: 'zero' is not a number"),
    ("1.5 0.5 0.5 0.2 0.4\n", r"labels/bad.txt: line 1: the class must be a whole number"),
    ("-1 0.5 0.5 0.2 0.4\n", r"labels/bad.txt: line 1: the class must be a whole number"),
    ("0 0.5 0.5 -0.2 0.4\n", r"labels/bad.txt: line 1: negative box size"),
    ("0 nan 0.5 0.2 0.4\n", r"labels/bad.txt: line 1: a field is not a finite number"),
    ("0 0.5 0.5 0.2 0.4 0.9\n0 0.5 0.5 0.2 0.4 nan\n", r"labels/bad.txt: line 2: a field is not a finite number"),
    ("0 0.5 0.5 0.2 0.4\n2000000 0.5 0.5 0.2 0.4\n", r"labels/bad.txt: line 2: the class index is past"),
    ("0 nan .5 .2 .2\n0 .5 .5 .2 .2 nan\n", r"labels/bad.txt: line 1: a field is not a finite number"),
    ("0 .5 .5 -.2 .2\n1.5 .5 .5 .2 .2\n", r"labels/bad.txt: line 1: negative box size"),
    (b"0 0.5 0.5 0.2 0.4 \xff\n", r"labels/bad.txt: line 1: not UTF-8 text"),
])
def test_bad_label_lines_name_the_member_and_line(text, message):
    data = zip_bytes({"labels/ok.txt": _LABEL, "labels/bad.txt": text})
    with pytest.raises(FormatError, match=message) as caught:
        read_yolo(data)
    assert caught.value.member == "labels/bad.txt"


def test_a_member_that_is_not_utf8_is_named_after_crlf_files():
    data = zip_bytes({"labels/a.txt": "0 .5 .5 .2 .2\r\n" * 50, "labels/b.txt": b"0 .5 .5 .2 \xff\n"})
    with pytest.raises(FormatError, match=r"labels/b.txt: line 1: not UTF-8 text"):
        read_yolo(data)


def test_the_first_bad_line_is_named_whatever_else_is_wrong_further_on():
    # 120,000 lines: Arrow parses them in several blocks; the error is the first bad line's
    good = "0 0.5 0.5 0.2 0.4\n"
    lines = [good] * 120_000
    lines[300] = "0 0.5 0.5 -0.2 0.4\n"
    lines[110_000] = "1.5 0.5 0.5 0.2 0.4\n"
    with pytest.raises(FormatError, match=r"labels/a.txt: line 301: negative box size"):
        read_yolo(zip_bytes({"labels/a.txt": "".join(lines)}, zipfile.ZIP_STORED))


@pytest.mark.parametrize("texts, files", [
    ([], []),
    ([b"0 .5 .5 .2 .2\n"], [0]),
    ([b"0 .5 .5 .2 .2\n1 .5 .5 .2 .2\n", b"", b"2 .5 .5 .2 .2\n"], [0, 0, 2]),  # halves of 2 and 1 files
    ([b"", b"0 .5 .5 .2 .2\n", b"1 .5 .5 .2 .2\n\n3 .5 .5 .2 .2 .5\n", b"\n"], [1, 2, 2]),
])
def test_each_box_keeps_its_file_across_the_two_halves(texts, files):
    labels = [f"{i}.txt" for i in range(len(texts))]
    box_file, values = parse_lines(texts, labels, "x.zip")
    assert box_file.tolist() == files
    assert values.shape == (6, len(files))
    assert values[0].tolist() == [float(line.split()[0]) for t in texts for line in t.splitlines() if line]
    whole_file, whole_values = _parse(texts, labels, "x.zip")  # all the files on one thread
    np.testing.assert_array_equal(box_file, whole_file)
    np.testing.assert_array_equal(values, whole_values)


@pytest.mark.parametrize("bad, message", [
    ({1: "0 .5 .5 .2\n", 3: "zero .5 .5 .2 .2\n"}, r"labels/1.txt: line 1: expected 5 fields"),
    pytest.param({3: "0 .5 .5 .2 .2\n0 .5 .5 -.2 .2\n"}, r"labels/3.txt: line 2: negative box size",
                 id="the second half's own file names"),
    ({0: "0 .5 .5 .2 .2 \xe9\n", 2: "0 .5\n"}, r"labels/0.txt: line 1: not UTF-8 text"),
    ({2: "0 .5 .5 .2 .2\n\n0 .5 .5 .2 \xe9\n"}, r"labels/2.txt: line 3: not UTF-8 text"),
    # one pass would name 3.txt's field count (fields are checked before values): the first half wins
    ({0: "0 .5 .5 -.2 .2\n", 3: "0 .5 .5 .2\n"}, r"labels/0.txt: line 1: negative box size"),
])
def test_the_first_halfs_error_wins_when_both_halves_hold_one(bad, message):
    members = {f"labels/{i}.txt": bad.get(i, "0 .5 .5 .2 .2\n").encode("latin-1") for i in range(4)}
    with pytest.raises(FormatError, match=message):
        read_yolo(zip_bytes(members))


@pytest.mark.parametrize("line", ["0 -inf 0.5 0.2 0.2", "0 0.5 0.5 inf 0.2", "0 0.5 0.5 0.2 0.2 inf",
                                  "0 0.5 0.5 0.2 nan", "0 0 0 1e400 1 1 0", "inf 0.5 0.5 0.2 0.2"])
def test_infinite_or_nan_values_name_their_file_and_line(line):
    members = {"labels/a.txt": "0 0.5 0.5 0.2 0.2\n", "labels/b.txt": f"0 0.5 0.5 0.1 0.1\n{line}\n",
               "classes.txt": "p\n"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no numpy warning on the way
        with pytest.raises(FormatError, match=r"labels/b.txt: line 2: a field is not a finite number"):
            read_yolo(zip_bytes(members))


def test_manifest_tags_that_are_not_a_json_array_name_their_line():
    manifest = ("image_id,file_name,label_file,width,height,tags\n"
                '1,a.jpg,labels/a.txt,10,10,"[""x""]"\n2,b.jpg,labels/b.txt,10,10,not json\n')
    with pytest.raises(FormatError, match=r"manifest.csv: line 3: tags must be a JSON array, "
                                          r"got 'not json'"):
        read_yolo(zip_bytes({"labels/a.txt": _LABEL, "labels/b.txt": "", "manifest.csv": manifest}))


@pytest.mark.parametrize("column, value", [("width", "inf"), ("height", "1.5"), ("width", "1e30"),
                                           ("image_id", ""), ("height", "ten")])
def test_manifest_sizes_and_ids_must_be_finite_whole_numbers(column, value):
    row = {"image_id": "1", "file_name": "a.jpg", "label_file": "labels/a.txt", "width": "10",
           "height": "10", column: value}
    manifest = ",".join(row) + "\n" + ",".join(row.values()) + "\n"
    with pytest.raises(FormatError, match=rf"manifest.csv: line 2: {column} .* (is not a whole number"
                                          r"|is read as a float, exact only below 2\*\*53)"):
        read_yolo(zip_bytes({"labels/a.txt": _LABEL, "manifest.csv": manifest}))


def test_manifest_ids_past_2_53_are_read_exactly_or_refused_never_rounded():
    head = "image_id,file_name,label_file,width,height\n"
    rows = "{},a.jpg,labels/a.txt,10,10\n9007199254740993,b.jpg,labels/b.txt,10,10\n"
    members = {"labels/a.txt": _LABEL, "labels/b.txt": _LABEL}
    frame = read_yolo(zip_bytes({**members, "manifest.csv": head + rows.format("1")}))
    assert frame["image_id"].unique().tolist() == [1, 9007199254740993]
    with pytest.raises(FormatError, match=r"manifest.csv: line 3: image_id '9007199254740993' is read as a"):
        read_yolo(zip_bytes({**members, "manifest.csv": head + rows.format("1.0")}))


def test_bad_yaml_and_bad_manifest_are_format_errors():
    with pytest.raises(FormatError, match=r"data.yaml: not valid YAML"):
        read_yolo(zip_bytes({"labels/a.txt": _LABEL, "data.yaml": "names: [a, b\n"}))
    manifest = "image_id,file_name,label_file,width,height\nx,a.jpg,labels/a.txt,10,10\n"
    with pytest.raises(FormatError, match=r"manifest.csv: line 2: image_id 'x' is not a whole number"):
        read_yolo(zip_bytes({"labels/a.txt": _LABEL, "manifest.csv": manifest}))
    manifest = "image_id,file_name,label_file,width,height\n1,a.jpg,labels/a.txt,10,10\n"
    with pytest.raises(FormatError, match=r"1 label files are not in manifest.csv, e.g. 'labels/b.txt'"):
        read_yolo(zip_bytes({"labels/a.txt": _LABEL, "labels/b.txt": "", "manifest.csv": manifest}))


def test_not_a_zip_is_a_format_error(tmp_path):
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(FormatError, match=r"x.zip: not a readable zip"):
        read_yolo(path)


def test_reads_a_folder_too(tmp_path, sample_frame):
    with zipfile.ZipFile(io.BytesIO(_write(sample_frame))) as archive:
        archive.extractall(tmp_path)  # a zip we wrote ourselves, in a test
    frame = read_yolo(tmp_path)
    assert boxes_by_image(frame, 3) == boxes_by_image(sample_frame, 3)


def test_a_manifest_only_pandas_can_type_keeps_its_tags():
    # image_id "1.0" is not an Arrow int64: the manifest takes the general parse; empty tags are []
    manifest = ("image_id,file_name,label_file,width,height,tags\n"
                "1.0,a.jpg,labels/a.txt,10,10,\"[\"\"x\"\"]\"\n2,b.jpg,labels/b.txt,10,10,\n")
    frame = read_yolo(zip_bytes({"labels/a.txt": _LABEL, "labels/b.txt": "", "manifest.csv": manifest}))
    assert frame.groupby("file_name")["tags"].first().to_dict() == {"a.jpg": ["x"], "b.jpg": []}
    assert frame["image_id"].unique().tolist() == [1, 2]


def test_a_label_file_named_like_a_list_file_under_labels_is_a_label():
    members = {"images/train.png": _png(100, 50), "images/a.png": _png(10, 10), "classes.txt": "cat\n",
               "labels/train.txt": "0 0.5 0.5 0.2 0.4\n", "labels/a.txt": "0 0.5 0.5 1 1\n"}
    for data in (zip_bytes(members), zip_bytes({f"ds/{name}": v for name, v in members.items()})):
        frame = read_yolo(data).sort_values("file_name")
        assert frame["file_name"].tolist() == ["a.png", "train.png"]
        assert frame[["w", "h"]].values.tolist() == [[10.0, 10.0], [20.0, 20.0]]
