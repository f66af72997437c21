"""COCO JSON -> columns -> canonical frame (the fast path of :func:`aion_pandas.formats.coco.parse_coco`).

msgspec decodes ``images`` and ``categories`` into typed, GC-untracked structs; the ``annotations``
array is found in the bytes and decoded in bounded pieces straight into numpy columns
(:mod:`._coco_annotations`); joining images, categories and boxes is numpy/Arrow.

>>> doc = decode(b'{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [], "categories": []}')
>>> doc.images[0].file_name
'a.jpg'
"""
from __future__ import annotations

import json
import mmap
from operator import attrgetter
from typing import Any, Optional, Union

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa

from aion_pandas.errors import FormatError
from aion_pandas.formats._coco_annotations import BadCut, annotation_columns, split_annotations
from aion_pandas.formats._memory import ARROW_POOL, small_pages
from aion_pandas.formats._strings import take_strings
from aion_pandas.formats.schema import categorical, code_dtype, null_column

Number = Union[int, float]


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
    """The document with ``annotations`` left as raw JSON slices, decoded later chunk by chunk."""

    images: list[_Image]
    annotations: msgspec.Raw = msgspec.Raw(b"null")
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
    if not isinstance(data, (dict, bytes, bytearray, memoryview, mmap.mmap)):
        raise FormatError(f"expected a COCO dict or JSON bytes, got {type(data).__name__}", path=where)
    try:
        if isinstance(data, dict):
            data = msgspec.json.encode(data)
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


def decode_columns(data: dict[str, Any] | bytes | bytearray | memoryview, *,
                   where: str | None = None) -> tuple[CocoDocument, dict[str, Any]]:
    """The decoded document and its annotation columns, parsing the annotations' bytes once.

    The ``annotations`` array is found by its key and end (``],"categories":`` or the document's
    end); the rest of the document is decoded with the array replaced by ``[]``. Both parts are
    fully validated, so a wrong guess can only fail, and then the whole document is decoded the
    plain way (which also names the line of any JSON error).

    >>> doc, cols = decode_columns(b'{"images": [], "annotations": [{"image_id": 1, "category_id": 2,'
    ...                            b' "bbox": [1, 2, 3, 4]}], "categories": []}')
    >>> cols["image_id"][:cols["n"]].tolist()
    [1]
    """
    if isinstance(data, (bytes, bytearray, memoryview, mmap.mmap)):
        found = split_annotations(data if isinstance(data, (bytes, mmap.mmap)) else bytes(data))
        if found is not None:
            rest, region = found
            try:
                doc = _DECODER.decode(rest)
                if bytes(doc.annotations) == b"[]":
                    return doc, annotation_columns(region, where=where, spare=len(doc.images))
            except (msgspec.DecodeError, BadCut):
                pass
    doc = decode(data, where=where)
    return doc, annotation_columns(doc.annotations, where=where, spare=len(doc.images))


