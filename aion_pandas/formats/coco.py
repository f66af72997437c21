"""COCO detection JSON <-> the canonical annotation frame.

``parse_coco(dict | bytes) -> frame`` and ``serialize_coco(frame) -> bytes`` are pure; ``read_coco`` and
``write_coco`` only add files. Reading decodes with typed msgspec structs straight into columns (see
:mod:`aion_pandas.formats._coco_decode`); writing streams the ``annotations`` array in chunks built with
vectorized Arrow string kernels, never a list of per-box dicts.

>>> frame = parse_coco({"images": [{"id": 7, "file_name": "a.jpg", "width": 4, "height": 3}],
...     "annotations": [{"id": 1, "image_id": 7, "category_id": 5, "bbox": [0, 1, 2, 2]}],
...     "categories": [{"id": 5, "name": "cat"}]})
>>> frame[["image_id", "file_name", "category", "category_id", "x", "y", "w", "h"]].values.tolist()
[[7, 'a.jpg', 'cat', 5, 0.0, 1.0, 2.0, 2.0]]
"""
from __future__ import annotations

import io
import mmap
import os
from typing import Any

import pandas as pd

from aion_pandas.errors import FormatError
from aion_pandas.formats import _coco_decode, _coco_encode
from aion_pandas.formats._memory import READ_ONLY_MAP
from aion_pandas.formats._source import Dest, Source, open_dest, read_source
from aion_pandas.formats.schema import CORE_COLUMNS, EXTRA_COLUMNS, validate_frame, warn_unsupported


#: what COCO cannot carry (a count of each is reported by write_coco)
UNSUPPORTED: tuple[str, ...] = ("difficult", "truncated", "dataset_id")


def parse_coco(data: dict[str, Any] | bytes, *, where: str | None = None) -> pd.DataFrame:
    """A COCO detection document (a dict or its JSON bytes) as a canonical frame.

    Every image is kept (an image without boxes is one row with null box columns); ``category_id``
    keeps the file's ids; ``iscrowd``, ``area`` and the ``aion_*``/``coco_url`` image keys become
    columns. Errors name the JSON path (``$.annotations[12]``) and, for bad JSON, the line.

    >>> parse_coco(b'{"images": [], "annotations": [], "categories": []}').shape[0]
    0
    """
    try:
        doc, columns = _coco_decode.decode_columns(data, where=where)
        return _coco_decode.build_frame(doc, where=where, columns=columns)
    except OverflowError as exc:  # an id past 64 bits
        raise FormatError(f"a number does not fit in 64 bits ({exc})", path=where) from None


def read_coco(source: Source) -> pd.DataFrame:
    """Read a COCO detection JSON file (path, bytes or binary file) into a canonical frame.

    >>> frame = read_coco("instances_val.json")  # doctest: +SKIP
    """
    if isinstance(source, (str, os.PathLike)) and os.path.isfile(source) and os.path.getsize(source):
        name = os.fspath(source)
        with open(source, "rb") as fh:
            mapped = mmap.mmap(fh.fileno(), 0, **READ_ONLY_MAP)
            try:
                frame = parse_coco(mapped, where=name)  # the page cache is parsed in place: no copy
            finally:
                try:
                    mapped.close()
                except BufferError:  # an error's traceback still holds a view: the GC unmaps it
                    pass
    else:
        data, name = read_source(source)
        frame = parse_coco(data, where=name)
    frame.attrs.update({"format": "coco", "source": name})
    return frame


def serialize_coco(frame: pd.DataFrame, *, chunk_rows: int = 200_000) -> bytes:
    """The COCO detection JSON of a canonical frame, as bytes.

    >>> frame = parse_coco({"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}],
    ...     "annotations": [], "categories": [{"id": 1, "name": "cat"}]})
    >>> serialize_coco(frame)[:60]
    b'{"info":{"description":"aion-pandas export","version":"1.0"}'
    """
    buf = io.BytesIO()
    _write(frame, buf, chunk_rows=chunk_rows, warn=False)
    return buf.getvalue()


def write_coco(frame: pd.DataFrame, dest: Dest, *, chunk_rows: int = 200_000, **options: Any) -> None:
    """Write a canonical frame as COCO detection JSON to a path (atomically) or a binary file.

    Category ids: the frame's ``category_id`` when each name has one id, else names sorted, 1..K.
    Reports what COCO cannot carry (``difficult``, ``truncated``, columns outside the canonical
    frame, ``dataset_id`` when the frame mixes datasets) as one LossyConversionWarning.

    >>> write_coco(frame, "instances.json")  # doctest: +SKIP
    """
    if options:
        raise TypeError(f"write_coco got unknown options {sorted(options)}")
    with open_dest(dest) as out:
        _write(frame, out, chunk_rows=chunk_rows, warn=True)


def _write(frame: pd.DataFrame, out: Any, *, chunk_rows: int, warn: bool) -> None:
    frame = validate_frame(frame, where="frame given to write_coco")
    if warn:
        others = [c for c in frame.columns if c not in CORE_COLUMNS and c not in EXTRA_COLUMNS]
        warn_unsupported(frame, "coco", [c for c in UNSUPPORTED if c != "dataset_id"]
                         + (["dataset_id"] if _many_datasets(frame) else []) + others)
    _coco_encode.write_document(frame, out, chunk_rows=chunk_rows)


def _many_datasets(frame: pd.DataFrame) -> bool:
    return frame["dataset_id"].nunique(dropna=True) > 1
