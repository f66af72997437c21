"""Canonical frame -> COCO JSON, the pure half under ``write_coco``: each image and each annotation is
one line built by vectorized Arrow string kernels, streamed in chunks (no per-box Python dicts).

>>> import io
>>> from aion_pandas.formats.schema import validate_frame
>>> frame = validate_frame(pd.DataFrame({"file_name": ["a.jpg"], "width": [4], "height": [3],
...     "category": ["cat"], "x": [0.5], "y": [1], "w": [2], "h": [2]}))
>>> out = io.BytesIO()
>>> write_document(frame, out)
>>> print(out.getvalue().decode())  # doctest: +NORMALIZE_WHITESPACE
{"info":{"description":"aion-pandas export","version":"1.0"},"licenses":[],"images":[
{"id":1,"file_name":"a.jpg","width":4,"height":3}
],"annotations":[
{"id":1,"image_id":1,"category_id":1,"bbox":[0.5,1,2,2],"area":4,"iscrowd":0}
],"categories":[
{"id":1,"name":"cat","supercategory":"none"}
]}
"""
from __future__ import annotations

from typing import IO, Any

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aion_pandas.errors import FormatError

_CONTROL = r"[\x00-\x1f]"


def json_strings(values: Any) -> pa.Array:
    """Each value as a JSON string literal (``null`` for nulls), vectorized.

    >>> json_strings(pd.Series(['a"b', None, "é"], dtype="string")).to_pylist()
    ['"a\\\\"b"', 'null', '"é"']
    """
    arr = pa.array(pd.Series(values, dtype="string").array, type=pa.string())
    if pc.any(pc.match_substring_regex(arr, _CONTROL)).as_py():
        quoted = pa.array([None if v is None else msgspec.json.encode(v).decode() for v in arr.to_pylist()],
                          type=pa.string())
    else:
        escaped = pc.replace_substring(pc.replace_substring(arr, "\\", "\\\\"), '"', '\\"')
        quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    return pc.fill_null(quoted, "null")


def numbers(values: Any, *, what: str) -> pa.Array:
    """Finite numbers as their shortest JSON text (``null`` for nulls).

    >>> numbers(np.array([1.0, 0.25, np.nan]), what="x").to_pylist()
    ['1', '0.25', 'null']
    """
    arr = pa.array(values, from_pandas=True)  # (NaN: null)
    if pa.types.is_floating(arr.type) and pc.any(pc.is_inf(arr)).as_py():
        raise FormatError(f"column {what!r}: infinite values cannot be written as JSON",
                          path="frame given to write_coco")
    return pc.fill_null(arr.cast(pa.string()), "null")


def _category_ids(frame: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The category names and their COCO ids: the frame's ``category_id`` when names and ids pair one
    to one (a name without one gets its ``attrs["category_ids"]`` id if free, else the next), else the
    names sorted, numbered 1..K."""
    names = [str(c) for c in frame["category"].cat.categories]
    pairs = pd.DataFrame({"code": frame["category"].cat.codes, "id": frame["category_id"]}).dropna()
    pairs = pairs[pairs["code"] >= 0].drop_duplicates()
    attrs = frame.attrs.get("category_ids") or {}
    if not (pairs["code"].is_unique and pairs["id"].is_unique and (len(pairs) or attrs)):
        rank = {n: i + 1 for i, n in enumerate(sorted(names))}
        return names, np.array([rank[n] for n in names], dtype=np.int64)
    known = {name: int(i) for name, i in attrs.items() if isinstance(i, (int, np.integer))}
    ids = dict(zip(pairs["code"].tolist(), pairs["id"].tolist()))
    used = set(ids.values())
    next_id = max(used | set(known.values()) | {0}) + 1
    for code, name in enumerate(names):
        if code not in ids:
            if name in known and known[name] not in used:
                ids[code] = known[name]
            else:
                ids[code], next_id = next_id, next_id + 1
            used.add(ids[code])
    return names, np.array([ids[code] for code in range(len(names))], dtype=np.int64)


def _images_lines(frame: pd.DataFrame, image_ids: np.ndarray) -> pa.Array:
    first = ~pd.Series(image_ids).duplicated().to_numpy()
    img = frame.loc[first]
    parts: list[Any] = ['{"id":', numbers(image_ids[first], what="image_id"),
                        ',"file_name":', json_strings(img["file_name"]),
                        ',"width":', numbers(img["width"], what="width"),
                        ',"height":', numbers(img["height"], what="height")]
    for column, key in (("image_url", "coco_url"), ("item_id", "aion_item_id"),
                        ("item_status", "aion_item_status"), ("description", "description")):
        if column in img.columns:
            parts += [f',"{key}":', json_strings(img[column])]
    if "tags" in img.columns:  # lists (validate_frame)
        tags = [msgspec.json.encode(t).decode() for t in img["tags"]]
        parts += [',"tags":', pa.array(tags, type=pa.string())]
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")


def _write_lines(out: IO[bytes], lines: pa.Array, *, last: bool) -> None:
    """The lines, each but the last of the document's list followed by a comma."""
    if isinstance(lines, pa.ChunkedArray):  # from a column of frames put together (pd.concat)
        lines = lines.combine_chunks()
    if len(lines):
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(lines)], pa.int32()), lines), ",\n")
        out.write(joined[0].as_buffer())
        out.write(b"\n" if last else b",\n")


