"""The canonical annotation frame: what every reader returns and every writer accepts.

One row per box, absolute pixel ``x, y, w, h`` from the top-left corner; an image with no box is
one row with null box columns. The columns are :data:`CORE_COLUMNS` (always, in order) and the
:data:`EXTRA_COLUMNS` a format carries (the README's "The canonical annotation frame"). Boxes
convert to corners (VOC) and normalized centres (YOLO) here too.

>>> frame = empty_frame()
>>> list(frame.columns[:6])
['dataset_id', 'image_id', 'file_name', 'width', 'height', 'category']
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from aion_pandas.errors import FormatError
from aion_pandas.formats._arrowtext import tags_from_json, tags_of
from aion_pandas.formats.lossy import LossyConversionWarning, unsupported_counts, warn_unsupported  # noqa: F401

BOX_COLUMNS: tuple[str, ...] = ("x", "y", "w", "h")
CORE_COLUMNS: dict[str, str] = {  # a line each: the image, the box's class, the box
    "dataset_id": "string", "image_id": "int64", "file_name": "string", "width": "Int64", "height": "Int64",
    "category": "category", "category_id": "Int64",
    "x": "float64", "y": "float64", "w": "float64", "h": "float64", "score": "float64",
}

EXTRA_COLUMNS: dict[str, str] = {  # the box's flags, then the image's (the service's items) and the split
    "iscrowd": "boolean", "area": "float64", "difficult": "boolean", "truncated": "boolean",
    "description": "string", "tags": "object", "image_url": "string", "item_id": "string",
    "item_status": "string", "split": "string",
}


def empty_frame(extras: tuple[str, ...] = ()) -> pd.DataFrame:
    """A canonical frame with no rows, the core columns and the named extras, with their dtypes.

    >>> empty_frame(("iscrowd",)).dtypes["iscrowd"]
    BooleanDtype
    """
    columns = {**CORE_COLUMNS, **{name: EXTRA_COLUMNS[name] for name in extras}}
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


#: the format names the service and the readers use
FORMATS: tuple[str, ...] = ("csv", "coco", "yolo", "pascal_voc")


# --------------------------------------------------------------------------------------------
# validation


def null_column(dtype: str, n: int) -> Any:
    """An all-null column of a contract dtype, built without a Python object per row.

    >>> null_column("Int64", 2).tolist(), null_column("float64", 1).tolist()
    ([<NA>, <NA>], [nan])
    """
    if dtype == "float64":
        return np.full(n, np.nan)
    if dtype == "Int64":
        return pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, bool))
    if dtype == "boolean":
        return pd.arrays.BooleanArray(np.zeros(n, bool), np.ones(n, bool))
    if dtype == "category":
        return categorical(np.full(n, -1), [])
    if dtype == "string":  # zeroed buffers stay untouched pages (pa.nulls writes 12 MB at 1M rows)
        buffers = [pa.py_buffer(np.zeros((n + 7) // 8, np.uint8)),
                   pa.py_buffer(np.zeros(n + 1, np.int64)), pa.py_buffer(b"")]
        nulls = pa.Array.from_buffers(pa.large_string(), n, buffers, null_count=n)
        return pd.arrays.ArrowStringArray(pa.chunked_array([nulls]))
    return pd.array([None] * n, dtype=dtype)


def code_dtype(n_categories: int) -> type:
    """The integer type pandas gives a Categorical's codes for this many categories.

    >>> code_dtype(20), code_dtype(200)
    (<class 'numpy.int8'>, <class 'numpy.int16'>)
    """
    return (np.int8 if n_categories < 127 else np.int16 if n_categories < 32_767 else
            np.int32 if n_categories < 2**31 - 1 else np.int64)


def categorical(codes: np.ndarray, names: Iterable[str]) -> pd.Categorical:
    """The ``category`` column from codes (``-1``: no box) and class names, unused names kept.

    >>> list(categorical(np.array([1, -1]), ["cat", "dog"]))
    ['dog', nan]
    """
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(names), dtype="str"))


def validate_frame(frame: pd.DataFrame, *, where: str | None = None, row_word: str = "row") -> pd.DataFrame:
    """``frame`` coerced to the canonical columns and dtypes.

    Missing core columns are added as nulls (``image_id`` numbered from ``file_name`` when absent);
    other columns are kept after them. Raises :class:`FormatError` naming the column and row of the
    first value that does not fit, or of a box that is partial, negative or has no category.

    >>> raw = pd.DataFrame({"file_name": ["a.jpg", "b.jpg"], "category": ["cat", None],
    ...                     "x": [1, None], "y": [2, None], "w": [3, None], "h": [4, None]})
    >>> frame = validate_frame(raw)
    >>> frame[["image_id", "category", "x"]].to_dict("list")
    {'image_id': [1, 2], 'category': ['cat', nan], 'x': [1.0, nan]}
    >>> validate_frame(raw.assign(w=[-3, None]), where="labels.csv")
    Traceback (most recent call last):
    ...
    aion_pandas.errors.FormatError: labels.csv: column 'w' row 0: negative box size -3.0
    """
    if not isinstance(frame, pd.DataFrame):
        raise FormatError(f"expected a pandas DataFrame, got {type(frame).__name__}", path=where)
    out = frame.copy(deep=False)
    if "image_id" not in out.columns:
        if "file_name" not in out.columns:
            raise FormatError("the frame needs an 'image_id' or a 'file_name' column", path=where)
        names = out["file_name"].astype("string")
        uniques = np.sort(names.dropna().unique().to_numpy(dtype=object))
        out["image_id"] = np.searchsorted(uniques, names.fillna("").to_numpy(dtype=object)) + 1
    missing_box = [c for c in BOX_COLUMNS if c not in out.columns]
    if missing_box and len(missing_box) < len(BOX_COLUMNS):
        raise FormatError(f"the frame has some box columns but not {missing_box}", path=where)
    for name, dtype in CORE_COLUMNS.items():
        if name not in out.columns:
            out[name] = pd.Series(null_column(dtype, len(out)), index=out.index)
    try:
        for name, dtype in {**CORE_COLUMNS, **EXTRA_COLUMNS}.items():
            if name in out.columns:
                out[name] = _coerce(out[name], name, dtype, where)
        _check_values(out, where)
    except FormatError as exc:
        if row_word == "row":
            raise
        raise FormatError(exc.reason.replace(" row ", f" {row_word} ", 1), path=where) from None
    known = [c for c in (*CORE_COLUMNS, *EXTRA_COLUMNS) if c in out.columns]
    rest = [c for c in out.columns if c not in CORE_COLUMNS and c not in EXTRA_COLUMNS]
    out = out[known + rest]
    out.attrs = dict(frame.attrs)
    return out


def _coerce(col: pd.Series, name: str, dtype: str, where: str | None) -> pd.Series:
    if dtype == "category":
        if isinstance(col.dtype, pd.CategoricalDtype):
            cats = col.cat.categories
            if str(cats.dtype) == "str":
                return col
            return pd.Series(categorical(col.cat.codes.to_numpy(), [str(c) for c in cats]),
                             index=col.index, name=col.name)
        return col.astype("str").astype("category")
    if dtype == "object":  # tags: a list of str per row
        return _coerce_tags(col, name, where)
    if str(col.dtype) == dtype:
        return col
    try:
        if dtype in ("float64", "int64", "Int64"):
            return _as_number(col, dtype)
        if dtype == "boolean":
            return _to_boolean(col)
        return col.astype(dtype)
    except (TypeError, ValueError, OverflowError):
        pass
    row, value = _first_bad(col, dtype)
    raise FormatError(f"column {name!r} row {row}: cannot read {value!r} as {dtype}", path=where)


def _as_number(col: pd.Series, dtype: str) -> pd.Series:
    """``col`` as float64, int64 or Int64 (an int64 refuses nulls); an int refuses what astype would
    cut or wrap (not whole, outside int64) and a float of 2**53 or more (it may be another int by now)."""
    text = pd.api.types.is_string_dtype(col.dtype)  # ints stay exact: Int64 (nulls too), not floats
    numeric = pd.to_numeric(col, errors="raise", dtype_backend="numpy_nullable") if text else col
    if dtype == "float64":
        return numeric.astype(dtype)
    if numeric.dtype.kind == "f" and (numeric.abs() >= 2**53).any():
        raise ValueError("a float of 2**53 or more")
    with np.errstate(invalid="ignore"):  # numpy warns on inf before pandas raises
        ints = numeric.astype("Int64")
    if not (ints == numeric).fillna(True).all():
        raise ValueError("not whole, or outside int64")
    return ints.astype(dtype)


def _to_boolean(col: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(col.dtype):  # bools too
        values = col.astype("Float64")
        if not values.dropna().isin([0, 1]).all():
            raise ValueError("not 0/1")
        return values.astype("boolean")
    text = col.astype("string").str.strip().str.lower()
    mapping = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False, "": None}
    mapped = text.map(mapping, na_action="ignore")
    if (mapped.isna() & text.notna() & (text != "")).any():
        raise ValueError("not a boolean")
    return mapped.astype("boolean")


def _first_bad(col: pd.Series, dtype: str) -> tuple[Any, Any]:
    """The row and value of the first value ``dtype`` refuses (a null, for int64): only suspects are
    tried one by one (what to_numeric refuses; for an int, a fraction, |x| >= 2**63, or |x| >= 2**53 in
    a column that reads as floats, tried as a float: alone, its text would read as an int), else every value."""
    inexact = np.zeros(len(col), dtype=bool)
    if dtype != "boolean":
        numeric = pd.to_numeric(col, errors="coerce", dtype_backend="numpy_nullable")
        numbers = numeric.astype("float64")
        suspect = numbers.isna() & (col.notna() | (dtype == "int64"))  # unreadable (or null, for int64)
        if dtype != "float64":
            inexact = ((numbers.abs() >= 2**53) & (numeric.dtype.kind == "f")).to_numpy()
            suspect |= numbers.notna() & ((numbers % 1 != 0) | (numbers.abs() >= 2**63) | inexact)
        if suspect.any():
            col, inexact = col[suspect.to_numpy()], inexact[suspect.to_numpy()]
    for (row, value), as_float in zip(col.items(), inexact):
        try:
            if dtype == "boolean":
                _to_boolean(pd.Series([value]))
            else:
                _as_number(pd.Series([float(value) if as_float else value]), dtype)
        except (TypeError, ValueError, OverflowError):
            return row, value.item() if isinstance(value, np.generic) else value  # 1.5, not np.float64(1.5)
    return "?", None


def _coerce_tags(col: pd.Series, name: str, where: str | None) -> pd.Series:
    def fail(i: int, reason: str) -> None:
        raise FormatError(f"column {name!r} row {col.index[i]}: {reason}", path=where)

    arrow = col.dtype != object and pd.api.types.is_string_dtype(col.dtype)  # CSV's texts
    values = None if arrow else col.to_numpy(dtype=object)
    kinds = {str} if arrow else set(map(type, values))  # C-level, no isinstance per row
    if kinds == {list}:
        return col
    if kinds <= {str, type(None)}:  # JSON texts, as CSV and the service store them
        tags = tags_from_json(pa.array(col.array if arrow else values, type=pa.large_string()), fail)
    else:
        tags = np.empty(len(values), dtype=object)
        for i, value in enumerate(values):
            tags[i] = _one_tags(value)
            if tags[i] is None:
                fail(i, f"tags must be a list of str or a JSON array, got {str(value)[:60]!r}")
    return pd.Series(tags, index=col.index, dtype=object, name=col.name)


def _one_tags(value: Any) -> list[str] | None:
    """A row's tags from a list, tuple or array, a JSON text or a null; None from anything else."""
    if isinstance(value, list):
        return value
    if isinstance(value, (tuple, np.ndarray)):
        return [str(v) for v in value]
    if isinstance(value, str):
        return tags_of(value)
    return [] if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)) else None


