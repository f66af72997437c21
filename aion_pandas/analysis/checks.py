"""Health checks of a canonical annotation frame: one row per finding, found with whole-array numpy.

>>> frame = pd.DataFrame({"image_id": [1, 1, 2], "file_name": ["a.jpg", "a.jpg", "b.jpg"],
...                       "width": [100, 100, 50], "height": [100, 100, 50],
...                       "category": pd.Categorical(["cat", "cat", "dog"]),
...                       "x": [10.0, 10.0, 40.0], "y": [10.0, 10.0, 0.0], "w": [20.0, 20.0, 30.0],
...                       "h": [20.0, 20.0, 10.0]})
>>> check(frame)[["kind", "row", "message"]].to_dict("records")   # doctest: +NORMALIZE_WHITESPACE
[{'kind': 'partly_outside', 'row': 2, 'message': 'box x 40..70, y 0..10 reaches 20.0 px past the 50x50 image'},
 {'kind': 'exact_duplicate', 'row': 1, 'message': 'same box and class as row 0'}]
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._frame import Columns, columns

#: the kinds of finding, in the order ``check`` lists them
KINDS: tuple[str, ...] = (
    "non_positive_size",    # a box with w <= 0 or h <= 0
    "outside_image",        # a box wholly outside its image
    "partly_outside",       # a box reaching more than `tolerance` px past an edge of its image
    "too_small",            # a box with a side under `min_size` px
    "exact_duplicate",      # the same box, class and image as an earlier row
    "near_duplicate",       # IoU >= `iou` with an earlier box of the same class and image
    "unknown_image_size",   # an image whose width or height is missing (or not positive)
    "class_without_boxes",  # a class the frame declares (its categories) with no box
    "crowd_mixed",          # a crowd box in an image that also has normal boxes of its class
    "score_out_of_range",   # a score outside [0, 1]
)
#: the columns of ``check``'s answer
FINDING_COLUMNS: tuple[str, ...] = ("kind", "row", "image_id", "file_name", "category",
                                    "x", "y", "w", "h", "message")


def _g(values: np.ndarray) -> list[str]:
    return [f"{v:g}" for v in values.tolist()]


def _box_findings(c: Columns, min_size: float, tolerance: float) -> list[tuple[str, np.ndarray, list[str]]]:
    box = c.has_box
    degenerate = box & ((c.w <= 0) | (c.h <= 0))
    ok = box & ~degenerate
    sized = ok & c.sized
    right, bottom = c.x + c.w, c.y + c.h
    wholly = sized & ((c.x >= c.width) | (c.y >= c.height) | (right <= 0) | (bottom <= 0))
    over = np.fmax.reduce([-c.x, -c.y, right - c.width, bottom - c.height])
    partly = sized & ~wholly & (over > tolerance)
    small = ok & ((c.w < min_size) | (c.h < min_size))
    out = []
    pos = np.flatnonzero(degenerate)
    out.append(("non_positive_size", pos, [f"box is {w} x {h} px: width and height must be positive"
                                           for w, h in zip(_g(c.w[pos]), _g(c.h[pos]))]))
    pos = np.flatnonzero(wholly)
    out.append(("outside_image", pos, [
        f"box x {x0}..{x1}, y {y0}..{y1} lies wholly outside the {iw}x{ih} image" for x0, x1, y0, y1, iw, ih in
        zip(_g(c.x[pos]), _g(right[pos]), _g(c.y[pos]), _g(bottom[pos]), _g(c.width[pos]), _g(c.height[pos]))]))
    pos = np.flatnonzero(partly)
    out.append(("partly_outside", pos, [
        f"box x {x0}..{x1}, y {y0}..{y1} reaches {o:.1f} px past the {iw}x{ih} image" for x0, x1, y0, y1, o, iw, ih
        in zip(_g(c.x[pos]), _g(right[pos]), _g(c.y[pos]), _g(bottom[pos]), over[pos].tolist(),
               _g(c.width[pos]), _g(c.height[pos]))]))
    pos = np.flatnonzero(small)
    out.append(("too_small", pos, [f"box is {w} x {h} px, a side under min_size={min_size:g} px"
                                   for w, h in zip(_g(c.w[pos]), _g(c.h[pos]))]))
    return out


def duplicates(c: Columns, iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact and near duplicates among the boxes of ``c``: ``(exact, exact_of, near, near_of, near_iou)``,
    row positions of each duplicate and of the earlier box it repeats (the best match for a near one).

    Boxes are sorted by (image and class, x, y, w, h): exact copies are neighbours; a near duplicate
    (IoU >= ``iou``) of a box can only start within ``(1 - iou) * w`` to its right, so the sweep
    compares each box with its next neighbours only while they are that close.

    >>> from aion_pandas.analysis._frame import columns
    >>> frame = pd.DataFrame({"image_id": [1, 1, 1], "file_name": "a.jpg", "width": 99, "height": 99,
    ...                       "category": pd.Categorical(["cat"] * 3), "x": [0.0, 0.0, 1.0],
    ...                       "y": 0.0, "w": 20.0, "h": 20.0})
    >>> [a.tolist() for a in duplicates(columns(frame, "check"), 0.9)[:4]]
    [[1], [0], [2], [0]]
    """
    pos = np.flatnonzero(c.has_box)
    group = c.image[pos] * (len(c.categories) + 1) + c.category[pos] + 1  # a box without a class is -1
    x, y, w, h = c.x[pos], c.y[pos], c.w[pos], c.h[pos]
    order = np.lexsort((h, w, y, x, group))  # stable: equal boxes keep frame order
    pos, group, x, y, w, h = pos[order], group[order], x[order], y[order], w[order], h[order]
    same = (group[1:] == group[:-1]) & (x[1:] == x[:-1]) & (y[1:] == y[:-1]) & (w[1:] == w[:-1]) & (h[1:] == h[:-1])
    repeat = np.concatenate([[False], same])[:len(pos)]
    starts = np.maximum.accumulate(np.where(repeat, 0, np.arange(len(pos))))
    exact, exact_of = pos[repeat], pos[starts[repeat]]

    keep = ~repeat & (w > 0) & (h > 0)
    pos, group, x, y, w, h = pos[keep], group[keep], x[keep], y[keep], w[keep], h[keep]
    reach = x + (1.0 - iou) * w + 1e-9 * np.abs(x)
    area = w * h
    left, right_of = [], []
    scores = []
    active = np.arange(len(pos) - 1)
    step = 1
    while active.size:
        other = active + step
        live = other < len(pos)
        active, other = active[live], other[live]
        live = (group[other] == group[active]) & (x[other] <= reach[active])
        active, other = active[live], other[live]
        if not active.size:
            break
        iw = np.minimum(x[active] + w[active], x[other] + w[other]) - x[other]
        ih = np.minimum(y[active] + h[active], y[other] + h[other]) - np.maximum(y[active], y[other])
        inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
        value = inter / (area[active] + area[other] - inter)
        hit = value >= iou
        left.append(active[hit])
        right_of.append(other[hit])
        scores.append(value[hit])
        step += 1
    a = pos[np.concatenate(left)] if left else np.empty(0, dtype=np.int64)
    b = pos[np.concatenate(right_of)] if left else a
    value = np.concatenate(scores) if left else np.empty(0)
    later, earlier = np.maximum(a, b), np.minimum(a, b)
    best = np.lexsort((-value, later))  # per reported box, its best match first
    first = np.concatenate([[True], later[best][1:] != later[best][:-1]])[:len(best)]
    pick = best[first]
    return exact, exact_of, later[pick], earlier[pick], value[pick]


