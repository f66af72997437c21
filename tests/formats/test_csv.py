"""CSV: one row per box, an image without boxes as one row, delimiters, timestamps, bad input."""
from __future__ import annotations

import csv as stdlib_csv
import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from aion_pandas.errors import FormatError
from aion_pandas.formats import LossyConversionWarning, parse_csv, read_csv, serialize_csv, write_csv
from aion_pandas.formats.csv import sniff_delimiter

from .helpers import boxes_by_image

HEADER = "image_id,file_name,width,height,category,category_id,x,y,w,h"


@pytest.mark.parametrize("text, delimiter", [
    ("a,b,c\n1,2,3\n", ","), ("a;b;c\n1;2;3\n", ";"), ("a\tb\tc\n", "\t"), ("a|b\n", "|"),
    ("only\n", ","), ("a;b,c;d\n", ";"),
])
def test_sniff_delimiter(text, delimiter):
    assert sniff_delimiter(text.encode()) == delimiter


@pytest.mark.parametrize("body, expected", [
    ("1,a.jpg,4,3,cat,5,0,1,2,2\n", [(1, "a.jpg", "cat", 5, 0.0, 2.0)]),
    ("1,a.jpg,4,3,cat,5,0,1,2,2\n2,b.jpg,4,3,,,,,,\n", [(1, "a.jpg", "cat", 5, 0.0, 2.0),
                                                        (2, "b.jpg", None, None, None, None)]),
    ("7,\"d/é, 1.jpg\",4,3,\"a \"\"b\"\"\",0,0.5,1,2,2\n", [(7, "d/é, 1.jpg", 'a "b"', 0, 0.5, 2.0)]),
])
def test_parse_table(body, expected):
    frame = parse_csv((HEADER + "\n" + body).encode())
    got = [(r.image_id, r.file_name, None if pd.isna(r.category) else r.category,
            None if pd.isna(r.category_id) else int(r.category_id),
            None if np.isnan(r.x) else r.x, None if np.isnan(r.w) else r.w) for r in frame.itertuples()]
    assert got == expected


def test_other_delimiters_and_bom():
    text = "\ufeff" + HEADER.replace(",", ";") + "\n1;a.jpg;4;3;cat;5;0;1,5;2;2\n"
    with pytest.raises(FormatError):  # "1,5" is not a number with ';' as delimiter...
        parse_csv(text.encode())
    frame = parse_csv(text.replace("1,5", "1.5").encode())
    assert frame.loc[0, "y"] == 1.5 and frame.loc[0, "image_id"] == 1


def test_values_arrow_cannot_type_still_read_with_the_contract_dtypes():
    """Whole numbers written as floats and yes/no flags fail Arrow's typed read; the file is read
    untyped and coerced, empty columns included."""
    text = ("image_id,file_name,width,height,category,category_id,x,y,w,h,score,iscrowd,area\n"
            "1,a.jpg,640.0,480.0,cat,,0,1,2,2,,yes,\n2,b.jpg,640.0,480.0,,,,,,,,,\n")
    frame = parse_csv(text.encode())
    assert frame["width"].tolist() == [640, 640] and frame["iscrowd"].tolist() == [True, pd.NA]
    assert frame["category_id"].isna().all() and frame["score"].isna().all() and frame["area"].isna().all()
    dtypes = {name: str(frame[name].dtype) for name in ("width", "category_id", "score", "iscrowd", "area")}
    assert dtypes == {"width": "Int64", "category_id": "Int64", "score": "float64", "iscrowd": "boolean",
                      "area": "float64"}


@pytest.mark.parametrize("column, value", [
    ("image_id", 9), ("x", 5.0), ("width", 8), ("category_id", 3), ("category", "dog"), ("iscrowd", True),
    ("file_name", "z.jpg"),
])
def test_the_frame_can_be_edited_in_place(column, value):
    frame = parse_csv(b"image_id,file_name,width,height,category,category_id,x,y,w,h,iscrowd\n"
                      b"1,a.jpg,4,3,cat,1,0,1,2,2,false\n2,b.jpg,4,3,dog,2,1,1,1,1,true\n")
    other = frame.loc[1, column]
    frame.loc[0, column] = value
    assert frame.loc[0, column] == value and frame.loc[1, column] == other


def test_round_trip_keeps_everything(sample_frame, tmp_path):
    path = tmp_path / "out.csv"
    with pytest.warns(LossyConversionWarning, match=r"csv cannot carry: categories without boxes \(1 category\)"):
        write_csv(sample_frame, path)
    frame = read_csv(path)
    assert frame.attrs == {"format": "csv", "source": str(path)}
    assert boxes_by_image(frame) == boxes_by_image(sample_frame)
    for column in ("dataset_id", "image_id", "file_name", "width", "height", "category_id", "score",
                   "iscrowd", "description", "image_url", "item_id", "item_status", "x", "y", "w", "h"):
        pd.testing.assert_series_equal(frame[column], sample_frame[column], check_names=False)
    assert frame["tags"].tolist() == sample_frame["tags"].tolist()
    assert list(frame["category"].cat.categories) == ["cat", "chien", "自転車"]  # by id


