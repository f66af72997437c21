"""Box conversions: canonical pixel ``x, y, w, h`` <-> corners (VOC) and normalized centres (YOLO).

Each takes a canonical frame or an ``(N, 4)`` array and returns an ``(N, 4)`` float64 array.

>>> xyxy = to_xyxy(np.array([[10, 20, 30, 40]]))
>>> from_xyxy(xyxy).tolist()
[[10.0, 20.0, 30.0, 40.0]]
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

BOX_COLUMNS: tuple[str, ...] = ("x", "y", "w", "h")


def _xywh(boxes: pd.DataFrame | np.ndarray) -> np.ndarray:
    if isinstance(boxes, pd.DataFrame):
        return boxes[list(BOX_COLUMNS)].to_numpy(dtype="float64", na_value=np.nan)
    arr = np.asarray(boxes, dtype="float64")
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"expected boxes of shape (N, 4), got {arr.shape}")
    return arr


def _numbers(values: Any) -> Any:
    """A scalar size as it is, a column of sizes as float64 (nulls: NaN)."""
    if np.isscalar(values):
        return np.float64(values)
    return pd.Series(values).to_numpy(dtype="float64", na_value=np.nan)


def to_xyxy(boxes: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Pixel ``x, y, w, h`` (a frame or an (N, 4) array) to corners ``x1, y1, x2, y2``.

    >>> to_xyxy(np.array([[10, 20, 30, 40]]))
    array([[10., 20., 40., 60.]])
    """
    x, y, w, h = _xywh(boxes).T
    return np.column_stack((x, y, x + w, y + h))


def from_xyxy(xyxy: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Corners ``x1, y1, x2, y2`` (an (N, 4) array or a frame of 4 columns) to pixel ``x, y, w, h``.

    >>> from_xyxy(np.array([[10, 20, 40, 60]]))
    array([[10., 20., 30., 40.]])
    """
    if isinstance(xyxy, pd.DataFrame):
        xyxy = xyxy.to_numpy(dtype="float64", na_value=np.nan)
    x1, y1, x2, y2 = np.asarray(xyxy, dtype="float64").T
    return np.column_stack((x1, y1, x2 - x1, y2 - y1))


def to_cxcywh_norm(boxes: pd.DataFrame | np.ndarray, width: Any = None, height: Any = None) -> np.ndarray:
    """Pixel ``x, y, w, h`` to normalized centres ``cx, cy, w, h``; an array needs ``width``/``height``.

    >>> to_cxcywh_norm(np.array([[10, 20, 30, 40]]), width=100, height=200)
    array([[0.25, 0.2 , 0.3 , 0.2 ]])
    """
    if width is None or height is None:
        if not isinstance(boxes, pd.DataFrame):
            raise ValueError("width and height are needed when boxes are not a frame")
        width = boxes["width"] if width is None else width
        height = boxes["height"] if height is None else height
    x, y, w, h = _xywh(boxes).T
    image_w, image_h = _numbers(width), _numbers(height)
    return np.column_stack(((x + w / 2) / image_w, (y + h / 2) / image_h, w / image_w, h / image_h))


def from_cxcywh_norm(cxcywh: np.ndarray | pd.DataFrame, width: Any, height: Any) -> np.ndarray:
    """YOLO's normalized ``cx, cy, w, h`` to pixel ``x, y, w, h`` (top-left origin).

    >>> from_cxcywh_norm(np.array([[0.25, 0.2, 0.3, 0.2]]), width=100, height=200)
    array([[10., 20., 30., 40.]])
    """
    if isinstance(cxcywh, pd.DataFrame):
        cxcywh = cxcywh.to_numpy(dtype="float64", na_value=np.nan)
    columns = np.asarray(cxcywh, dtype="float64").T
    return np.column_stack(pixels_from_cxcywh_norm(*columns, _numbers(width), _numbers(height)))


def pixels_from_cxcywh_norm(cx: Any, cy: Any, w: Any, h: Any, width: Any,
                            height: Any) -> tuple[Any, Any, Any, Any]:
    """:func:`from_cxcywh_norm` column by column (arrays or scalars).

    >>> pixels_from_cxcywh_norm(0.25, 0.2, 0.3, 0.2, 100, 200)
    (10.0, 20.0, 30.0, 40.0)
    """
    pixel_w, pixel_h = w * width, h * height
    return cx * width - pixel_w / 2, cy * height - pixel_h / 2, pixel_w, pixel_h
