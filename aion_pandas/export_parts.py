"""One large export split into the parts a Dask frame reads in parallel (see :mod:`aion_pandas.dask_frames`).

- CSV: byte ranges of about ``blocksize``, cut only at a safe line boundary: a newline outside
  quotes (quoted descriptions may hold newlines; the quote count before a position says whether it
  is inside one) where the next row starts another image, so an image's rows stay together. A
  CSV without an ``image_id`` column is one part (its ids are numbered over the whole file).
  Finding the cuts reads the file once, memory-mapped, keeping nothing.
- YOLO and Pascal VOC (zip or folder): ``n`` runs of images (the readers' ``part=(k, n)``).
- COCO JSON: one part per file (a JSON document cannot be cut).
- A URL: one part, fetched on the worker.

>>> parts = export_parts("big.csv", blocksize=64 << 20)      # doctest: +SKIP
>>> [p.byte_range for p in parts][:2]                         # doctest: +SKIP
[(96, 67108961), (67108961, 134217820)]
"""
from __future__ import annotations

import csv
import io
import mmap
import os
from typing import Any

import numpy as np

from aion_pandas.dask_frames import ExportPart, _format, _is_url
from aion_pandas.formats import sniff_path

__all__ = ["export_parts", "csv_ranges"]

BLOCKSIZE = 64 << 20
_QUOTE, _NEWLINE = ord('"'), ord("\n")
_COUNT_CHUNK = 16 << 20


def _size(path: str) -> int:
    if not os.path.isdir(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def export_parts(source: str | os.PathLike, format: str | None = None, *,  # noqa: A002
                 blocksize: int = BLOCKSIZE, npartitions: int | None = None,
                 options: dict[str, Any] | None = None, dataset_id: str | None = None) -> list[ExportPart]:
    """The parts of one export (a local file or folder, or a URL) for :func:`~aion_pandas.dask_frames.from_parts`.

    ``npartitions`` (YOLO/VOC) defaults to the size over ``blocksize``; CSV parts are about
    ``blocksize`` bytes.

    >>> export_parts("dataset_yolo.zip", npartitions=4)[1].part   # doctest: +SKIP
    (1, 4)
    """
    opts = tuple(sorted((options or {}).items()))
    text = os.fspath(source)
    if _is_url(text):
        fmt = format or _format_of_url(text)
        return [ExportPart(dataset_id, text, _format(fmt), options=opts)]
    fmt = _format(format or sniff_path(text))
    if fmt == "csv" and not os.path.isdir(text):
        header_end, ranges = csv_ranges(text, blocksize, delimiter=(options or {}).get("delimiter"))
        if len(ranges) > 1:
            return [ExportPart(dataset_id, text, fmt, byte_range=r, header_end=header_end, options=opts)
                    for r in ranges]
        return [ExportPart(dataset_id, text, fmt, options=opts)]
    if fmt in ("yolo", "pascal_voc"):
        n = npartitions or max(1, -(-_size(text) // blocksize))
        if n > 1:
            return [ExportPart(dataset_id, text, fmt, part=(k, n), options=opts) for k in range(n)]
    return [ExportPart(dataset_id, text, fmt, options=opts)]


def _format_of_url(url: str) -> str:
    path = url.split("?", 1)[0].lower()
    if path.endswith(".json"):
        return "coco"
    if path.endswith((".csv", ".tsv")):
        return "csv"
    raise ValueError(f"cannot tell the format of {path.rsplit('/', 1)[-1]!r} from its name: pass "
                     f"format='yolo' or 'pascal_voc'")


def csv_ranges(path: str | os.PathLike, blocksize: int = BLOCKSIZE, *, delimiter: str | None = None
               ) -> tuple[int, list[tuple[int, int]]]:
    """``(header_end, [(start, stop), ...])``: the CSV's header length and byte ranges that each
    start a row of a new image outside any quoted value (see the module's docstring).

    >>> csv_ranges("labels.csv", 1 << 20)   # doctest: +SKIP
    (96, [(96, 1048701), (1048701, 2090112)])
    """
    size = os.path.getsize(path)
    if size == 0:
        return 0, [(0, 0)]
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        data = np.frombuffer(mm, dtype=np.uint8)
        try:
            return _ranges(data, size, blocksize, delimiter)
        finally:
            del data  # the mmap closes only when no array views it


def _ranges(data: np.ndarray, size: int, blocksize: int, delimiter: str | None) -> tuple[int, list[tuple[int, int]]]:
    from aion_pandas.formats.csv import sniff_delimiter

    newline = int(np.argmax(data[: 1 << 20] == _NEWLINE)) if (data[: 1 << 20] == _NEWLINE).any() else -1
    if newline < 0:
        return 0, [(0, size)]
    header_end = newline + 1
    header = bytes(data[:header_end]).lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace")
    delim = delimiter or sniff_delimiter(header.encode())
    names = next(csv.reader(io.StringIO(header), delimiter=delim))
    if "image_id" not in names or data[:header_end].tobytes().count(b'"') % 2:
        return header_end, [(header_end, size)]
    column = names.index("image_id")
    cuts, pos, quotes = [header_end], header_end, 0
    while pos + blocksize < size:
        target = pos + blocksize
        quotes += _count_quotes(data, pos, target)
        cut = _cut_after(data, target, size, quotes % 2, column, delim)
        if cut is None:
            break
        quotes += _count_quotes(data, target, cut)
        cuts.append(cut)
        pos = cut
    cuts.append(size)
    return header_end, [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _count_quotes(data: np.ndarray, start: int, stop: int) -> int:
    total = 0
    for at in range(start, stop, _COUNT_CHUNK):
        total += int(np.count_nonzero(data[at:min(stop, at + _COUNT_CHUNK)] == _QUOTE))
    return total


def _cut_after(data: np.ndarray, target: int, size: int, inside: int, column: int, delim: str) -> int | None:
    """The first row start at or after ``target`` outside quotes whose image differs from the
    row before it; None when the file ends first (``inside``: the quote parity at ``target``)."""
    window = 1 << 16
    while True:
        stop = min(size, target + window)
        chunk = data[target:stop]
        parity = (np.cumsum(chunk == _QUOTE) + inside) % 2
        ends = np.flatnonzero((chunk == _NEWLINE) & (parity == 0))  # row ends outside quotes
        for prev, a, b in zip(ends, ends[1:], ends[2:]):  # whole rows: (prev, a] and (a, b]
            before = _field(bytes(chunk[prev + 1:a + 1]), column, delim)
            after = _field(bytes(chunk[a + 1:b + 1]), column, delim)
            if before is not None and after is not None and before != after:
                return int(target + a + 1)
        if stop == size:
            return None
        window *= 4


def _field(row: bytes, column: int, delim: str) -> str | None:
    try:
        fields = next(csv.reader(io.StringIO(row.decode("utf-8", "replace")), delimiter=delim))
    except (StopIteration, csv.Error):
        return None
    return fields[column] if column < len(fields) else None
