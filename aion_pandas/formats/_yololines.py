"""Parse YOLO label files (``class cx cy w h [confidence]`` per line) into box columns.

One path for every file: the texts are joined and Arrow splits them into lines and fields and
converts the fields to numbers; an error is named once, with its member and line.

>>> lines = parse_lines([b"0 0.5 0.5 0.2 0.4\\n", b""], ["a.txt", "b.txt"], "x.zip")
>>> lines.box_label.tolist(), lines.values[:, 0].tolist()
([0], [0.0, 0.5, 0.5, 0.2, 0.4, nan])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aion_pandas.errors import FormatError
from aion_pandas.formats._arrowtext import float_column

MAX_CLASS = 2**20 - 1  # classes past the names become categories "K".."max": keep that small


@dataclass
class LabelLines:
    """The boxes of all label files, in file then line order.

    ``box_label``: each box's label file (its position in the files given); ``values``: a
    (6, N) float64 array ``class, cx, cy, w, h, score`` (score NaN when the line has none).

    >>> parse_lines([b"7 0 0 0 0\\n2 0 0 0 0 .9\\n"], ["a.txt"], "x").values[[0, 5]].tolist()
    [[7.0, 2.0], [nan, 0.9]]
    """

    box_label: np.ndarray
    values: np.ndarray

    @property
    def max_class(self) -> int:
        """The largest class index (-1 with no box)."""
        return int(self.values[0].max(initial=-1))


def parse_lines(texts: list[bytes], labels: list[str], where: str) -> LabelLines:
    """Every box of the label files ``texts`` (named ``labels`` in errors).

    Lines of 5 fields are boxes, 6 add a confidence; segmentation lines (1 + 2k fields, k >= 3)
    become their bounding box; blank lines are skipped; lines may end in LF or CRLF. Anything
    else is a :class:`FormatError` naming the member and line.
    """
    texts = [t if not t or t.endswith(b"\n") else t + b"\n" for t in texts]
    per_file = np.fromiter((t.count(b"\n") for t in texts), dtype=np.int64, count=len(texts))
    where_line = _Lines(labels, per_file, where)
    blob = b"".join(texts).replace(b"\r", b" ")  # CRLF: a blank before the newline
    try:
        text = pa.array([blob], type=pa.large_binary()).cast(pa.large_string())
    except pa.ArrowInvalid:
        where_line.fail(_line_at(blob, _first_bad_byte(blob)), "not UTF-8 text")
    lines = pc.split_pattern(text, "\n").flatten()[:-1]
    tokens = None if any(c in blob for c in (b"\t", b"\x0b", b"\x0c")) else pc.split_pattern(lines, " ")
    if tokens is not None and not pc.any(pc.equal(pc.binary_length(tokens.flatten()), 0)).as_py():
        box_lines = np.arange(len(lines))  # single-spaced (what writers write): nothing to trim
    else:
        lines = pc.ascii_trim_whitespace(lines)
        filled = pc.not_equal(lines, "")
        box_lines = np.flatnonzero(filled.to_numpy(zero_copy_only=False))
        tokens = pc.ascii_split_whitespace(pc.filter(lines, filled))
    nfields = pc.list_value_length(tokens).to_numpy(zero_copy_only=False).astype(np.int64)
    bad = (nfields != 5) & (nfields != 6) & ((nfields < 7) | (nfields % 2 == 0))
    if bad.any():
        i = int(np.argmax(bad))
        where_line.fail(int(box_lines[i]), "expected 5 fields (class cx cy w h) or 6 (with a "
                        f"confidence), got {nfields[i]}")

    def fail(token: int, reason: str) -> None:
        where_line.fail(int(box_lines[np.searchsorted(np.cumsum(nfields), token, side="right")]),
                        reason)

    numbers = float_column(tokens.flatten(), fail)
    values = _values(numbers, nfields)
    _check(values, nfields == 6, box_lines, where_line)
    return LabelLines(where_line.file_of(box_lines), values)


def _values(numbers: np.ndarray, nfields: np.ndarray) -> np.ndarray:
    """(6, N) ``class, cx, cy, w, h, score`` from the flat numbers of N lines."""
    if len(nfields) and nfields.min() == nfields.max() <= 6:  # one width: a view of the numbers
        table = numbers.reshape(-1, int(nfields[0])).T
        return table if len(table) == 6 else np.vstack([table, np.full((1, len(nfields)), np.nan)])
    starts = np.cumsum(nfields) - nfields
    values = np.full((6, len(starts)), np.nan)
    values[0] = numbers[starts]
    plain = nfields <= 6
    for j in range(1, 5):
        values[j, plain] = numbers[starts[plain] + j]
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


def _check(values: np.ndarray, scored: np.ndarray, box_lines: np.ndarray,
           where_line: _Lines) -> None:
    """Refuse the first bad line, naming its member and line."""
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
    if found:
        box, reason = min(found, key=lambda pair: pair[0])
        where_line.fail(int(box_lines[box]), reason)


class _Lines:
    """Turns a line index of the joined text into "member, line N" for errors."""

    def __init__(self, labels: list[str], per_file: np.ndarray, where: str) -> None:
        self.labels, self.where = labels, where
        self.first_line = np.cumsum(per_file) - per_file
        self.ends = np.cumsum(per_file)

    def file_of(self, lines: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.ends, lines, side="right")

    def fail(self, line: int, reason: str) -> None:
        label = int(self.file_of(np.array([line]))[0])
        raise FormatError(f"line {line - int(self.first_line[label]) + 1}: {reason}",
                          path=self.where, member=self.labels[label])


def _line_at(blob: bytes, offset: int) -> int:
    return blob.count(b"\n", 0, offset)


def _first_bad_byte(blob: bytes) -> int:
    try:
        blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return 0
