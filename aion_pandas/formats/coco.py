"""COCO detection JSON <-> the canonical annotation frame: the file side.

:func:`parse_coco` (:mod:`.coco_parse`) and :func:`serialize_coco` are pure; ``read_coco`` and
``write_coco`` only add files.

>>> frame = read_coco(b'{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": []}')
>>> frame[["image_id", "file_name"]].values.tolist()
[[1, 'a.jpg']]
"""
from __future__ import annotations

import contextlib
import io
import mmap
import os
from typing import Any

import pandas as pd

from aion_pandas.formats import coco_write
from aion_pandas.formats._source import Dest, Source, open_dest, read_source
from aion_pandas.formats.coco_parse import parse_coco
from aion_pandas.formats.schema import CORE_COLUMNS, EXTRA_COLUMNS, validate_frame, warn_unsupported

__all__ = ["UNSUPPORTED", "parse_coco", "read_coco", "serialize_coco", "write_coco"]

#: what COCO cannot carry (a count of each is reported by write_coco)
UNSUPPORTED: tuple[str, ...] = ("difficult", "truncated", "dataset_id")


def read_coco(source: Source) -> pd.DataFrame:
    """Read a COCO detection JSON file (path, bytes or binary file) into a canonical frame.

    >>> frame = read_coco("instances_val.json")  # doctest: +SKIP
    """
    if isinstance(source, (str, os.PathLike)) and os.path.isfile(source) and os.path.getsize(source):
        name = os.fspath(source)
        with open(source, "rb") as fh:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            frame = parse_coco(mapped, where=name)  # parsed from the page cache: no copy of the file
        finally:
            with contextlib.suppress(BufferError):  # an error's traceback still holds a view: GC unmaps
                mapped.close()
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
        many = frame["dataset_id"].nunique(dropna=True) > 1
        warn_unsupported(frame, "coco", ["difficult", "truncated"] + (["dataset_id"] if many else []) + others)
    coco_write.write_document(frame, out, chunk_rows=chunk_rows)