def check(frame: pd.DataFrame, *, min_size: float = 2.0, iou: float = 0.9,
          tolerance: float = 0.5) -> pd.DataFrame:
    """One row per problem found in a canonical annotation frame (columns :data:`FINDING_COLUMNS`,
    ``kind`` one of :data:`KINDS`, in that order, then in frame order); a clean frame gives no rows.

    ``row`` is the box's index label in ``frame`` (so ``frame.drop(found["row"].dropna())`` drops
    them); ``<NA>`` for a class with no box. Thresholds:

    - ``min_size=2.0``: a box with a side shorter than this many pixels is ``too_small``;
    - ``iou=0.9``: a box overlapping an earlier box of the same class and image with IoU at least this
      is a ``near_duplicate`` (identical boxes are ``exact_duplicate``; the earlier row is not listed);
    - ``tolerance=0.5``: a box reaching more than this many pixels past an edge is ``partly_outside``
      (rounding in exports stays within it).

    Images of unknown size are listed once (``unknown_image_size``); their boxes skip the edge checks.

    >>> found = aion.read_export("instances.json").aion.check(iou=0.7)   # doctest: +SKIP
    >>> found["kind"].value_counts()                                   # doctest: +SKIP
    """
    if not 0 < iou <= 1:
        raise ValueError(f"check: iou must be in (0, 1], got {iou!r}")
    if min_size < 0 or tolerance < 0:
        raise ValueError(f"check: min_size and tolerance must be >= 0, got {min_size!r} and {tolerance!r}")
    c = columns(frame, "check")
    labels = frame.index
    found = _box_findings(c, min_size, tolerance)
    exact, exact_of, near, near_of, near_iou = duplicates(c, iou)
    found.append(("exact_duplicate", exact, [f"same box and class as row {labels[i]}" for i in exact_of]))
    found.append(("near_duplicate", near, [f"IoU {v:.2f} with row {labels[i]} (same class and image)"
                                           for i, v in zip(near_of, near_iou.tolist())]))
    found.append(_unknown_sizes(c))
    found.append(_unused_classes(c))
    found.append(_crowd_mixed(frame, c))
    found.append(_scores(frame, c))
    return _assemble(frame, c, found)


