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

from aion_pandas.errors import FormatError
from aion_pandas.formats.manifest import assemble
from aion_pandas.formats.schema import categorical, code_dtype

Number = Union[int, float]
NAN = float("nan")
#: annotations decoded into Python objects at once
PIECE = 16_384


class _Image(msgspec.Struct, gc=False):
    id: int
    file_name: str
    width: Optional[Number] = None
    height: Optional[Number] = None
    image_url: Optional[str] = msgspec.field(default=None, name="coco_url")  # the frame's names
    item_id: Optional[str] = msgspec.field(default=None, name="aion_item_id")
    item_status: Optional[str] = msgspec.field(default=None, name="aion_item_status")
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
        data = memoryview(data)[3:] if bytes(data[:3]) == b"\xef\xbb\xbf" else data  # a BOM (Windows tools)
        doc = _DOCUMENT.decode(data)
    except TypeError:
        raise FormatError(f"expected a COCO dict or JSON bytes, got {type(data).__name__}", path=where) from None
    except msgspec.ValidationError as exc:  # a list at the top: a results file, detections without images
        raise FormatError("a COCO results file (detections, no images)" if str(exc) == (
            "Expected `object`, got `array`") else str(exc), path=where) from None
    except msgspec.DecodeError as exc:
        found = re.search(r"\(byte (\d+)\)", str(exc))  # the line of msgspec's offset, if it gives one
        line = bytes(data[:int(found.group(1))]).count(b"\n") + 1 if found else None
        raise FormatError(f"malformed JSON: {exc}", path=where, line=line) from None
    try:
        columns = _annotation_columns(doc.annotations or [], data, where)
        doc.annotations = None  # the raw slices go: nothing holds the input any more
        return _frame(doc, columns, where)  # (which empties ``columns`` as it builds the frame)
    except OverflowError as exc:  # an id past 64 bits
        raise FormatError(f"a number does not fit in 64 bits ({exc})", path=where) from None


def _annotation_columns(raws: list[msgspec.Raw], data: Any, where: str | None) -> dict[str, np.ndarray]:
    """The annotations (raw JSON slices of ``data``) as numpy columns (``area``, ``score``: NaN
    when absent); each piece is decoded from one slice of ``data``, from its first to its last raw."""
    cols = {name: np.empty(len(raws), dtype) for name, dtype in _DTYPES.items()}
    view = memoryview(data).cast("B")
    base = _address(view)
    for start in range(0, len(raws), PIECE):
        piece = raws[start:start + PIECE]
        first, last = _address(piece[0]) - base, _address(piece[-1]) - base + len(piece[-1])
        if not 0 <= first <= last <= len(view):  # never decode some other memory
            raise RuntimeError("msgspec.Raw is not a view of the document it was decoded from")
        try:
            anns = _ANNOTATIONS.decode(b"".join((b"[", view[first:last], b"]")))
        except msgspec.ValidationError as exc:
            raise FormatError(_annotation_error(str(exc), raws, start), path=where) from None
        stop = start + len(anns)
        for name, values in zip("xywh", _boxes(anns)):
            cols[name][start:stop] = values
        for name in ("image_id", "category_id", "area", "score", "iscrowd"):
            cols[name][start:stop] = _field(anns, name, cols[name].dtype)
    return cols


def _field(anns: list[_Annotation], name: str, dtype: np.dtype) -> np.ndarray:
    """A field of each annotation (an explicit null: NaN, or False for a flag)."""
    try:
        return np.fromiter(map(attrgetter(name), anns), dtype, len(anns))
    except TypeError:  # a None: np.array makes it NaN (or False)
        return np.array(list(map(attrgetter(name), anns)), dtype)


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
    packed = _MSGPACK.encode(list(map(attrgetter("bbox"), anns)))
    header = len(packed) - _PACKED_BOX.itemsize * len(anns)  # the list's own: 1, 3 or 5 bytes
    fixed = np.frombuffer(packed, _PACKED_BOX, len(anns), header)
    return [fixed[name] for name in "xywh"]


