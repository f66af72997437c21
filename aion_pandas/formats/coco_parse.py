"""COCO detection JSON (bytes or a dict) -> the canonical frame: the pure parse under ``read_coco``.

msgspec decodes ``images`` and ``categories`` into structs and ``annotations`` into raw slices,
decoded :data:`PIECE` at a time into numpy columns (structs for a million boxes at once would
hold hundreds of MB). Its errors become one :class:`FormatError` naming the JSON path or line.

>>> frame = parse_coco({"images": [{"id": 7, "file_name": "a.jpg", "width": 4, "height": 3}],
...     "annotations": [{"id": 1, "image_id": 7, "category_id": 5, "bbox": [0, 1, 2, 2]}],
...     "categories": [{"id": 5, "name": "cat"}]})
>>> frame[["image_id", "file_name", "category", "category_id", "x", "y", "w", "h"]].values.tolist()
[[7, 'a.jpg', 'cat', 5, 0.0, 1.0, 2.0, 2.0]]
"""
from __future__ import annotations

import re
from operator import attrgetter
from typing import Any, Optional, Union

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aion_pandas.errors import FormatError
from aion_pandas.formats.schema import categorical, code_dtype, null_column

Number = Union[int, float]
NAN = float("nan")
#: annotations decoded into Python objects at once
PIECE = 16_384


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


class _Document(msgspec.Struct, gc=False):
    images: list[_Image]
    annotations: Optional[list[msgspec.Raw]] = None
    categories: list[_Category] = []
    info: Optional[dict[str, Any]] = None


class _Box(msgspec.Struct, array_like=True, gc=False):
    x: float
    y: float
    w: float
    h: float


class _Annotation(msgspec.Struct, gc=False):
    image_id: int
    category_id: int
    bbox: _Box
    area: Optional[float] = NAN
    iscrowd: Union[bool, int, None] = 0
    score: Optional[float] = NAN


_DOCUMENT = msgspec.json.Decoder(_Document)
_ANNOTATIONS = msgspec.json.Decoder(list[_Annotation])


def parse_coco(data: dict[str, Any] | bytes | bytearray | memoryview, *,
               where: str | None = None) -> pd.DataFrame:
    """A COCO detection document (a dict or its JSON bytes) as a canonical frame.

    Every image is kept, rows in image then annotation order; ``category_id`` keeps the file's ids;
    ``iscrowd``, ``area`` and the ``aion_*``/``coco_url`` image keys become columns;
    ``frame.attrs`` gets ``category_ids`` and ``supercategories``.

    >>> parse_coco(b'{"images": [{"id": 1}]}', where="x.json")
    Traceback (most recent call last):
    ...
    aion_pandas.errors.FormatError: x.json: Object missing required field `file_name` - at `$.images[0]`
    """
    if isinstance(data, dict):
        try:
            data = msgspec.json.encode(data)  # dicts take the bytes' path: one parse for both
        except (TypeError, OverflowError) as exc:
            raise FormatError(f"the COCO dict cannot be read as JSON: {exc}", path=where) from None
    try:
        doc = _DOCUMENT.decode(data)
    except TypeError:
        raise FormatError(f"expected a COCO dict or JSON bytes, got {type(data).__name__}", path=where) from None
    except msgspec.ValidationError as exc:
        raise FormatError(str(exc), path=where) from None
    except msgspec.DecodeError as exc:
        raise FormatError(f"malformed JSON: {exc}", path=where, line=_line_of(data, str(exc))) from None
    try:
        columns = annotation_columns(doc.annotations or [], data, where=where)
        doc.annotations = None  # the raw slices go: nothing holds the input any more
        return _frame(doc, columns, where)  # (which empties ``columns`` as it builds the frame)
    except OverflowError as exc:  # an id past 64 bits
        raise FormatError(f"a number does not fit in 64 bits ({exc})", path=where) from None


def _line_of(data: Any, message: str) -> int | None:
    """The line of msgspec's ``(byte N)``, or None when the message has no offset."""
    found = re.search(r"\(byte (\d+)\)", message)
    return bytes(data[:int(found.group(1))]).count(b"\n") + 1 if found else None


def annotation_columns(raws: list[msgspec.Raw], data: Any = None, *,
                       where: str | None = None) -> dict[str, np.ndarray]:
    """The annotations (raw JSON slices of ``data``) as numpy columns (``area``, ``score``: NaN
    when absent); each piece is decoded from one slice of ``data`` (without it, the slices joined).

    >>> cols = annotation_columns([msgspec.Raw(b'{"image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4]}')])
    >>> cols["image_id"].tolist(), cols["w"].tolist(), cols["score"].tolist(), cols["iscrowd"].tolist()
    ([1], [3.0], [nan], [False])
    """
    n = len(raws)
    cols = {name: np.empty(n, dtype) for name, dtype in _DTYPES.items()}
    text = _Text(data)
    for start in range(0, n, PIECE):
        try:
            anns = _ANNOTATIONS.decode(text.piece(raws[start:start + PIECE]))
        except msgspec.ValidationError as exc:
            raise FormatError(_annotation_error(str(exc), raws, start), path=where) from None
        stop = start + len(anns)
        for name in ("image_id", "category_id"):
            cols[name][start:stop] = np.fromiter(map(attrgetter(name), anns), np.int64, len(anns))
        for name, values in zip("xywh", _boxes(anns)):
            cols[name][start:stop] = values
        for name in ("area", "score", "iscrowd"):
            cols[name][start:stop] = _nullable(anns, name, cols[name].dtype)
    return cols


