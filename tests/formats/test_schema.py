"""The canonical frame contract: validation, box conversions, conversion warnings."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from aion_pandas.errors import FormatError
from aion_pandas.formats import (CORE_COLUMNS, LossyConversionWarning, from_cxcywh_norm, from_xyxy,
                                 to_cxcywh_norm, to_xyxy, validate_frame, warn_unsupported)
from aion_pandas.formats.schema import unsupported_counts


def _raw(**overrides):
    base = {"file_name": ["a.jpg", "b.jpg"], "width": [10, 20], "height": [10, 20],
            "category": ["cat", None], "x": [1, None], "y": [2, None], "w": [3, None], "h": [4, None]}
    base.update(overrides)
    return pd.DataFrame(base)


def test_validate_fills_and_orders_the_contract():
    frame = validate_frame(_raw())
    assert list(frame.columns[:len(CORE_COLUMNS)]) == list(CORE_COLUMNS)
    for name, dtype in CORE_COLUMNS.items():
        assert str(frame[name].dtype) == dtype, name
    assert frame["image_id"].tolist() == [1, 2]          # from sorted file names
    assert frame["dataset_id"].isna().all() and frame["score"].isna().all()


@pytest.mark.parametrize("overrides, column, row, words", [
    ({"x": ["1", "abc"]}, "x", 1, "cannot read 'abc'"),
    ({"width": [10, 2.5]}, "width", 1, "cannot read 2.5"),
    ({"w": [-3, None]}, "w", 0, "negative box size"),
    ({"h": [4, 5]}, "x", 1, "box is incomplete"),
    ({"category": [None, None]}, "category", 0, "without a category"),
    ({"iscrowd": ["true", "maybe"]}, "iscrowd", 1, "cannot read 'maybe'"),
    ({"tags": ['["a"]', "not json"]}, "tags", 1, "JSON array"),
])
def test_validate_names_column_and_row(overrides, column, row, words):
    with pytest.raises(FormatError) as info:
        validate_frame(_raw(**overrides), where="my.csv")
    message = str(info.value)
    assert message.startswith("my.csv: ")
    assert f"'{column}'" in message and f"row {row}" in message and words in message


@pytest.mark.parametrize("values, expected", [
    (["true", "false"], [True, False]), ([1, 0], [True, False]), (["1", ""], [True, None]),
    ([True, None], [True, None]),
])
def test_validate_reads_flags(values, expected):
    frame = validate_frame(_raw(iscrowd=values))
    assert frame["iscrowd"].dtype == "boolean"
    assert [None if v is pd.NA else bool(v) for v in frame["iscrowd"]] == expected


def test_validate_keeps_unknown_columns_and_attrs():
    raw = _raw(my_note=["x", "y"])
    raw.attrs["format"] = "csv"
    frame = validate_frame(raw)
    assert frame.columns[-1] == "my_note" and frame.attrs["format"] == "csv"


def test_validate_needs_a_frame_and_an_image_key():
    with pytest.raises(FormatError, match="DataFrame"):
        validate_frame([1, 2])
    with pytest.raises(FormatError, match="image_id.*file_name"):
        validate_frame(pd.DataFrame({"x": [1.0]}))


@pytest.mark.parametrize("xywh, xyxy", [
    ([0, 0, 1, 1], [0, 0, 1, 1]),
    ([10.5, 20, 30, 40], [10.5, 20, 40.5, 60]),
    ([5, 5, 0, 0], [5, 5, 5, 5]),
])
def test_xyxy_table(xywh, xyxy):
    assert to_xyxy(np.array([xywh])).tolist() == [xyxy]
    assert from_xyxy(np.array([xyxy])).tolist() == [[float(v) for v in xywh]]


@pytest.mark.parametrize("xywh, size, cxcywh", [
    ([0, 0, 100, 50], (100, 50), [0.5, 0.5, 1, 1]),
    ([10, 20, 30, 40], (100, 200), [0.25, 0.2, 0.3, 0.2]),
    ([90, 0, 10, 10], (100, 100), [0.95, 0.05, 0.1, 0.1]),
])
def test_cxcywh_table(xywh, size, cxcywh):
    got = to_cxcywh_norm(np.array([xywh]), width=size[0], height=size[1])
    np.testing.assert_allclose(got, [cxcywh])
    np.testing.assert_allclose(from_cxcywh_norm(got, width=size[0], height=size[1]), [xywh])


def test_conversions_on_a_frame_use_its_sizes(sample_frame):
    boxes = sample_frame[sample_frame["x"].notna()]
    norm = to_cxcywh_norm(boxes)
    back = from_cxcywh_norm(norm, boxes["width"], boxes["height"])
    np.testing.assert_allclose(back, boxes[["x", "y", "w", "h"]].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(from_xyxy(to_xyxy(boxes)), boxes[["x", "y", "w", "h"]].to_numpy())


def test_array_without_sizes_is_refused():
    with pytest.raises(ValueError, match="width and height"):
        to_cxcywh_norm(np.zeros((1, 4)))


def test_unsupported_counts_count_boxes_and_images(sample_frame):
    counts = unsupported_counts(sample_frame, ["score", "iscrowd", "tags", "description", "area"])
    assert counts == {"score": (5, "boxes"), "iscrowd": (1, "boxes"), "tags": (2, "images"),
                      "description": (2, "images")}


def test_warn_unsupported_is_one_warning_with_counts(sample_frame):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_unsupported(sample_frame, "pascal_voc", ["score", "tags", "iscrowd"])
    assert len(caught) == 1 and issubclass(caught[0].category, LossyConversionWarning)
    assert issubclass(LossyConversionWarning, UserWarning)
    assert str(caught[0].message) == "pascal_voc cannot carry: score (5 boxes), tags (2 images), iscrowd (1 box)"
    assert caught[0].filename == __file__  # points at the caller, not at the package


def test_warn_unsupported_is_silent_when_nothing_is_lost(sample_frame):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_unsupported(sample_frame.assign(score=np.nan), "yolo", ["score"]) == {}
        assert warn_unsupported(sample_frame, "yolo", {"score": (0, "boxes")}) == {}


@pytest.mark.parametrize("value", [1.5, 1e20, np.inf, 2.0**63, 2.0**53])  # a float of 2**53 or more: which int?
def test_an_id_is_never_cut_or_wrapped_into_an_int(value):
    frame = pd.DataFrame({"image_id": [1.0, value], "file_name": ["a.jpg", "b.jpg"]})
    with pytest.raises(FormatError, match="column 'image_id' row 1: cannot read"):
        validate_frame(frame)
    assert validate_frame(frame.head(1))["image_id"].tolist() == [1]


def test_ints_that_a_float_holds_exactly_or_that_are_text_are_read_exactly():
    frame = pd.DataFrame({"image_id": [1.0, 2.0**53 - 1], "file_name": ["a.jpg", "b.jpg"],
                          "category_id": pd.Series(["9007199254740993", None], dtype=object)})
    out = validate_frame(frame)
    assert out["image_id"].tolist() == [1, 2**53 - 1]
    assert out["category_id"].tolist()[0] == 9007199254740993 and out["category_id"].isna().tolist() == [False, True]


@pytest.mark.parametrize("column, values, dtype", [
    ("image_id", [1.0, 1.5], "Float64"), ("width", [3.0, 1e20], "Float64"), ("image_id", [1, 2**63], "UInt64"),
    ("image_id", ["1", "9223372036854775808"], "string[pyarrow]"), ("category_id", ["1", "1.5"], "string"),
    ("image_id", ["1.0", "9007199254740993"], "string"),  # to_numeric's floats would round it to ...992
    ("image_id", ["9007199254740993", "oops"], "object"),  # the bad value named, not the big one
])
def test_pandas_own_number_types_are_never_cut_or_wrapped_either(column, values, dtype):
    frame = pd.DataFrame({"image_id": [1, 2], column: pd.Series(values, dtype=dtype)})
    with pytest.raises(FormatError, match=f"column '{column}' row 1: cannot read"):
        validate_frame(frame)
