"""summary(): its numbers equal hand computations, on a small frame and on the same frame written in
each format and read back; compare(): per-class counts and shares side by side."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import aion_pandas as aion
from aion_pandas.analysis import summary
from aion_pandas.analysis.summaries import MEASURES

from .helpers import CLEAN, frame_of

FORMATS = {"csv": "boxes.csv", "coco": "instances.json", "yolo": "labels.zip", "pascal_voc": "voc.zip"}

# by hand, from helpers.CLEAN: boxes (w x h in image W x H)
#   a.jpg 100x80: cat 30x20, dog 50x40, cat 30x20;  b.jpg 200x100: owl 20x10, owl 10x10;  c.jpg 50x50: none
AREAS = [600.0, 2000.0, 600.0, 200.0, 100.0]
REL_AREAS = [600 / 8000, 2000 / 8000, 600 / 8000, 200 / 20000, 100 / 20000]
ASPECTS = [1.5, 1.25, 1.5, 2.0, 1.0]


def assert_hand_numbers(s) -> None:
    assert (s.images, s.boxes, s.images_without_boxes) == (3, 5, 1)
    assert s.boxes_per_image == {"mean": 5 / 3, "median": 2.0, "max": 3.0}
    assert s.classes.index.tolist() == ["cat", "dog", "owl"]
    assert s.classes["boxes"].tolist() == [2, 1, 2]
    assert s.classes["share"].tolist() == pytest.approx([0.4, 0.2, 0.4])
    assert s.classes["images"].tolist() == [1, 1, 1]
    assert s.sizes.loc["area (px²)", "50%"] == pytest.approx(600.0)
    assert s.sizes.loc["area (px²)"].tolist() == pytest.approx(np.quantile(AREAS, [0, .05, .25, .5, .75, .95, 1]))
    assert s.sizes.loc["area (share of image)", "max"] == pytest.approx(max(REL_AREAS))
    assert s.sizes.loc["area (share of image)", "min"] == pytest.approx(min(REL_AREAS))
    assert s.sizes.loc["aspect (w/h)", "50%"] == pytest.approx(np.median(ASPECTS))
    assert s.sizes.loc["width (share of image)", "max"] == pytest.approx(0.5)
    assert s.sizes.loc["height (px)", "min"] == pytest.approx(10.0)
    assert s.image_sizes.to_dict("list") == {"width": [50, 100, 200], "height": [50, 80, 100], "images": [1, 1, 1]}


def test_summary_equals_the_hand_computation(clean_frame):
    s = clean_frame.aion.summary()
    assert_hand_numbers(s)
    assert s.sizes.index.tolist() == list(MEASURES)
    assert s.sizes.columns.tolist() == ["min", "5%", "25%", "50%", "75%", "95%", "max"]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_summary_of_each_format_read_back_equals_the_hand_computation(fmt, tmp_path, clean_frame):
    path = tmp_path / FORMATS[fmt]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", aion.formats.LossyConversionWarning)  # VOC drops scores
        aion.write_export(clean_frame, path, fmt)
    back = aion.read_export(path)
    assert back.attrs["format"] == fmt
    s = back.aion.summary()
    assert_hand_numbers(s)
    assert s.source == str(path)


def test_to_frame_lays_every_number_out_and_the_reprs_say_them(clean_frame):
    s = summary(clean_frame)
    table = s.to_frame()
    assert table.index.names == ["section", "name"] and table.columns.tolist() == ["value"]
    assert table.loc["totals", "value"].to_dict() == {"images": 3.0, "boxes": 5.0, "images without boxes": 1.0,
                                                      "classes": 3.0}
    assert table.loc["class boxes", "value"].to_dict() == {"cat": 2.0, "dog": 1.0, "owl": 2.0}
    assert table.loc["boxes per image", "value"]["median"] == 2.0
    assert table.loc[("area (px²)", "50%"), "value"] == 600.0
    assert table.loc["image sizes", "value"].to_dict() == {"50x50": 1.0, "100x80": 1.0, "200x100": 1.0}
    assert repr(s) == ("Summary(3 images, 5 boxes, 1 image without boxes, 3 classes; boxes per image: "
                       "mean 1.67, median 2, max 3)")
    page = s._repr_html_()
    assert "3 images, 5 boxes, 1 without boxes, 3 classes" in page
    assert "<i>classes</i>" in page and "40.0%" in page and "200" in page


def test_datasets_and_unknown_sizes_count_as_they_should():
    frame = frame_of(CLEAN + [(1, "a.jpg", None, None, "cat", 0.0, 0.0, 4.0, 2.0, 0.5)])
    frame.loc[6, "dataset_id"] = "another"   # image 1 of another dataset: a fourth image
    s = summary(frame)
    assert (s.images, s.boxes, s.images_without_boxes) == (4, 6, 1)
    assert s.classes["images"].tolist() == [2, 1, 1]
    assert s.sizes.loc["area (px²)", "min"] == 8.0                         # pixels: every box
    assert s.sizes.loc["area (share of image)", "min"] == pytest.approx(100 / 20000)  # not the unsized one
    assert s.image_sizes.iloc[-1].isna()[["width", "height"]].all() and s.image_sizes.iloc[-1]["images"] == 1


def test_a_frame_without_boxes_summarises_to_zeros():
    s = summary(frame_of([(1, "a.jpg", 10, 10, None, None, None, None, None, None)], classes=["cat"]))
    assert (s.images, s.boxes, s.images_without_boxes) == (1, 0, 1)
    assert s.classes["boxes"].tolist() == [0] and s.classes["share"].tolist() == [0.0]
    assert s.sizes.isna().all().all()
    assert "0 boxes" in repr(s)


def test_summary_of_something_else_says_what_is_missing():
    with pytest.raises(ValueError, match="summary needs a canonical annotation frame .* missing columns: x"):
        summary(frame_of(CLEAN).drop(columns="x"))


def test_compare_puts_classes_side_by_side():
    train = frame_of(CLEAN, classes=["cat", "dog", "owl", "yak"])
    val = frame_of([(9, "v.jpg", 10, 10, "cat", 0.0, 0.0, 1.0, 1.0, None),
                    (9, "v.jpg", 10, 10, "emu", 0.0, 0.0, 2.0, 1.0, None),
                    (9, "v.jpg", 10, 10, "emu", 5.0, 0.0, 2.0, 1.0, None),
                    (3, "c.jpg", 50, 50, None, None, None, None, None, None)], classes=["cat", "emu"])
    out = aion.compare(train, val, names=("train", "val"))
    assert out.index.tolist() == ["cat", "dog", "owl", "yak", "emu"]
    assert out["boxes_train"].tolist() == [2, 1, 2, 0, 0] and out["boxes_val"].tolist() == [1, 0, 0, 0, 2]
    assert out["share_train"].tolist() == pytest.approx([0.4, 0.2, 0.4, 0, 0])
    assert out["share_val"].tolist() == pytest.approx([1 / 3, 0, 0, 0, 2 / 3])
    assert out["share_diff"].tolist() == pytest.approx([1 / 3 - 0.4, -0.2, -0.4, 0, 2 / 3])
    assert out["only"].tolist() == [pd.NA, "train", "train", pd.NA, "val"]
    assert out.attrs == {"images": {"train": 3, "val": 2}, "boxes": {"train": 5, "val": 3},
                         "shared_file_names": ["c.jpg"]}
    assert aion.compare(train, train)["share_diff"].eq(0).all()
    with pytest.raises(ValueError, match="names must differ"):
        aion.compare(train, val, names=("x", "x"))