def test_layout_one_row_per_box_and_an_empty_row_per_empty_image(sample_frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)
        text = serialize_csv(sample_frame).decode()
    rows = list(stdlib_csv.DictReader(io.StringIO(text)))
    assert len(rows) == 6
    empty = [r for r in rows if r["file_name"] == "val/b 2.png"]
    assert len(empty) == 1 and all(empty[0][c] == "" for c in ("category", "x", "y", "w", "h", "score"))
    assert json.loads(rows[0]["tags"]) == ["a", "b"] and rows[0]["image_url"].startswith("http")


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_option_and_timestamps(sample_frame, delimiter):
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)
        write_csv(sample_frame, buf, delimiter=delimiter, include_timestamps=True,
                  exported_at="2025-01-15T10:30:00Z")
    header = buf.getvalue().split(b"\n", 1)[0].decode()
    assert header.split(delimiter)[-1].strip('"') == "exported_at"
    frame = read_csv(buf.getvalue())                         # sniffed
    assert boxes_by_image(frame) == boxes_by_image(sample_frame)
    assert str(frame["exported_at"].iloc[0]).startswith("2025-01-15")
    assert read_csv(buf.getvalue(), delimiter=delimiter)["file_name"].tolist() == frame["file_name"].tolist()


def test_no_timestamps_by_default(sample_frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)
        assert b"exported_at" not in serialize_csv(sample_frame)


@pytest.mark.parametrize("body, words", [
    ("1,a.jpg,4,3,cat,5,0,1,2,2\n2,b.jpg,4,3,cat,5,0,1,oops,2\n", "'w' line 3: cannot read 'oops'"),
    ("1,a.jpg,4,3,cat,5,0,1,-2,2\n", "'w' line 2: negative box size"),
    ("1,a.jpg,4,3,cat,5,0,1,2,\n", "'h' line 2: box is incomplete"),
    ("1,a.jpg,4,3,,,0,1,2,2\n", "'category' line 2: a box without a category"),
    ("1,a.jpg,4.5,3,cat,5,0,1,2,2\n", "'width' line 2: cannot read"),
    ("1,a.jpg,4,3,cat,5,0,1,2,2,9\n", "malformed CSV"),
    ("1,a.jpg,4,3,cat,zz,0,1,2,2\n", "'category_id' line 2: cannot read 'zz'"),
    # an id or size that is not a 64-bit whole number is refused, never cut or wrapped
    ("1.5,a.jpg,4,3,cat,5,0,1,2,2\n", "'image_id' line 2: cannot read 1.5 as int64"),
    ("99999999999999999999,a.jpg,4,3,cat,5,0,1,2,2\n", "'image_id' line 2: cannot read 1e+20"),
    ("9223372036854775808,a.jpg,4,3,cat,5,0,1,2,2\n", "'image_id' line 2: cannot read"),  # 2**63
    # "1.0" makes Arrow read the column as floats, which hold 2**53 + 1 as 2**53: refused, not rounded
    ("1.0,a.jpg,4,3,cat,5,0,1,2,2\n9007199254740993,b.jpg,4,3,cat,5,0,1,2,2\n", "'image_id' line 3: cannot read"),
    ("1,a.jpg,inf,3,cat,5,0,1,2,2\n", "'width' line 2: cannot read inf as Int64"),
])
def test_bad_rows_name_column_and_line(body, words):
    with pytest.raises(FormatError) as info:
        read_csv((HEADER + "\n" + body).encode())
    assert words in str(info.value)
    # a row Arrow cannot split has its line on the error itself (FormatError.line)
    assert str(info.value).startswith("<bytes> line 2: " if words == "malformed CSV" else "<bytes>: ")


@pytest.mark.parametrize("text, column", [
    ("image_id,file_name,x,x\n1,a.jpg,1,2\n", "x"), ("image_id,image_id,file_name\n1,2,a.jpg\n", "image_id"),
    ("image_id,file_name,category,category\n1,a.jpg,cat,dog\n", "category"),
])
def test_a_column_named_twice_is_refused(text, column):
    with pytest.raises(FormatError) as info:
        read_csv(text.encode())
    assert str(info.value) == f"<bytes> line 1: the header names the column {column!r} more than once"


def test_a_header_that_is_not_utf8_is_refused():
    with pytest.raises(FormatError, match=r"^<bytes> line 1: the header is not UTF-8 text$"):
        read_csv(b"image_id,file_\xffname\n1,a.jpg\n")


def test_bad_tags_and_empty_file():
    with pytest.raises(FormatError, match="'tags' line 2: tags must be a JSON array"):
        read_csv(b'file_name,tags\na.jpg,"not json"\n')
    with pytest.raises(FormatError, match="'tags' line 2: tags must be a JSON array"):  # nested past the limit
        read_csv(b"file_name,tags\na.jpg," + b"[" * 100_000 + b"\n")
    with pytest.raises(FormatError, match="empty"):
        read_csv(b"  \n")
    with pytest.raises(FormatError, match="image_id.*file_name"):
        read_csv(b"x,y\n1,2\n")