def _annotation_error(message: str, raws: list[msgspec.Raw], start: int) -> str:
    """msgspec's message for a piece with the array's own path or, for an annotation without a box,
    the kind of COCO file it is (captions, panoptic segmentation or image-level labels)."""
    found = re.search(r"`\$\[(\d+)\]", message)
    if not found:
        return message
    i = start + int(found.group(1))
    ann = msgspec.json.decode(raws[i])
    ann = ann if isinstance(ann, dict) else {}
    if "caption" in ann:
        kind = "captions"
    elif "segments_info" in ann:
        kind = "panoptic segmentation"
    elif "category_id" in ann and "bbox" not in ann and not any(b'"bbox"' in bytes(raw) for raw in raws):
        kind = "image-level labels"
    else:
        return f"{message[:found.start()]}`$.annotations[{i}]{message[found.end():]}"
    return (f"this is a COCO {kind} file, not object detection ($.annotations[{i}] has no bbox): "
            "read_coco reads detection files (like instances_*.json), whose annotations each have "
            "an image_id, a category_id and a bbox [x, y, width, height]")


def _frame(doc: _Document, cols: dict[str, np.ndarray], where: str | None) -> pd.DataFrame:
    """The canonical frame of the document's images and the annotations' columns (which it empties)."""
    images, cats = doc.images, doc.categories
    cat_ids = np.array([c.id for c in cats], dtype=np.int64)
    _check_unique(cat_ids, "categories", "id", where)
    seen: dict[str, int] = {}
    for c in cats:  # (the ids are unique: a name seen again comes with another id)
        if seen.setdefault(c.name, c.id) != c.id:
            raise FormatError(f"$.categories: the name {c.name!r} is used by ids {seen[c.name]} "
                              f"and {c.id}", path=where)
    by_id = np.argsort(cat_ids, kind="stable")
    cat_ids, names = cat_ids[by_id], [cats[i].name for i in by_id]
    img_ids = np.fromiter((i.id for i in images), dtype=np.int64, count=len(images))
    _check_unique(img_ids, "images", "id", where)
    box_image = _positions(img_ids, cols.pop("image_id"), "image_id", "images", where)
    codes = _positions(cat_ids, cols["category_id"], "category_id", "categories", where)
    cols["category"] = categorical(codes.astype(code_dtype(len(names))), names)
    bad = (cols["w"] < 0) | (cols["h"] < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise FormatError(f"$.annotations[{i}]: negative box size (w={cols['w'][i]:g}, "
                          f"h={cols['h'][i]:g})", path=where)
    table = pd.DataFrame({"image_id": img_ids,
                          "file_name": pd.array([i.file_name for i in images], dtype="string"),
                          "width": _whole([i.width for i in images], "width", where),
                          "height": _whole([i.height for i in images], "height", where)})
    for column in ("description", "image_url", "item_id", "item_status", "tags"):
        values = list(map(attrgetter(column), images))
        if values.count(None) != len(values):
            table[column] = pd.array(values, dtype="string") if column != "tags" else \
                pd.Series([t if t is not None else [] for t in values], dtype=object)
    dataset_id = (doc.info or {}).get("aion_dataset_id")
    if isinstance(dataset_id, str):
        table["dataset_id"] = pd.array([dataset_id] * len(images), dtype="string")
    frame = assemble(table, box_image, cols, "coco", where)
    frame.attrs.update({"category_ids": dict(zip(names, cat_ids.tolist())),
                   "supercategories": {c.name: c.supercategory for c in cats if c.supercategory is not None}})
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


def _whole(values: list[Any], what: str, where: str | None) -> pd.arrays.IntegerArray:
    try:
        return pd.array(values, dtype="Int64")
    except (TypeError, ValueError):
        bad = next(i for i, v in enumerate(values) if v is not None and float(v) != int(v))
        raise FormatError(f"$.images[{bad}].{what}: {values[bad]!r} is not a whole number",
                          path=where) from None