def build_frame(doc: CocoDocument, *, where: str | None = None,
                columns: dict[str, Any] | None = None) -> pd.DataFrame:
    """The canonical frame of a decoded COCO document: rows in image order, then annotation order.

    >>> doc = decode(b'{"images": [{"id": 3, "file_name": "a.jpg"}], "annotations": [], "categories": []}')
    >>> build_frame(doc)[["image_id", "file_name", "x"]].values.tolist()
    [[3, 'a.jpg', nan]]
    """
    images, anns, cats = doc.images, doc.annotations, doc.categories
    n_img = len(images)

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

    # annotations -> columns (decoded chunk by chunk, with room for the image-only rows)
    cols = columns if columns is not None else annotation_columns(anns, where=where, spare=n_img)
    n_ann = cols["n"]
    a_img, a_cat = cols["image_id"][:n_ann], cols["category_id"][:n_ann]
    doc.annotations = msgspec.Raw(b"[]")  # the raw bytes are no longer needed

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
    w, h = cols["w"][:n_ann], cols["h"][:n_ann]
    bad = (w < 0) | (h < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise FormatError(f"$.annotations[{i}]: negative box size (w={w[i]:g}, h={h[i]:g})", path=where)
    del bad

    # rows: every annotation, plus one row for each image without annotations, in image order
    place = _Placement(a_pos, n_img)
    n_rows, row_img = place.n_rows, place.row_img

    category = categorical(place.expand(a_code.astype(code_dtype(len(names_sorted))), -1), names_sorted)
    del a_code, a_pos
    category_id = pd.arrays.IntegerArray(place.expand(cols["category_id"], 0), place.empty_mask())
    iscrowd = pd.arrays.BooleanArray(place.expand(cols["iscrowd"], False), place.empty_mask())
    image_id = place.expand(cols["image_id"], img_ids[place.empty_images])
    boxes = {name: place.expand(cols[name], np.nan) for name in ("x", "y", "w", "h", "score", "area")}
    del place  # its index arrays go before the string columns are allocated

    columns: dict[str, Any] = {
        "dataset_id": _const_str(None, n_rows),
        "image_id": image_id,
        "file_name": _take_str([i.file_name for i in images], row_img),
        "width": _take_int([i.width for i in images], row_img, "width", where),
        "height": _take_int([i.height for i in images], row_img, "height", where),
        "category": category,
        "category_id": category_id,
        **boxes,
        "iscrowd": iscrowd,
    }
    dataset_id = (doc.info or {}).get("aion_dataset_id")
    if isinstance(dataset_id, str):
        columns["dataset_id"] = _const_str(dataset_id, n_rows)
    for column, attr in (("description", "description"), ("image_url", "coco_url"),
                         ("item_id", "aion_item_id"), ("item_status", "aion_item_status")):
        values = list(map(attrgetter(attr), images))
        if values.count(None) != len(values):
            columns[column] = _take_str(values, row_img)
    tags = list(map(attrgetter("tags"), images))
    if tags.count(None) != len(tags):
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


class _Placement:
    """Where each annotation and each image without one goes among the frame's rows (image order,
    then annotation order), and the columns moved there in place.

    >>> place = _Placement(np.array([2, 0, 2]), 4)  # images 1 and 3 have no annotation
    >>> place.n_rows, place.row_img.tolist(), place.expand(np.array([5., 6., 7., 0., 0.]), -1).tolist()
    (5, [0, 1, 2, 2, 3], [6.0, -1.0, 5.0, 7.0, -1.0])
    """

    def __init__(self, a_pos: np.ndarray, n_img: int) -> None:
        n_ann = len(a_pos)
        counts = np.bincount(a_pos, minlength=n_img) if n_ann else np.zeros(n_img, np.int64)
        empty = counts == 0
        self.empty_images = np.flatnonzero(empty)
        self.n_ann, self.n_rows = n_ann, n_ann + len(self.empty_images)
        in_order = n_ann < 2 or bool((a_pos[1:] >= a_pos[:-1]).all())
        if not len(self.empty_images) and in_order:
            self.dest = self.empty_rows = None
            self.row_img = a_pos  # already in image order, every image has a box: nothing moves
            return
        per_image = np.maximum(counts, 1)
        del counts
        first_row = np.cumsum(per_image) - per_image
        self.empty_rows = first_row[self.empty_images]
        before = np.cumsum(empty) - empty  # image-only rows before each image
        del empty, first_row
        if in_order:
            self.dest = np.arange(n_ann) + before[a_pos]
        else:
            order = np.argsort(a_pos, kind="stable")
            self.dest = np.empty(n_ann, np.int64)
            self.dest[order] = np.arange(n_ann) + before[a_pos[order]]
        self.row_img = np.repeat(np.arange(n_img), per_image)

    def expand(self, values: np.ndarray, fill: Any) -> np.ndarray:
        """The column of the frame's rows from the annotations' values (the first ``n_ann`` of
        ``values``), moved within ``values`` when it has room; ``fill`` on image-only rows."""
        if self.dest is None:
            return values[:self.n_rows]
        if len(values) >= self.n_rows:  # in place: the rows move down, keep a copy of the source
            out, moved = values, values[:self.n_ann].copy()
        else:
            out, moved = np.empty(self.n_rows, values.dtype), values[:self.n_ann]
        out[self.dest] = moved
        del moved
        out[self.empty_rows] = fill
        return out[:self.n_rows]

    def empty_mask(self) -> np.ndarray:
        """True on the image-only rows."""
        mask = np.zeros(self.n_rows, dtype=bool)
        if self.empty_rows is not None:
            mask[self.empty_rows] = True
        return mask


def _lookup(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Index in ``keys`` (unique) of each wanted key (``-1`` when absent).

    >>> _lookup(np.array([10, 11, 12]), np.array([12, 10, 99])).tolist()
    [2, 0, -1]
    """
    if not len(keys):
        return np.full(len(wanted), -1, dtype=np.int64)
    low, high = int(keys.min()), int(keys.max())
    if high - low < 4 * len(keys) + 1024:  # dense ids (the usual case): a lookup table
        table = np.full(high - low + 2, -1, dtype=np.int64)  # the last slot: any key outside
        table[keys - low] = np.arange(len(keys))
        outside = (wanted < low) | (wanted > high)
        slot = np.subtract(wanted, low, dtype=np.int64)  # wraps only where outside: replaced
        slot[outside] = high - low + 1
        del outside
        return table[slot]  # two temporaries the size of wanted, not four
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
    # malloc's pool: the column's buffers go back to the OS when freed (mimalloc keeps ~35 MB at L)
    return take_strings(pa.array(values, type=pa.large_string(), memory_pool=ARROW_POOL), rows)


def _const_str(value: str | None, n: int) -> pd.arrays.ArrowStringArray:
    if value is None:
        return null_column("string", n)
    return take_strings(pa.array([value], pa.large_string()), np.zeros(n, np.int64))


def _take_int(values: list[Any], rows: np.ndarray, what: str, where: str | None) -> Any:
    try:
        arr = pd.array(values, dtype="Int64")
    except (TypeError, ValueError):
        bad = next(i for i, v in enumerate(values) if v is not None and float(v) != int(v))
        raise FormatError(f"$.images[{bad}].{what}: {values[bad]!r} is not a whole number",
                          path=where) from None
    data = small_pages(len(rows), np.int64)  # 4 KB pages, as the annotation columns
    np.take(arr.to_numpy(dtype=np.int64, na_value=0), rows, out=data)
    return pd.arrays.IntegerArray(data, np.asarray(arr.isna())[rows])
