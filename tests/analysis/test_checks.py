"""check(): each kind of problem planted in a frame made here is found, exactly, and nothing else is;
a clean frame gives no rows; the thresholds move the results as documented."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import aion_pandas  # noqa: F401  (registers df.aion)
from aion_pandas.analysis import FINDING_COLUMNS, KINDS, check

from .helpers import CLEAN, frame_of, with_rows


def found(frame: pd.DataFrame, **kw) -> list[tuple[str, object]]:
    out = frame.aion.check(**kw)
    return [(kind, None if pd.isna(row) else row) for kind, row in zip(out["kind"].astype(str), out["row"])]


def test_a_clean_frame_has_no_findings_and_the_columns_of_one(clean_frame):
    out = check(clean_frame)
    assert out.empty and tuple(out.columns) == FINDING_COLUMNS
    assert list(out["kind"].cat.categories) == list(KINDS)
    assert str(out["image_id"].dtype) == "Int64" and str(out["message"].dtype) == "string"
    assert list(out["category"].cat.categories) == ["cat", "dog", "owl"]


# each case: the clean frame with one problem planted -> exactly these (kind, row) findings
CASES = {
    "zero width": (with_rows((2, "b.jpg", 200, 100, "owl", 5.0, 5.0, 0.0, 10.0, 0.5)),
                   [("non_positive_size", 6)]),
    "zero height": (with_rows(replace={1: (1, "a.jpg", 100, 80, "dog", 50.0, 40.0, 50.0, 0.0, 0.8)}),
                    [("non_positive_size", 1)]),
    "wholly outside (right)": (with_rows((1, "a.jpg", 100, 80, "dog", 100.0, 10.0, 5.0, 5.0, 0.8)),
                               [("outside_image", 6)]),
    "wholly outside (above)": (with_rows((2, "b.jpg", 200, 100, "owl", 10.0, -30.0, 20.0, 30.0, 0.5)),
                               [("outside_image", 6)]),
    "partly outside (right)": (with_rows((1, "a.jpg", 100, 80, "dog", 60.0, 10.0, 45.0, 5.0, 0.8)),
                               [("partly_outside", 6)]),
    "partly outside (left)": (with_rows((2, "b.jpg", 200, 100, "owl", -3.0, 60.0, 20.0, 10.0, 0.5)),
                              [("partly_outside", 6)]),
    "too small": (with_rows((2, "b.jpg", 200, 100, "owl", 100.0, 10.0, 1.5, 10.0, 0.5)),
                  [("too_small", 6)]),
    "exact duplicate": (with_rows(CLEAN[3]), [("exact_duplicate", 6)]),
    "three copies": (with_rows(CLEAN[0], CLEAN[0]), [("exact_duplicate", 6), ("exact_duplicate", 7)]),
    "near duplicate": (with_rows((1, "a.jpg", 100, 80, "dog", 51.0, 40.0, 49.0, 40.0, 0.3)),  # IoU 0.98
                       [("near_duplicate", 6)]),
    "unknown image size": (with_rows((4, "d.jpg", None, None, "cat", 1.0, 1.0, 5.0, 5.0, 0.5),
                                     (4, "d.jpg", None, None, "dog", 1.0, 1.0, 500.0, 5.0, 0.5)),
                           [("unknown_image_size", 6)]),   # once per image; no edge check without a size
    "class without boxes": (with_rows(classes=["cat", "dog", "owl", "yak"]), [("class_without_boxes", None)]),
    "score above 1": (with_rows(replace={4: (2, "b.jpg", 200, 100, "owl", 150.0, 50.0, 10.0, 10.0, 1.2)}),
                      [("score_out_of_range", 4)]),
    "score below 0": (with_rows(replace={0: (1, "a.jpg", 100, 80, "cat", 10.0, 10.0, 30.0, 20.0, -0.1)}),
                      [("score_out_of_range", 0)]),
    "crowd among normal boxes": (with_rows(iscrowd=[False, False, True, False, False, None]),
                                 [("crowd_mixed", 2)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_problem_is_found_exactly(name):
    frame, expected = CASES[name]
    assert found(frame) == expected


def test_findings_name_the_image_the_box_and_what_is_wrong():
    frame = with_rows((1, "a.jpg", 100, 80, "dog", 60.0, 10.0, 45.0, 5.0, 0.8), CLEAN[3],
                      classes=["cat", "dog", "owl", "yak"])
    out = check(frame)
    assert out["kind"].tolist() == ["partly_outside", "exact_duplicate", "class_without_boxes"]
    first = out.iloc[0]
    assert (first["image_id"], first["file_name"], first["category"]) == (1, "a.jpg", "dog")
    assert (first["x"], first["y"], first["w"], first["h"]) == (60.0, 10.0, 45.0, 5.0)
    assert first["message"] == "box x 60..105, y 10..15 reaches 5.0 px past the 100x80 image"
    assert out.iloc[1]["message"] == "same box and class as row 3"
    last = out.iloc[2]
    assert last["image_id"] is pd.NA and last["file_name"] is pd.NA and np.isnan(last["x"])
    assert last["category"] == "yak" and last["message"] == "class 'yak' is declared but has no box"


def test_a_crowd_box_alone_in_its_class_and_image_is_not_a_mix():
    frame = with_rows(iscrowd=[False, False, False, True, False, None])  # owl crowd beside a normal owl
    assert found(frame) == [("crowd_mixed", 3)]
    frame = with_rows(iscrowd=[True, False, True, False, False, None])   # every cat of image 1 crowd
    assert found(frame) == []


@pytest.mark.parametrize("other", [
    (1, "a.jpg", 100, 80, "owl", 10.0, 10.0, 30.0, 20.0, 0.9),   # the same box, another class
    (2, "b.jpg", 200, 100, "cat", 10.0, 10.0, 30.0, 20.0, 0.9),  # the same box, another image
    (1, "a.jpg", 100, 80, "dog", 58.0, 40.0, 42.0, 40.0, 0.3),   # same class and image, IoU 0.84
])
def test_what_is_not_a_duplicate(other):
    assert found(with_rows(other)) == []


def test_the_same_image_id_in_two_datasets_is_two_images():
    frame = with_rows(CLEAN[0])
    frame.loc[6, "dataset_id"] = "other"
    assert found(frame) == []
    frame.loc[6, "dataset_id"] = "ds"
    assert found(frame) == [("exact_duplicate", 6)]


def test_rows_are_the_frame_s_own_index_labels():
    frame = with_rows(CLEAN[3])
    frame.index = [f"r{i}" for i in range(len(frame))]
    out = check(frame)
    assert out["row"].tolist() == ["r6"] and out["message"].tolist() == ["same box and class as row r3"]
    shuffled = with_rows(CLEAN[3]).iloc[::-1]  # frame order is the order given, labels kept
    assert found(shuffled) == [("exact_duplicate", 3)]


def test_min_size_moves_too_small():
    frame = with_rows((2, "b.jpg", 200, 100, "owl", 100.0, 10.0, 1.5, 10.0, 0.5),
                      (2, "b.jpg", 200, 100, "owl", 120.0, 10.0, 3.0, 3.0, 0.5))
    assert found(frame) == [("too_small", 6)]                       # default min_size=2
    assert found(frame, min_size=1) == []
    assert found(frame, min_size=4) == [("too_small", 6), ("too_small", 7)]
    assert found(frame, min_size=10.5) == [("too_small", k) for k in (3, 4, 6, 7)]  # h=10 and 10x10


def test_iou_moves_near_duplicate():
    frame = with_rows((1, "a.jpg", 100, 80, "dog", 58.0, 40.0, 42.0, 40.0, 0.3))  # IoU 42/50 = 0.84
    assert found(frame) == []                                       # default iou=0.9
    assert found(frame, iou=0.84) == [("near_duplicate", 6)]
    assert found(frame, iou=0.85) == []
    assert check(frame, iou=0.8)["message"].tolist() == ["IoU 0.84 with row 1 (same class and image)"]


def test_tolerance_moves_partly_outside():
    frame = with_rows((1, "a.jpg", 100, 80, "dog", 60.0, 10.0, 40.4, 5.0, 0.8))  # 0.4 px past
    assert found(frame) == []                                       # default tolerance=0.5
    assert found(frame, tolerance=0) == [("partly_outside", 6)]
    assert found(with_rows((1, "a.jpg", 100, 80, "dog", 60.0, 10.0, 41.0, 5.0, 0.8))) == [("partly_outside", 6)]


def test_a_near_duplicate_names_its_best_match():
    frame = with_rows((1, "a.jpg", 100, 80, "cat", 10.0, 11.0, 30.0, 20.0, 0.1),   # IoU 0.9 with row 0
                      (1, "a.jpg", 100, 80, "cat", 11.0, 10.0, 30.0, 20.0, 0.1))   # 0.94 with 0, 0.87 with 6
    out = check(frame, iou=0.85)
    assert out["row"].tolist() == [6, 7]
    assert out["message"].tolist() == ["IoU 0.90 with row 0 (same class and image)",
                                       "IoU 0.94 with row 0 (same class and image)"]


def _brute_force(frame: pd.DataFrame, iou: float) -> tuple[set, set]:
    """Every pair of boxes, one by one: the later row of an identical pair, and of a near pair."""
    rows = [r for r in frame.itertuples() if not np.isnan(r.x)]
    exact, near = set(), set()
    for a, b in itertools.combinations(rows, 2):
        if (a.dataset_id, a.image_id, a.category) != (b.dataset_id, b.image_id, b.category):
            continue
        if (a.x, a.y, a.w, a.h) == (b.x, b.y, b.w, b.h):
            exact.add(b.Index)
    for a, b in itertools.combinations(rows, 2):
        if (a.dataset_id, a.image_id, a.category) != (b.dataset_id, b.image_id, b.category):
            continue
        if a.Index in exact or b.Index in exact or a.w * a.h <= 0 or b.w * b.h <= 0:
            continue
        iw = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
        ih = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
        inter = max(iw, 0) * max(ih, 0)
        if inter / (a.w * a.h + b.w * b.h - inter) >= iou:
            near.add(b.Index)
    return exact, near


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_duplicate_search_equals_comparing_every_pair(seed):
    rng = np.random.default_rng(seed)
    n = 600
    image = rng.integers(1, 11, n)
    base = rng.integers(0, 5, (n, 2)) * 10.0          # few positions, so boxes pile up
    size = rng.choice([20.0, 22.0], (n, 2))
    jitter = rng.choice([0.0, 0.0, 0.0, 0.5, 1.0], (n, 2))
    rows = [(int(i), f"{i}.jpg", 200, 200, ["cat", "dog"][k], float(x), float(y), float(w), float(h), 0.5)
            for i, k, (x, y), (w, h) in zip(image, rng.integers(0, 2, n), base + jitter, size)]
    frame = frame_of(rows, classes=["cat", "dog"])
    frame = frame.sample(frac=1, random_state=seed)   # not in image order
    for iou in (0.7, 0.9):
        exact, near = _brute_force(frame, iou)
        out = check(frame, iou=iou)
        assert set(out.loc[out["kind"] == "exact_duplicate", "row"]) == exact and exact
        assert set(out.loc[out["kind"] == "near_duplicate", "row"]) == near and near


def test_an_image_only_frame_and_an_empty_frame():
    only = frame_of([(1, "a.jpg", 10, 10, None, None, None, None, None, None)], classes=["cat"])
    assert found(only) == [("class_without_boxes", None)]
    empty = frame_of([], classes=[])
    assert check(empty).empty and tuple(check(empty).columns) == FINDING_COLUMNS


def test_a_frame_that_is_not_an_annotation_frame_is_told_what_is_missing():
    with pytest.raises(ValueError, match=r"check needs a canonical annotation frame .* missing columns: "
                                         r"width, height, category, x, y, w, h"):
        check(pd.DataFrame({"image_id": [1], "file_name": ["a.jpg"]}))
    with pytest.raises(TypeError, match="check needs a pandas DataFrame"):
        check([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"iou must be in \(0, 1\], got 1.5"):
        check(frame_of(CLEAN), iou=1.5)
    with pytest.raises(ValueError, match="min_size and tolerance must be >= 0"):
        check(frame_of(CLEAN), min_size=-1)


def test_negative_sizes_from_an_unchecked_frame_are_non_positive():
    frame = frame_of(CLEAN, validate=False)   # validate_frame would refuse w < 0
    frame.loc[0, "w"] = -5.0
    assert found(frame) == [("non_positive_size", 0)]


def test_a_box_without_a_class_in_an_unchecked_frame_is_no_duplicate_of_another_image_s_box():
    rows = [(1, "a.jpg", 100, 80, "owl", 10.0, 10.0, 30.0, 20.0, None),   # the last class of image 1 ...
            (2, "b.jpg", 100, 80, None, 10.0, 10.0, 30.0, 20.0, None)]    # ... and no class in image 2
    frame = frame_of(rows, validate=False)
    assert found(frame) == [("class_without_boxes", None), ("class_without_boxes", None)]
