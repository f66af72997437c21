"""Small annotation frames made by code, with known problems, for the analysis tests."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aion_pandas.formats.schema import categorical, validate_frame

CLASSES = ["cat", "dog", "owl"]
COLUMNS = ("image_id", "file_name", "width", "height", "category", "x", "y", "w", "h", "score")


def frame_of(rows: list[tuple], classes: list[str] = CLASSES, validate: bool = True,
             **extras: list[Any]) -> pd.DataFrame:
    """A canonical frame from (image_id, file_name, width, height, category, x, y, w, h, score) rows;
    ``category`` None is an image-only row; ``extras`` are more columns (``iscrowd=[...]``)."""
    cols = dict(zip(COLUMNS, zip(*rows))) if rows else {c: () for c in COLUMNS}
    codes = np.array([classes.index(c) if c is not None else -1 for c in cols["category"]], dtype=np.int64)
    frame = pd.DataFrame({
        "dataset_id": pd.array(["ds"] * len(rows), dtype="string"),
        "image_id": np.array(cols["image_id"], dtype=np.int64),
        "file_name": pd.array(list(cols["file_name"]), dtype="string"),
        "width": pd.array(list(cols["width"]), dtype="Int64"),
        "height": pd.array(list(cols["height"]), dtype="Int64"),
        "category": categorical(codes, classes),
        **{c: np.array([np.nan if v is None else v for v in cols[c]], dtype=float) for c in "xywh"},
        "score": np.array([np.nan if v is None else v for v in cols["score"]], dtype=float),
        **extras,
    })
    return validate_frame(frame) if validate else frame


#: three images, every class used, boxes inside their images, one image without boxes
CLEAN = [
    (1, "a.jpg", 100, 80, "cat", 10.0, 10.0, 30.0, 20.0, 0.9),
    (1, "a.jpg", 100, 80, "dog", 50.0, 40.0, 50.0, 40.0, 0.8),   # touches the right and bottom edges
    (1, "a.jpg", 100, 80, "cat", 12.0, 40.0, 30.0, 20.0, 0.7),   # a second cat, no overlap
    (2, "b.jpg", 200, 100, "owl", 0.0, 0.0, 20.0, 10.0, 0.5),
    (2, "b.jpg", 200, 100, "owl", 150.0, 50.0, 10.0, 10.0, 1.0),
    (3, "c.jpg", 50, 50, None, None, None, None, None, None),
]


def clean() -> pd.DataFrame:
    return frame_of(CLEAN)


def with_rows(*rows: tuple, replace: dict[int, tuple] | None = None, **kw: Any) -> pd.DataFrame:
    """CLEAN with rows replaced (by position) and appended."""
    base = list(CLEAN)
    for i, row in (replace or {}).items():
        base[i] = row
    return frame_of(base + list(rows), **kw)