def _check_values(frame: pd.DataFrame, where: str | None) -> None:
    boxes = [frame[c].to_numpy(dtype="float64", na_value=np.nan) for c in BOX_COLUMNS]
    nulls = [np.isnan(b) for b in boxes]
    partial = (nulls[0] | nulls[1] | nulls[2] | nulls[3]) & ~(nulls[0] & nulls[1] & nulls[2] & nulls[3])
    if partial.any():
        i = int(np.argmax(partial))
        col = next(c for c, n in zip(BOX_COLUMNS, nulls) if n[i])  # its first null column
        raise FormatError(f"column {col!r} row {frame.index[i]}: box is incomplete", path=where)
    for j in (2, 3):
        bad = boxes[j] < 0
        if bad.any():
            i = int(np.argmax(bad))
            raise FormatError(f"column {BOX_COLUMNS[j]!r} row {frame.index[i]}: negative box size "
                              f"{boxes[j][i]}", path=where)
    unlabeled = ~nulls[0] & frame["category"].isna().to_numpy()
    if unlabeled.any():
        i = int(np.argmax(unlabeled))
        raise FormatError(f"column 'category' row {frame.index[i]}: a box without a category", path=where)


# --------------------------------------------------------------------------------------------
# box conversions: each takes a canonical frame or an (N, 4) array and returns an (N, 4) array