def test_bad_delimiter_is_refused(sample_frame):
    with pytest.raises(FormatError, match="delimiter"):
        serialize_csv(sample_frame, delimiter='"')


def test_quoted_newlines_survive_in_a_big_file():
    """Values with newlines, in a file of many of Arrow's blocks read by its threads."""
    body = "".join(f'{i},img_{i}.jpg,4,3,cat,1,0,0,1,1\n' for i in range(1, 30_000))
    text = "image_id,file_name,width,height,category,category_id,x,y,w,h,description\n"
    text += "".join(line.rstrip("\n") + f',"first line\nsecond, {i}"\n'
                    for i, line in enumerate(body.splitlines(keepends=True)))
    frame = read_csv(text.encode())
    assert len(frame) == 29_999
    assert frame["description"].iloc[1234] == "first line\nsecond, 1234"


@pytest.mark.parametrize("rows, categories", [
    ([("b", ""), ("a", "5"), ("b", "7"), ("a", "9")], ["a", "b"]),    # a name's first row with an id wins
    ([("b", ""), ("a", ""), ("b", ""), ("a", "")], ["a", "b"]),        # no ids: by name
    ([("b", ""), ("a", ""), ("b", "3"), ("a", "")], ["b", "a"]),       # names without an id come last
])
def test_categories_ordered_by_the_first_class_id_of_each_name(rows, categories):
    """The first two boxes open the file, the last two close it, 30,000 image-only rows between."""
    lines = [f"{k},g.jpg,4,3,{name},{cid},0,0,1,1\n" for k, (name, cid) in enumerate(rows, start=1)]
    filler = [f"{i},f{i}.jpg,4,3,,,,,,\n" for i in range(10, 30_010)]
    frame = read_csv((HEADER + "\n" + "".join(lines[:2] + filler + lines[2:])).encode())
    assert list(frame["category"].cat.categories) == categories
    assert frame["category"].dropna().tolist() == [name for name, _ in rows]


def test_a_row_with_too_few_fields_is_named_by_its_line():
    data = b"file_name,x,y,w,h,category\na.jpg,1,2,3,4,cat\nb.jpg,1\n"
    with pytest.raises(FormatError, match=r"<bytes> line 3: malformed CSV: .*Expected 6 columns, got 2") \
            as caught:
        read_csv(data)
    assert caught.value.line == 3


@pytest.mark.parametrize("extra, bad_line, words", [
    (b"", b"7,g.jpg,4,3,cat,5,0,1,oops,2", "column 'w' line 150000: cannot read 'oops' as float64"),
    (b"", b"7,g.jpg,4,3,cat,5,0,1,2", "line 150000: malformed CSV: Expected 10 columns, got 9"),
    (b"", b"7,g\xff.jpg,4,3,cat,5,0,1,2,2", "line 150000: malformed CSV: b'\\xff' at byte"),
    # in a column outside the contract too: its values are not handed on as bytes
    (b",note", b"7,g.jpg,4,3,cat,5,0,1,2,2,caf\xe9", "line 150000: malformed CSV: b'\\xe9' at byte"),
])
def test_a_bad_line_deep_in_a_big_file_is_named(extra, bad_line, words):
    """Arrow reads the blocks of a large file in threads, whose errors carry no row number."""
    lines = [f"{i},f{i}.jpg,4,3,cat,5,0,1,2,2".encode() + extra.replace(b"note", b"ok") for i in range(2, 200_000)]
    lines[150_000 - 2] = bad_line
    with pytest.raises(FormatError) as caught:
        read_csv(HEADER.encode() + extra + b"\n" + b"\n".join(lines) + b"\n")
    assert words in str(caught.value)


@pytest.mark.parametrize("body, words", [
    # the bad row begins like the good rows before it: the line named is the one that is its text, whole
    ("7,g.jpg,4,3,cat,5,0,1,2,2\n" * 3 + "7,g.jpg,4,3,cat,5,0,1,2\n", "<bytes> line 5: malformed CSV"),
    ("7,g.jpg,4,3,cat,5,0,1,2,2\r\n7,g\r\n", "<bytes> line 3: malformed CSV"),
    ("7,g.jpg,4,3,cat,5,0,1,2,2\n7,g", "<bytes> line 3: malformed CSV"),
    # the first value an int column refuses, an infinite one before a null
    ("inf,a.jpg,4,3,cat,5,0,1,2,2\n,b.jpg,4,3,cat,5,0,1,2,2\n", "'image_id' line 2: cannot read inf as int64"),
])
def test_the_line_named_is_the_bad_one(body, words):
    with pytest.raises(FormatError) as caught:
        read_csv((HEADER + "\n" + body).encode())
    assert words in str(caught.value)
