"""The canonical annotation frame as numpy columns, for the vectorized summary, checks and plots.

>>> frame = pd.DataFrame({"image_id": [1, 1, 2], "file_name": ["a.jpg", "a.jpg", "b.jpg"],
...                       "width": [10, 10, 20], "height": [10, 10, 20],
...                       "category": pd.Categorical(["cat", "dog", None]),
...                       "x": [0.0, 1.0, None], "y": [0.0, 1.0, None], "w": [2.0, 3.0, None],
...                       "h": [2.0, 3.0, None]})
>>> cols = columns(frame, "summary")
>>> cols.n_images, int(cols.has_box.sum()), cols.image.tolist()
(2, 2, [0, 0, 1])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: what the summary, the checks and the plots need of a frame (``score``, ``iscrowd``, ``dataset_id``
#: are used when present)
REQUIRED: tuple[str, ...] = ("image_id", "file_name", "width", "height", "category", "x", "y", "w", "h")


def require_annotations(frame: object, what: str) -> pd.DataFrame:
    """``frame`` itself when it is a canonical annotation frame; else a ``TypeError``/``ValueError``
    naming ``what`` was called and the columns that are missing.

    >>> require_annotations(pd.DataFrame({"x": [1.0]}), "check")
    Traceback (most recent call last):
    ...
    ValueError: check needs a canonical annotation frame (one row per box); missing columns: image_id, \
file_name, width, height, category, y, w, h. Read one with aion.read_export(...) or df.aion.load(...).
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} needs a pandas DataFrame (a canonical annotation frame), "
                        f"got {type(frame).__name__}")
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs a canonical annotation frame (one row per box); missing columns: "
                         f"{', '.join(missing)}. Read one with aion.read_export(...) or df.aion.load(...).")
    return frame


def _floats(col: pd.Series) -> np.ndarray:
    return col.to_numpy(dtype="float64", na_value=np.nan)


def _codes(values: pd.Series) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), len(uniques)


@dataclass(frozen=True)
class Columns:
    """One frame's columns as arrays: per row the image (0..n_images-1 in order of appearance), the
    box, its image's size (NaN when unknown) and its class code (-1 on an image-only row)."""

    image: np.ndarray
    n_images: int
    first_row: np.ndarray  # per image, the position of its first row
    x: np.ndarray
    y: np.ndarray
    w: np.ndarray
    h: np.ndarray
    width: np.ndarray
    height: np.ndarray
    has_box: np.ndarray
    category: np.ndarray
    categories: list[str]

    @property
    def sized(self) -> np.ndarray:
        """Rows whose image has a known, positive size."""
        return (self.width > 0) & (self.height > 0)


def image_codes(frame: pd.DataFrame) -> np.ndarray:
    """Per row, its image: the same ``(dataset_id, image_id)``, numbered in order of appearance
    (image ids are unique within one dataset only; a frame may hold several)."""
    image, n_image = _codes(frame["image_id"])
    if "dataset_id" in frame.columns and len(frame):
        dataset, n_dataset = _codes(frame["dataset_id"])
        if n_dataset > 1:
            image, _ = _codes(pd.Series(dataset * n_image + image))
    return image


def columns(frame: pd.DataFrame, what: str) -> Columns:
    """The arrays of ``frame`` (checked with :func:`require_annotations`)."""
    require_annotations(frame, what)
    image = image_codes(frame)
    n_images = int(image.max()) + 1 if len(image) else 0
    # codes number images in order of appearance: a row starts an image when its code passes all before
    seen = np.maximum.accumulate(image) if len(image) else image
    first = np.flatnonzero(image > np.concatenate([[-1], seen[:-1]]))
    cat = frame["category"]
    if not isinstance(cat.dtype, pd.CategoricalDtype):
        cat = cat.astype("category")
    x = _floats(frame["x"])
    return Columns(image=image, n_images=n_images, first_row=first, x=x, y=_floats(frame["y"]),
                   w=_floats(frame["w"]), h=_floats(frame["h"]), width=_floats(frame["width"]),
                   height=_floats(frame["height"]), has_box=~np.isnan(x),
                   category=cat.cat.codes.to_numpy().astype(np.int64),
                   categories=[str(c) for c in cat.cat.categories])