def _boxes(boxes: pd.DataFrame | np.ndarray, columns: list[str] | None = None) -> np.ndarray:
    if isinstance(boxes, pd.DataFrame):
        return boxes[columns or list(boxes.columns)].to_numpy(dtype="float64", na_value=np.nan)
    arr = np.asarray(boxes, dtype="float64")
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"expected boxes of shape (N, 4), got {arr.shape}")
    return arr


def _sizes(values: Any) -> np.ndarray:
    """Image sizes (a scalar or a column) as float64 (nulls: NaN)."""
    return pd.Series(values).to_numpy(dtype="float64", na_value=np.nan)


def to_xyxy(boxes: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Pixel ``x, y, w, h`` (a frame or an (N, 4) array) to corners ``x1, y1, x2, y2``.

    >>> to_xyxy(np.array([[10, 20, 30, 40]]))
    array([[10., 20., 40., 60.]])
    """
    x, y, w, h = _boxes(boxes, list(BOX_COLUMNS)).T
    return np.column_stack((x, y, x + w, y + h))


def from_xyxy(xyxy: np.ndarray | pd.DataFrame) -> np.ndarray:
    """Corners ``x1, y1, x2, y2`` (an (N, 4) array or a frame of 4 columns) to pixel ``x, y, w, h``.

    >>> from_xyxy(np.array([[10, 20, 40, 60]]))
    array([[10., 20., 30., 40.]])
    """
    x1, y1, x2, y2 = _boxes(xyxy).T
    return np.column_stack((x1, y1, x2 - x1, y2 - y1))


def to_cxcywh_norm(boxes: pd.DataFrame | np.ndarray, width: Any = None, height: Any = None) -> np.ndarray:
    """Pixel ``x, y, w, h`` to normalized centres ``cx, cy, w, h``; an array needs ``width``/``height``.

    >>> to_cxcywh_norm(np.array([[10, 20, 30, 40]]), width=100, height=200)
    array([[0.25, 0.2 , 0.3 , 0.2 ]])
    """
    if (width is None or height is None) and not isinstance(boxes, pd.DataFrame):
        raise ValueError("width and height are needed when boxes are not a frame")
    x, y, w, h = _boxes(boxes, list(BOX_COLUMNS)).T
    image_w = _sizes(boxes["width"] if width is None else width)
    image_h = _sizes(boxes["height"] if height is None else height)
    return np.column_stack(((x + w / 2) / image_w, (y + h / 2) / image_h, w / image_w, h / image_h))


def from_cxcywh_norm(cxcywh: np.ndarray | pd.DataFrame, width: Any, height: Any) -> np.ndarray:
    """YOLO's normalized ``cx, cy, w, h`` to pixel ``x, y, w, h`` (top-left origin).

    >>> from_cxcywh_norm(np.array([[0.25, 0.2, 0.3, 0.2]]), width=100, height=200)
    array([[10., 20., 30., 40.]])
    """
    return np.column_stack(pixels_from_cxcywh_norm(*_boxes(cxcywh).T, _sizes(width), _sizes(height)))


def pixels_from_cxcywh_norm(cx: Any, cy: Any, w: Any, h: Any, width: Any,
                            height: Any) -> tuple[Any, Any, Any, Any]:
    """:func:`from_cxcywh_norm` column by column (arrays or scalars).

    >>> pixels_from_cxcywh_norm(0.25, 0.2, 0.3, 0.2, 100, 200)
    (10.0, 20.0, 30.0, 40.0)
    """
    pixel_w, pixel_h = w * width, h * height
    return cx * width - pixel_w / 2, cy * height - pixel_h / 2, pixel_w, pixel_h
