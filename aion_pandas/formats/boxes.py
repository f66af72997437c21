"""Box conversions between the canonical pixel ``x, y, w, h`` (top-left origin) and the other
conventions: corners ``x1, y1, x2, y2`` (VOC) and normalized centres ``cx, cy, w, h`` (YOLO).

All are vectorized; they take a canonical frame (its ``x, y, w, h`` and ``width, height`` columns)
or an ``(N, 4)`` array and return an ``(N, 4)`` float64 array.

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


def _size(frame: Any, width: Any, height: Any) -> tuple[np.ndarray, np.ndarray]:
    if width is None or height is None:
        if not isinstance(frame, pd.DataFrame):
            raise ValueError("width and height are needed when boxes are not a frame")
        width = frame["width"] if width is None else width
        height = frame["height"] if height is None else height
    w = pd.Series(width).to_numpy(dtype="float64", na_value=np.nan) if not np.isscalar(width) \
        else np.float64(width)
    h = pd.Series(height).to_numpy(dtype="float64", na_value=np.nan) if not np.isscalar(height) \
        else np.float64(height)
    return w, h


def to_xyxy(boxes: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Pixel ``x, y, w, h`` (a frame or an (N, 4) array) to corners ``x1, y1, x2, y2``.

    >>> to_xyxy(np.array([[10, 20, 30, 40]]))
    array([[10., 20., 40., 60.]])
    """
    arr = _xywh(boxes)
    out = arr.copy()
    out[:, 2] += arr[:, 0]
    out[:, 3] += arr[:, 1]
    return out


def from_xyxy(xyxy: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Corners ``x1, y1, x2, y2`` (an (N, 4) array or a frame of 4 columns) to pixel ``x, y, w, h``.

    >>> from_xyxy(np.array([[10, 20, 40, 60]]))
    array([[10., 20., 30., 40.]])
    """
    arr = np.asarray(xyxy.to_numpy(dtype="float64", na_value=np.nan) if isinstance(xyxy, pd.DataFrame)
                     else xyxy, dtype="float64")
    out = arr.copy()
    out[:, 2] -= arr[:, 0]
    out[:, 3] -= arr[:, 1]
    return out


def to_cxcywh_norm(boxes: pd.DataFrame | np.ndarray, width: Any = None, height: Any = None) -> np.ndarray:
    """Pixel ``x, y, w, h`` to YOLO's normalized centre boxes ``cx, cy, w, h`` (0..1).

    A frame brings its own ``width``/``height`` columns; an array needs them (scalars or per row).

    >>> to_cxcywh_norm(np.array([[10, 20, 30, 40]]), width=100, height=200)
    array([[0.25, 0.2 , 0.3 , 0.2 ]])
    """
    arr = _xywh(boxes)
    w, h = _size(boxes, width, height)
    out = np.empty_like(arr)
    out[:, 0] = (arr[:, 0] + arr[:, 2] / 2) / w
    out[:, 1] = (arr[:, 1] + arr[:, 3] / 2) / h
    out[:, 2] = arr[:, 2] / w
    out[:, 3] = arr[:, 3] / h
    return out


def from_cxcywh_norm(cxcywh: np.ndarray | pd.DataFrame, width: Any, height: Any) -> np.ndarray:
    """YOLO's normalized ``cx, cy, w, h`` to pixel ``x, y, w, h`` (top-left origin).

    >>> from_cxcywh_norm(np.array([[0.25, 0.2, 0.3, 0.2]]), width=100, height=200)
    array([[10., 20., 30., 40.]])
    """
    arr = np.asarray(cxcywh.to_numpy(dtype="float64", na_value=np.nan)
                     if isinstance(cxcywh, pd.DataFrame) else cxcywh, dtype="float64")
    w, h = _size(None, width, height)
    out = np.empty_like(arr)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = pixels_from_cxcywh_norm(*arr.T, w, h)
    return out


def pixels_from_cxcywh_norm(cx: Any, cy: Any, w: Any, h: Any, width: Any,
                            height: Any) -> tuple[Any, Any, Any, Any]:
    """:func:`from_cxcywh_norm` column by column: pixel ``x, y, w, h`` from normalized ``cx, cy,
    w, h`` and the image sizes (arrays or scalars), for readers that convert block by block.

    >>> pixels_from_cxcywh_norm(0.25, 0.2, 0.3, 0.2, 100, 200)
    (10.0, 20.0, 30.0, 40.0)
    """
    pixel_w, pixel_h = w * width, h * height
    return cx * width - pixel_w / 2, cy * height - pixel_h / 2, pixel_w, pixel_h