def _nullable(anns: list[_Annotation], name: str, dtype: np.dtype) -> np.ndarray:
    """A field that may be an explicit null, as NaN (or False for a flag)."""
    try:
        return np.fromiter(map(attrgetter(name), anns), dtype, len(anns))
    except TypeError:  # a None: np.array makes it NaN (or False)
        return np.array(list(map(attrgetter(name), anns)), dtype)


class _Text:
    """Pieces of the annotations array as JSON: a slice of the document, else the raw slices joined."""

    def __init__(self, data: Any) -> None:
        self.view = memoryview(data).cast("B") if data is not None else None
        self.base = _address(self.view) if data is not None else 0

    def piece(self, raws: list[msgspec.Raw]) -> bytes:
        if self.view is None or not raws:
            return b"".join((b"[", b",".join(raws), b"]"))
        first, last = _address(raws[0]) - self.base, _address(raws[-1]) - self.base + len(raws[-1])
        if not 0 <= first <= last <= len(self.view):
            raise RuntimeError("msgspec.Raw is not a view of the document it was decoded from")
        return b"".join((b"[", self.view[first:last], b"]"))


def _address(buffer: Any) -> int:
    return np.frombuffer(buffer, np.uint8).__array_interface__["data"][0] if len(buffer) else 0


_DTYPES = {"image_id": np.int64, "category_id": np.int64, "x": np.float64, "y": np.float64,
           "w": np.float64, "h": np.float64, "area": np.float64, "score": np.float64, "iscrowd": bool}
_MSGPACK = msgspec.msgpack.Encoder()
# a _Box in MessagePack: 0x94 (an array of 4), then 4 times 0xcb and a big-endian float64
_PACKED_BOX = np.dtype({"names": list("xywh"), "formats": [">f8"] * 4, "offsets": [2, 11, 20, 29],
                        "itemsize": 37})


def _boxes(anns: list[_Annotation]) -> list[np.ndarray]:
    """The boxes' x, y, w, h: packed by msgspec (37 bytes a box) and read by numpy, not number by number."""
    packed = _MSGPACK.encode(list(map(_BBOX, anns)))
    header = len(packed) - _PACKED_BOX.itemsize * len(anns)  # the list's own: 1, 3 or 5 bytes
    fixed = np.frombuffer(packed, _PACKED_BOX, len(anns), header)
    return [fixed[name] for name in "xywh"]


_BBOX = attrgetter("bbox")


def _annotation_error(message: str, raws: list[msgspec.Raw], start: int) -> str:
    """msgspec's message for a piece with the array's own path, or the kind of COCO file it is."""
    found = re.search(r"`\$\[(\d+)\]", message)
    if not found:
        return message
    i = start + int(found.group(1))
    message = f"{message[:found.start()]}`$.annotations[{i}]{message[found.end():]}"
    kind = _kind_without_boxes(raws, i)
    if kind is None:
        return message
    return (f"this is a COCO {kind} file, not object detection ($.annotations[{i}] has no bbox): "
            "read_coco reads detection files (like instances_*.json), whose annotations each have "
            "an image_id, a category_id and a bbox [x, y, width, height]")


def _kind_without_boxes(raws: list[msgspec.Raw], i: int) -> str | None:
    """``captions``, ``panoptic segmentation`` or ``image-level labels``; None for a detection file."""
    ann = msgspec.json.decode(raws[i])
    if not isinstance(ann, dict):
        return None
    if "caption" in ann:
        return "captions"
    if "segments_info" in ann:
        return "panoptic segmentation"
    if "category_id" in ann and "bbox" not in ann and not any(b'"bbox"' in bytes(raw) for raw in raws):
        return "image-level labels"
    return None


