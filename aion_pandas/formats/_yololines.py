"""Parse YOLO label files (``class cx cy w h [confidence]`` per line) into box columns.

Arrow splits the texts into lines and fields and casts them to numbers; an error names its member and line.

>>> box_label, values = parse_lines([b"0 0.5 0.5 0.2 0.4\\n", b""], ["a.txt", "b.txt"], "x.zip")
>>> box_label.tolist(), values[:, 0].tolist()
([0], [0.0, 0.5, 0.5, 0.2, 0.4, nan])
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aion_pandas.errors import FormatError
from aion_pandas.formats._arrowtext import float_column

MAX_CLASS = 2**20 - 1  # classes past the names become categories "K".."max": keep that small


def parse_lines(texts: list[bytes], labels: list[str], where: str) -> tuple[np.ndarray, np.ndarray]:
    """Every box of the label files ``texts`` (named ``labels`` in errors), in file then line
    order: each box's file, and 6 x N ``class, cx, cy, w, h, score`` (NaN without a score).

    5 fields a box, 6 with a confidence, 1 + 2k (k >= 3) a polygon as its bounding box; blank lines skipped,
    LF or CRLF, a BOM ignored. Anything else is a FormatError naming the member and line (the first half's
    error wins). The files' second half is parsed on a helper thread (Arrow's kernels let go of the GIL),
    the only thread a reader starts itself: ``bench/bench_readers_zip.py --size L`` read the YOLO zip in
    1.04 s against 1.16 s without it, the folder in 1.30 s against 1.54 s (medians of 4).

    >>> parse_lines([b"7 0 0 0 0\\n2 0 0 0 0 .9\\n"], ["a.txt"], "x")[1][[0, 5]].tolist()
    [[7.0, 2.0], [nan, 0.9]]
    """
    half = (len(texts) + 1) // 2
    with ThreadPoolExecutor(1) as pool:
        second = pool.submit(_parse, texts[half:], labels[half:], where)
        box_file, values = _parse(texts[:half], labels[:half], where)  # its error is raised first
        box_file_b, values_b = second.result()
    return np.concatenate([box_file, box_file_b + half]), np.hstack([values, values_b])


def _parse(texts: list[bytes], labels: list[str], where: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`parse_lines` of some files, on the calling thread; each box's file counted from ``texts[0]``."""
    try:
        files = pa.array(texts, type=pa.large_binary()).cast(pa.large_string())
    except pa.ArrowInvalid:
        for label, text in zip(labels, texts):
            try:
                text.decode("utf-8")
            except UnicodeDecodeError as exc:  # Python refuses the bytes Arrow does, and says where
                line = text.count(b"\n", 0, exc.start) + 1
                raise FormatError(f"line {line}: not UTF-8 text", path=where, member=label) from None
        raise  # Arrow refused what Python decodes: Arrow's error as it is
    if pc.any(pc.starts_with(files, "\ufeff")).as_py():  # a BOM (Notepad's) before a file's first line
        files = pc.utf8_ltrim(files, "\ufeff")
    per_file = pc.split_pattern(files, "\n")
    line_file = pc.list_parent_indices(per_file).to_numpy()  # each line's file, ascending
    trimmed = pc.ascii_trim_whitespace(per_file.flatten())  # CR of CRLF, tabs, leading and trailing blanks
    filled = pc.not_equal(trimmed, "")
    box_lines = np.flatnonzero(filled.to_numpy(zero_copy_only=False))

    def fail_at(box: int, reason: str) -> None:
        """Raise naming the member and line (from 1) of the ``box``-th non-blank line."""
        flat = int(box_lines[box])  # among all the files' lines
        file = int(line_file[flat])
        line = flat - int(np.searchsorted(line_file, file)) + 1  # counted from its file's first line
        raise FormatError(f"line {line}: {reason}", path=where, member=labels[file])

    tokens = pc.ascii_split_whitespace(pc.filter(trimmed, filled))
    nfields = pc.list_value_length(tokens).to_numpy(zero_copy_only=False).astype(np.int64)
    bad = (nfields != 5) & (nfields != 6) & ((nfields < 7) | (nfields % 2 == 0))
    if bad.any():
        i = int(np.argmax(bad))
        fail_at(i, f"expected 5 fields (class cx cy w h) or 6 (with a confidence), got {nfields[i]}")

    def fail(token: int, reason: str) -> None:
        fail_at(int(np.searchsorted(np.cumsum(nfields), token, side="right")), reason)

    numbers = float_column(tokens.flatten(), fail)
    values = _values(numbers, nfields)
    problem = _problem(values, nfields == 6)
    if problem is not None:
        fail_at(*problem)
    return line_file[box_lines], values


def _values(numbers: np.ndarray, nfields: np.ndarray) -> np.ndarray:
    """(6, N) ``class, cx, cy, w, h, score`` from the flat numbers of N lines."""
    if len(nfields) and nfields.min() == nfields.max() <= 6:  # one width: a view of the numbers
        table = numbers.reshape(-1, int(nfields[0])).T
        return table if len(table) == 6 else np.vstack([table, np.full((1, len(nfields)), np.nan)])
    starts = np.cumsum(nfields) - nfields
    values = np.full((6, len(starts)), np.nan)
    values[0] = numbers[starts]
    plain = nfields <= 6
    values[1:5, plain] = numbers[starts[plain] + np.arange(1, 5)[:, None]]
    scored = nfields == 6
    values[5, scored] = numbers[starts[scored] + 5]
    if not plain.all():  # segmentation lines: x1 y1 x2 y2 ... -> their bounding box
        polygon = np.flatnonzero(~plain)
        points = (nfields[polygon] - 1) // 2
        first = np.repeat(starts[polygon] + 1, points) + 2 * (
            np.arange(points.sum()) - np.repeat(np.cumsum(points) - points, points))
        at = np.cumsum(points) - points
        xs, ys = numbers[first], numbers[first + 1]
        x0, x1 = np.minimum.reduceat(xs, at), np.maximum.reduceat(xs, at)
        y0, y1 = np.minimum.reduceat(ys, at), np.maximum.reduceat(ys, at)
        values[1:5, polygon] = ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)
    return values


def _problem(values: np.ndarray, scored: np.ndarray) -> tuple[int, str] | None:
    """The first box whose values are refused, and why (None: all are good)."""
    cls, cx, cy, w, h, score = values
    problems = [
        (~np.isfinite(values[:5]).all(axis=0) | (~np.isfinite(score) & scored),
         "a field is not a finite number"),
        ((cls < 0) | (cls != np.floor(cls)), "the class must be a whole number >= 0"),
        (cls > MAX_CLASS, f"the class index is past {MAX_CLASS:,}"),
        ((w < 0) | (h < 0), "negative box size"),
    ]
    with np.errstate(invalid="ignore"):
        found = [(int(np.argmax(bad)), reason) for bad, reason in problems if bad.any()]
    return min(found, key=lambda pair: pair[0]) if found else None