def _unknown_sizes(c: Columns) -> tuple[str, np.ndarray, list[str]]:
    first = c.first_row
    pos = first[~c.sized[first]]
    return ("unknown_image_size", pos, [
        f"image size unknown (width {'?' if np.isnan(w) else f'{w:g}'}, height "
        f"{'?' if np.isnan(h) else f'{h:g}'}): its boxes cannot be checked against the image"
        for w, h in zip(c.width[pos].tolist(), c.height[pos].tolist())])


def _unused_classes(c: Columns) -> tuple[str, np.ndarray, list[str], np.ndarray]:
    counts = np.bincount(c.category[c.has_box & (c.category >= 0)], minlength=len(c.categories))
    unused = np.flatnonzero(counts == 0)
    messages = [f"class {c.categories[k]!r} is declared but has no box" for k in unused]
    return ("class_without_boxes", np.full(len(unused), -1), messages, unused)


def _crowd_mixed(frame: pd.DataFrame, c: Columns) -> tuple[str, np.ndarray, list[str]]:
    if "iscrowd" not in frame.columns:
        return ("crowd_mixed", np.empty(0, dtype=np.int64), [])
    crowd = frame["iscrowd"].to_numpy(dtype="float64", na_value=0.0) > 0
    crowd &= c.has_box
    key = c.image * (len(c.categories) + 1) + c.category + 1
    normal_keys, normal_counts = np.unique(key[c.has_box & ~crowd], return_counts=True)
    pos = np.flatnonzero(crowd)
    at = np.clip(np.searchsorted(normal_keys, key[pos]), 0, max(len(normal_keys) - 1, 0))
    mixed = (normal_keys[at] == key[pos]) if len(normal_keys) else np.zeros(len(pos), bool)
    pos, n = pos[mixed], normal_counts[at[mixed]] if len(normal_keys) else np.empty(0, dtype=np.int64)
    return ("crowd_mixed", pos, [
        f"crowd box among {k} normal {c.categories[cat]!r} box(es) of this image: a trainer that ignores "
        "iscrowd learns it as one object" for k, cat in zip(n.tolist(), c.category[pos].tolist())])


def _scores(frame: pd.DataFrame, c: Columns) -> tuple[str, np.ndarray, list[str]]:
    if "score" not in frame.columns:
        return ("score_out_of_range", np.empty(0, dtype=np.int64), [])
    score = frame["score"].to_numpy(dtype="float64", na_value=np.nan)
    pos = np.flatnonzero((score < 0) | (score > 1))
    return ("score_out_of_range", pos, [f"score {s} is outside [0, 1]" for s in _g(score[pos])])


def _assemble(frame: pd.DataFrame, c: Columns, found: list[tuple[Any, ...]]) -> pd.DataFrame:
    found.sort(key=lambda f: KINDS.index(f[0]))
    kinds = np.concatenate([np.full(len(f[1]), KINDS.index(f[0])) for f in found]).astype(np.int8)
    pos = np.concatenate([np.asarray(f[1], dtype=np.int64) for f in found])
    messages = [m for f in found for m in f[2]]
    class_of = np.concatenate([f[3] if len(f) > 3 else np.full(len(f[1]), -1) for f in found])
    order = np.lexsort((pos, kinds))  # kind, then frame order
    kinds, pos, class_of = kinds[order], pos[order], class_of[order]
    messages = [messages[i] for i in order.tolist()]
    boxy = pos >= 0  # a finding about a box or an image (else about a class)
    at = np.where(boxy, pos, 0)

    def per_row(values: np.ndarray, fill: Any) -> np.ndarray:
        return np.where(boxy, values[at], fill) if len(values) else np.full(len(pos), fill)

    def nullable(values: np.ndarray) -> Any:
        out = pd.array(per_row(values, 0), dtype="Int64")
        out[~boxy] = pd.NA
        return out

    index = frame.index
    row: Any = (nullable(index.to_numpy()) if pd.api.types.is_integer_dtype(index.dtype) else
                np.array([index[i] if i >= 0 else None for i in pos.tolist()], dtype=object))
    codes = np.where(boxy, per_row(c.category, -1), class_of)
    image_id = nullable(frame["image_id"].to_numpy())
    return pd.DataFrame({
        "kind": pd.Categorical.from_codes(kinds, categories=list(KINDS)),
        "row": row,
        "image_id": image_id,
        "file_name": frame["file_name"].astype("string").array.take(np.where(boxy, pos, -1), allow_fill=True),
        "category": pd.Categorical.from_codes(codes, categories=pd.Index(c.categories, dtype="str")),
        "x": per_row(c.x, np.nan), "y": per_row(c.y, np.nan), "w": per_row(c.w, np.nan),
        "h": per_row(c.h, np.nan),
        "message": pd.array(messages, dtype="string"),
    })