def _frame(doc: _Document, cols: dict[str, np.ndarray], where: str | None) -> pd.DataFrame:
    images, cats = doc.images, doc.categories
    n_img, n_ann = len(images), len(cols["image_id"])

    cat_ids = np.array([c.id for c in cats], dtype=np.int64)
    _check_unique(cat_ids, "categories", "id", where)
    _check_names(cats, where)
    by_id = np.argsort(cat_ids, kind="stable")
    cat_ids, names = cat_ids[by_id], [cats[i].name for i in by_id]
    img_ids = np.fromiter((i.id for i in images), dtype=np.int64, count=n_img)
    _check_unique(img_ids, "images", "id", where)

    a_img = _positions(img_ids, cols.pop("image_id"), "image_id", "images", where)
    a_code = _positions(cat_ids, cols["category_id"], "category_id", "categories", where)
    bad = (cols["w"] < 0) | (cols["h"] < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise FormatError(f"$.annotations[{i}]: negative box size (w={cols['w'][i]:g}, "
                          f"h={cols['h'][i]:g})", path=where)

    # rows: the annotations in image order (stable), and a row for each image without any
    if n_ann > 1 and (a_img[1:] < a_img[:-1]).any():
        by_image = np.argsort(a_img, kind="stable")
        a_img, a_code = a_img[by_image], a_code[by_image]
        for name in cols:
            cols[name] = cols[name][by_image]
    empty = np.flatnonzero(np.bincount(a_img, minlength=n_img) == 0)
    at = np.searchsorted(a_img, empty)  # where each image-only row goes among the annotations
    row_img = np.insert(a_img, at, empty)
    no_box = np.zeros(len(row_img), bool)
    no_box[at + np.arange(len(at))] = True

    def rows(values: np.ndarray | str, fill: Any) -> np.ndarray:
        """A column on the frame's rows: the annotations' values (popped from ``cols``, so its memory
        can be reused), ``fill`` on the image-only rows.
        """
        values = cols.pop(values) if isinstance(values, str) else values
        return np.insert(values, at, fill) if len(at) else values

    columns: dict[str, Any] = {
        "dataset_id": _constant((doc.info or {}).get("aion_dataset_id"), len(row_img)),
        "image_id": img_ids[row_img],
        "file_name": _strings([i.file_name for i in images], row_img),
        "width": _whole([i.width for i in images], row_img, "width", where),
        "height": _whole([i.height for i in images], row_img, "height", where),
        "category": categorical(rows(a_code.astype(code_dtype(len(names))), -1), names),
        "category_id": pd.arrays.IntegerArray(rows("category_id", 0), no_box),
        **{name: rows(name, np.nan) for name in ("x", "y", "w", "h", "score")},
        "iscrowd": pd.arrays.BooleanArray(rows("iscrowd", False), no_box),
        "area": rows("area", np.nan),
    }
    for column, attr in (("description", "description"), ("image_url", "coco_url"),
                         ("item_id", "aion_item_id"), ("item_status", "aion_item_status")):
        values = list(map(attrgetter(attr), images))
        if values.count(None) != len(values):
            columns[column] = _strings(values, row_img)
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
        "category_ids": dict(zip(names, cat_ids.tolist())),
        "supercategories": {c.name: c.supercategory for c in cats if c.supercategory is not None},
    })
    return frame


def _positions(keys: np.ndarray, wanted: np.ndarray, field: str, table: str, where: str | None) -> np.ndarray:
    """The position in ``keys`` (unique) of each wanted key; FormatError naming the first absent."""
    found = pd.Index(keys).get_indexer(wanted)
    missing = found < 0
    if missing.any():
        i = int(np.argmax(missing))
        raise FormatError(f"$.annotations[{i}]: {field} {int(wanted[i])} is not in {table}", path=where)
    return found


def _check_unique(ids: np.ndarray, what: str, key: str, where: str | None) -> None:
    dup = pd.Index(ids).duplicated()
    if dup.any():
        i = int(np.argmax(dup))
        raise FormatError(f"$.{what}[{i}]: duplicate {key} {int(ids[i])}", path=where)


def _check_names(cats: list[_Category], where: str | None) -> None:
    seen: dict[str, int] = {}
    for c in cats:
        if c.name in seen:
            raise FormatError(f"$.categories: the name {c.name!r} is used by ids {seen[c.name]} "
                              f"and {c.id}", path=where)
        seen[c.name] = c.id


def _strings(values: list[Any], rows: np.ndarray) -> pd.arrays.ArrowStringArray:
    strings = pa.array(values, pa.large_string())
    lengths = pc.binary_length(strings).to_numpy(zero_copy_only=False)
    if np.nansum(lengths[rows]) < 2**31:  # 32-bit offsets: taken several times faster
        strings = strings.cast(pa.string())
    return pd.arrays.ArrowStringArray(pa.chunked_array([strings.take(rows)]))


def _constant(value: Any, n: int) -> Any:
    if not isinstance(value, str):
        return null_column("string", n)
    return _strings([value], np.zeros(n, dtype=np.intp))


def _whole(values: list[Any], rows: np.ndarray, what: str, where: str | None) -> pd.arrays.IntegerArray:
    try:
        per_image = pd.array(values, dtype="Int64")
    except (TypeError, ValueError):
        bad = next(i for i, v in enumerate(values) if v is not None and float(v) != int(v))
        raise FormatError(f"$.images[{bad}].{what}: {values[bad]!r} is not a whole number",
                          path=where) from None
    return per_image.take(rows)