def write_document(frame: pd.DataFrame, out: IO[bytes], *, chunk_rows: int = 200_000) -> None:
    """Stream the COCO JSON of a validated canonical frame to ``out``."""
    names, cat_ids = _category_ids(frame)
    info = {"description": "aion-pandas export", "version": "1.0"}
    datasets = frame["dataset_id"].dropna().unique()
    image_ids = frame["image_id"].to_numpy(dtype=np.int64)
    if len(datasets) == 1:
        info["aion_dataset_id"] = str(datasets[0])
    elif len(datasets) > 1:  # image ids numbered anew: two datasets may share one
        keys = pd.MultiIndex.from_arrays([frame["dataset_id"].fillna(""), frame["image_id"]])
        image_ids = pd.factorize(keys)[0].astype(np.int64) + 1
    out.write(b'{"info":' + msgspec.json.encode(info) + b',"licenses":[],"images":[\n')
    _write_lines(out, _images_lines(frame, image_ids), last=True)
    out.write(b'],"annotations":[\n')

    box_rows = np.flatnonzero(frame["x"].notna().to_numpy())
    codes = frame["category"].cat.codes.to_numpy()
    x, y, w, h, score = (frame[c].to_numpy(np.float64, na_value=np.nan) for c in (*"xywh", "score"))
    area = frame["area"].to_numpy(np.float64, na_value=np.nan) if "area" in frame.columns else w * h
    area = np.where(np.isnan(area), w * h, area)
    crowd = frame.get("iscrowd", pd.Series(False, index=frame.index)).fillna(False).to_numpy(bool)
    for start in range(0, len(box_rows), chunk_rows):
        rows = box_rows[start:start + chunk_rows]
        parts: list[Any] = [
            '{"id":', numbers(np.arange(start + 1, start + 1 + len(rows)), what="id"),
            ',"image_id":', numbers(image_ids[rows], what="image_id"),
            ',"category_id":', numbers(cat_ids[codes[rows]], what="category_id"),
            ',"bbox":[', numbers(x[rows], what="x"), ",", numbers(y[rows], what="y"), ",",
            numbers(w[rows], what="w"), ",", numbers(h[rows], what="h"),
            '],"area":', numbers(area[rows], what="area"),
            ',"iscrowd":', pa.array(np.where(crowd[rows], "1", "0")),
        ]
        s = score[rows]
        if not np.isnan(s).all():
            scored = pc.binary_join_element_wise(',"score":', numbers(s, what="score"), "")
            parts.append(pc.if_else(pa.array(np.isnan(s)), "", scored))
        parts.append("}")
        lines = pc.binary_join_element_wise(*parts, "")
        _write_lines(out, lines, last=start + chunk_rows >= len(box_rows))
    out.write(b'],"categories":[\n')
    supers = frame.attrs.get("supercategories") or {}
    order = np.argsort(cat_ids, kind="stable")
    cats = [msgspec.json.encode({"id": int(cat_ids[i]), "name": names[i],
                                 "supercategory": supers.get(names[i], "none")}).decode() for i in order]
    _write_lines(out, pa.array(cats, type=pa.string()), last=True)
    out.write(b"]}")
