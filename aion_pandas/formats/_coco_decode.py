"""COCO JSON -> columns -> canonical frame (the fast path of :func:`aion_pandas.formats.coco.parse_coco`).

msgspec decodes the document into typed, GC-untracked structs (bbox as a 4-field array-like struct,
so no per-box list); the columns are then pulled out once and everything after is numpy/Arrow.

>>> doc = decode(b'{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [], "categories": []}')
>>> doc.images[0].file_name
'a.jpg'
"""
from __future__ import annotations

import json
from typing import Any, Optional, Union

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa

from aion_pandas.errors import FormatError
from aion_pandas.formats.schema import categorical

Number = Union[int, float]


class _Box(msgspec.Struct, array_like=True, gc=False):
    x: float
    y: float
    w: float
    h: float


class _Annotation(msgspec.Struct, gc=False):
    image_id: int
    category_id: int
    bbox: Optional[_Box] = None
    id: Optional[int] = None
    area: Optional[float] = None
    iscrowd: Optional[Number] = 0
    score: Optional[float] = None


class _Image(msgspec.Struct, gc=False):
    id: int
    file_name: str
    width: Optional[Number] = None
    height: Optional[Number] = None
    coco_url: Optional[str] = None
    aion_item_id: Optional[str] = None
    aion_item_status: Optional[str] = None
    description: Optional[str] = None
    tags: Optional[list[str]] = None


class _Category(msgspec.Struct, gc=False):
    id: int
    name: str
    supercategory: Optional[str] = None


class CocoDocument(msgspec.Struct, gc=False):
    images: list[_Image]
    annotations: list[_Annotation] = []
    categories: list[_Category] = []
    info: Optional[dict[str, Any]] = None


_DECODER = msgspec.json.Decoder(CocoDocument)


def decode(data: dict[str, Any] | bytes | bytearray | memoryview, *, where: str | None = None) -> CocoDocument:
    """Decode COCO JSON bytes (or an already loaded dict) into typed structs; FormatError on bad input.

    >>> decode(b'{"images": [{"id": 1}]}')
    Traceback (most recent call last):
    ...
    aion_pandas.errors.FormatError: Object missing required field `file_name` - at `$.images[0]`
    """
    try:
        if isinstance(data, dict):
            return msgspec.convert(data, CocoDocument)
        return _DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise FormatError(str(exc), path=where) from None
    except msgspec.DecodeError as exc:
        raise FormatError(_malformed(bytes(data), str(exc)), path=where,
                          line=_line_of(bytes(data), str(exc))) from None


def _line_of(data: bytes, message: str) -> int | None:
    marker = "(byte "
    if marker not in message:
        return None
    try:
        offset = int(message.split(marker, 1)[1].split(")", 1)[0])
    except ValueError:
        return None
    return data.count(b"\n", 0, offset) + 1


def _malformed(data: bytes, message: str) -> str:
    line = _line_of(data, message)
    if line is None:
        try:
            json.loads(data)
        except json.JSONDecodeError as exc:
            return f"malformed JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
        return f"malformed JSON: {message}"
    return f"malformed JSON: {message}"


def _opt_ints(values: list[Any]) -> pd.arrays.IntegerArray:
    return pd.array(values, dtype="Int64")


def build_frame(doc: CocoDocument, *, where: str | None = None) -> pd.DataFrame:
    """The canonical frame of a decoded COCO document: rows in image order, then annotation order.

    >>> doc = decode(b'{"images": [{"id": 3, "file_name": "a.jpg"}], "annotations": [], "categories": []}')
    >>> build_frame(doc)[["image_id", "file_name", "x"]].values.tolist()
    [[3, 'a.jpg', nan]]
    """
    images, anns, cats = doc.images, doc.annotations, doc.categories
    n_img, n_ann = len(images), len(anns)

    # categories: ids and names, unique both ways
    cat_ids = np.fromiter((c.id for c in cats), dtype=np.int64, count=len(cats))
    cat_names = [c.name for c in cats]
    _check_unique(cat_ids, "categories", "id", where)
    if len(set(cat_names)) != len(cat_names):
        seen: dict[str, int] = {}
        for c in cats:
            if c.name in seen:
                raise FormatError(f"$.categories: the name {c.name!r} is used by ids {seen[c.name]} "
                                  f"and {c.id}", path=where)
            seen[c.name] = c.id
    order = np.argsort(cat_ids, kind="stable")
    cat_ids_sorted = cat_ids[order]
    names_sorted = [cat_names[i] for i in order]

    # images
    img_ids = np.fromiter((i.id for i in images), dtype=np.int64, count=n_img)
    _check_unique(img_ids, "images", "id", where)

    # annotations -> columns
    a_img = np.fromiter((a.image_id for a in anns), dtype=np.int64, count=n_ann)
    a_cat = np.fromiter((a.category_id for a in anns), dtype=np.int64, count=n_ann)
    boxes = _boxes(anns, where)

    # join annotations to images and categories
    a_pos = _lookup(img_ids, a_img)
    if n_ann and (a_pos < 0).any():
        i = int(np.argmax(a_pos < 0))
        raise FormatError(f"$.annotations[{i}]: image_id {int(a_img[i])} is not in images", path=where)
    a_code = _lookup(cat_ids_sorted, a_cat)
    if n_ann and (a_code < 0).any():
        i = int(np.argmax(a_code < 0))
        raise FormatError(f"$.annotations[{i}]: category_id {int(a_cat[i])} is not in categories",
                          path=where)
    bad = (boxes[:, 2] < 0) | (boxes[:, 3] < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise FormatError(f"$.annotations[{i}]: negative box size (w={boxes[i, 2]:g}, h={boxes[i, 3]:g})",
                          path=where)

    # rows: every annotation, plus one row for each image without annotations, in image order
    has_box = np.bincount(a_pos, minlength=n_img) > 0 if n_ann else np.zeros(n_img, dtype=bool)
    empty = np.flatnonzero(~has_box)
    row_img = np.concatenate([a_pos, empty])
    row_ann = np.concatenate([np.arange(n_ann), np.full(len(empty), -1)])
    rows = np.argsort(row_img, kind="stable")
    row_img, row_ann = row_img[rows], row_ann[rows]
    is_box = row_ann >= 0
    take_ann = np.where(is_box, row_ann, 0)

    def box_col(values: np.ndarray) -> np.ndarray:
        out = np.full(len(rows), np.nan)
        if n_ann:
            out[is_box] = values[row_ann[is_box]]
        return out

    codes = np.full(len(rows), -1, dtype=np.int64)
    if n_ann:
        codes[is_box] = a_code[row_ann[is_box]]
    category = categorical(codes, names_sorted)
    category_id = pd.array(np.where(is_box, a_cat[take_ann] if n_ann else 0, 0), dtype="Int64")
    category_id[~is_box] = pd.NA

    area = np.fromiter((np.nan if a.area is None else a.area for a in anns), dtype=np.float64, count=n_ann)
    crowd = np.fromiter((bool(a.iscrowd) for a in anns), dtype=bool, count=n_ann)
    score = np.fromiter((np.nan if a.score is None else a.score for a in anns), dtype=np.float64,
                        count=n_ann)
    iscrowd = pd.array(crowd[take_ann] if n_ann else np.zeros(len(rows), bool), dtype="boolean")
    iscrowd[~is_box] = pd.NA

    columns: dict[str, Any] = {
        "dataset_id": pd.array([None] * len(rows), dtype="string"),
        "image_id": img_ids[row_img],
        "file_name": _take_str([i.file_name for i in images], row_img),
        "width": _take_int([i.width for i in images], row_img, "width", where),
        "height": _take_int([i.height for i in images], row_img, "height", where),
        "category": category,
        "category_id": category_id,
        "x": box_col(boxes[:, 0]), "y": box_col(boxes[:, 1]),
        "w": box_col(boxes[:, 2]), "h": box_col(boxes[:, 3]),
        "score": box_col(score),
        "iscrowd": iscrowd,
        "area": box_col(area),
    }
    dataset_id = (doc.info or {}).get("aion_dataset_id")
    if isinstance(dataset_id, str):
        columns["dataset_id"] = pd.array([dataset_id] * len(rows), dtype="string")
    for column, attr in (("description", "description"), ("image_url", "coco_url"),
                         ("item_id", "aion_item_id"), ("item_status", "aion_item_status")):
        values = [getattr(i, attr) for i in images]
        if any(v is not None for v in values):
            columns[column] = _take_str(values, row_img)
    tags = [i.tags for i in images]
    if any(t is not None for t in tags):
        per_image = np.empty(n_img, dtype=object)
        per_image[:] = [t if t is not None else [] for t in tags]
        columns["tags"] = per_image[row_img]
    ordered = ["dataset_id", "image_id", "file_name", "width", "height", "category", "category_id",
               "x", "y", "w", "h", "score", "iscrowd", "area", "description", "tags", "image_url",
               "item_id", "item_status"]
    frame = pd.DataFrame({k: columns[k] for k in ordered if k in columns}, copy=False)
    frame.attrs.update({
        "category_ids": dict(zip(names_sorted, cat_ids_sorted.tolist())),
        "supercategories": {c.name: c.supercategory for c in cats if c.supercategory is not None},
    })
    return frame


def _boxes(anns: list[_Annotation], where: str | None) -> np.ndarray:
    n = len(anns)
    out = np.empty((n, 4), dtype=np.float64)
    if not n:
        return out
    try:
        for j, field in enumerate(("x", "y", "w", "h")):
            getter = _box_getter(field)
            out[:, j] = np.fromiter(map(getter, anns), dtype=np.float64, count=n)
    except AttributeError:
        i = next(k for k, a in enumerate(anns) if a.bbox is None)
        raise FormatError(f"$.annotations[{i}]: missing 'bbox'", path=where) from None
    return out


def _box_getter(field: str) -> Any:
    if field == "x":
        return lambda a: a.bbox.x
    if field == "y":
        return lambda a: a.bbox.y
    if field == "w":
        return lambda a: a.bbox.w
    return lambda a: a.bbox.h


def _lookup(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index in ``keys`` of each wanted key (``-1`` when absent)."""
    if not len(keys):
        return np.full(len(wanted), -1, dtype=np.int64)
    sorter = np.argsort(keys, kind="stable")
    sorted_keys = keys[sorter]
    idx = np.minimum(np.searchsorted(sorted_keys, wanted), len(keys) - 1)
    return np.where(sorted_keys[idx] == wanted, sorter[idx], -1)


def _check_unique(ids: np.ndarray, what: str, key: str, where: str | None) -> None:
    if len(ids) < 2:
        return
    s = np.sort(ids)
    dup = s[1:] == s[:-1]
    if dup.any():
        value = int(s[1:][dup][0])
        i = int(np.flatnonzero(ids == value)[1])
        raise FormatError(f"$.{what}[{i}]: duplicate {key} {value}", path=where)


def _take_str(values: list[Any], rows: np.ndarray) -> pd.arrays.ArrowStringArray:
    arr = pa.array(values, type=pa.large_string()).take(pa.array(rows))
    return pd.array(arr.cast(pa.string()), dtype="string")


def _take_int(values: list[Any], rows: np.ndarray, what: str, where: str | None) -> Any:
    try:
        arr = pd.array(values, dtype="Int64")
    except (TypeError, ValueError):
        bad = next(i for i, v in enumerate(values) if v is not None and float(v) != int(v))
        raise FormatError(f"$.images[{bad}].{what}: {values[bad]!r} is not a whole number",
                          path=where) from None
    return arr.take(rows)
