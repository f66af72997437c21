"""Parse every YOLO label line of an archive at once (vectorized, with member/line errors).

>>> box_label, values, counts = parse_lines(b"0 0.5 0.5 0.2 0.4", [17, 17], ["a.txt", "b.txt"], "x.zip")
>>> box_label.tolist(), values[:5, 0].tolist(), counts.tolist()
([0], [0.0, 0.5, 0.5, 0.2, 0.4], [1, 0])
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from aion_pandas.errors import FormatError


def parse_lines(blob: bytes | bytearray, ends: np.ndarray, labels: list[str],
                where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All label lines at once (``blob``: the label files joined, ``ends``: where each ends in
    it): each box's label position, a (6, N) array whose rows are ``class, cx, cy, w, h, score``
    (score NaN when absent), and the lines per label file.

    Fast path: every line has the same 5 or 6 single-space-separated fields (what writers
    write): pyarrow's CSV parser reads the whole text at once. Anything else (blank lines,
    tabs, mixed field counts, segmentation lines, bad values) takes the general path, also
    vectorized, which finds the member and line of any error.
    """
    blob, ends = _newline_terminated(blob, np.asarray(ends, dtype=np.int64))
    newlines = np.flatnonzero(np.frombuffer(blob, dtype=np.uint8) == 10)
    counts = np.diff(np.searchsorted(newlines, ends), prepend=0)
    if b"\r" in blob:
        blob = blob.replace(b"\r\n", b"\n").replace(b"\r", b" ")
    line_label = np.repeat(np.arange(len(counts)), counts)
    first_line = np.concatenate([[0], np.cumsum(counts)])
    where_line = _Lines(labels, line_label, first_line, where)
    uniform = _uniform_table(blob, int(counts.sum()))
    if uniform is not None:
        values, with_score = uniform
        box_lines = np.arange(values.shape[1])
        scored = np.full(values.shape[1], with_score)
    else:
        try:
            text = pc.cast(pa.array([blob], type=pa.large_binary()), pa.large_string())
        except pa.ArrowInvalid:
            bad = int(np.searchsorted(ends, _first_bad_byte(blob), side="right"))
            raise FormatError("not UTF-8 text", path=where, member=labels[bad]) from None
        numbers, nfields, box_lines = _tokens(pc.split_pattern(text, "\n").flatten()[:-1],
                                              where_line)
        values, scored = _values(numbers, nfields)
    problems = [
        (np.isnan(values[0:5]).any(axis=0) | (np.isnan(values[5]) & scored),
         "a field is not a number"),
        ((values[0] < 0) | (values[0] != np.floor(values[0])),
         "the class must be a whole number >= 0"),
        ((values[3] < 0) | (values[4] < 0), "negative box size"),
    ]
    for bad, reason in problems:
        if bad.any():
            where_line.fail(box_lines[int(np.argmax(bad))], reason)
    return line_label[box_lines], values, counts


def _newline_terminated(blob: bytes | bytearray,
                        ends: np.ndarray) -> tuple[bytes | bytearray, np.ndarray]:
    """The files joined again with a newline after each non-empty one that lacks it."""
    arr = np.frombuffer(blob, dtype=np.uint8)
    starts = np.concatenate([np.zeros(1, dtype=np.int64), ends])[:-1]
    open_ended = (ends > starts) & (arr[np.maximum(ends - 1, 0)] != 10) if len(arr) else \
        np.zeros(len(ends), dtype=bool)
    if not open_ended.any():
        return blob, ends
    parts = [blob[a:b] + b"\n" if fix else blob[a:b]
             for a, b, fix in zip(starts.tolist(), ends.tolist(), open_ended.tolist())]
    return b"".join(parts), ends + np.cumsum(open_ended)


def _uniform_table(blob: bytes | bytearray, n_lines: int) -> tuple[np.ndarray, bool] | None:
    """The lines as a (6, N) array when they all have 5 (no score: NaN) or all 6 single-spaced
    numbers, and whether they have the score; ``None`` otherwise."""
    first = blob[:blob.find(b"\n")].split(b" ") if n_lines else []
    if len(first) not in (5, 6):
        return None
    names = [f"f{i}" for i in range(len(first))]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(blob),
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.float64() for n in names}))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows != n_lines or any(table.column(n).null_count for n in names):
        return None
    values = np.full((6, n_lines), np.nan)
    for j, name in enumerate(names):
        at = 0
        for chunk in table.column(name).chunks:  # one copy, chunk by chunk, into the row
            values[j, at:at + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
            at += len(chunk)
    return values, len(names) == 6


def _tokens(lines: pa.Array, where_line: _Lines) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numbers of all non-blank lines, fields per line, and those lines' positions."""
    trimmed = pc.utf8_trim_whitespace(lines)
    keep = pc.not_equal(trimmed, "")
    box_lines = np.flatnonzero(keep.to_numpy(zero_copy_only=False))
    tokens = pc.utf8_split_whitespace(pc.filter(trimmed, keep))
    nfields = pc.list_value_length(tokens).to_numpy(zero_copy_only=False).astype("int64")
    where_line.check_counts(nfields, box_lines)
    flat = tokens.flatten()
    numbers = pd.to_numeric(pd.Series(flat.to_numpy(zero_copy_only=False)),
                            errors="coerce").to_numpy(dtype="float64")
    bad = np.isnan(numbers) & ~pc.match_substring_regex(
        flat, "^[+-]?nan$", ignore_case=True).to_numpy(zero_copy_only=False)
    if bad.any():
        k = int(np.argmax(bad))
        owner = np.repeat(np.arange(len(nfields)), nfields)
        where_line.fail(box_lines[owner[k]], f"{flat[k].as_py()!r} is not a number")
    return numbers, nfields, box_lines


def _values(numbers: np.ndarray, nfields: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(6, N) ``class, cx, cy, w, h, score`` from the flat numbers, and which lines had a score."""
    starts = np.concatenate([[0], np.cumsum(nfields)])[:-1]
    values = np.full((6, len(starts)), np.nan)
    values[0] = numbers[starts]
    plain = nfields <= 6
    for j in range(1, 5):
        values[j, plain] = numbers[starts[plain] + j]
    scored = nfields == 6
    values[5, scored] = numbers[starts[scored] + 5]
    if (~plain).any():
        values[1:5, ~plain] = _polygon_boxes(numbers, starts[~plain], nfields[~plain]).T
    return values, scored


class _Lines:
    """Turns a global line index into "member, line N" for errors."""

    def __init__(self, labels: list[str], line_label: np.ndarray, first_line: np.ndarray,
                 where: str) -> None:
        self.labels, self.line_label, self.first_line, self.where = labels, line_label, first_line, where

    def fail(self, line: int, reason: str) -> None:
        label = int(self.line_label[line])
        raise FormatError(f"line {line - int(self.first_line[label]) + 1}: {reason}",
                          path=self.where, member=self.labels[label])

    def check_counts(self, nfields: np.ndarray, lines: np.ndarray) -> None:
        bad = (nfields != 5) & (nfields != 6) & ((nfields < 7) | (nfields % 2 == 0))
        if bad.any():
            i = int(np.argmax(bad))
            self.fail(lines[i], f"expected 5 fields (class cx cy w h) or 6 (with a confidence), "
                                f"got {nfields[i]}")


def _polygon_boxes(numbers: np.ndarray, starts: np.ndarray, nf: np.ndarray) -> np.ndarray:
    """Segmentation lines (class x1 y1 x2 y2 ...) as normalized centre boxes."""
    out = np.empty((len(starts), 4))
    for k, (s, n) in enumerate(zip(starts.tolist(), nf.tolist())):
        xs, ys = numbers[s + 1:s + n:2], numbers[s + 2:s + n:2]
        x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
        out[k] = ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)
    return out


def _first_bad_byte(blob: bytes) -> int:
    try:
        blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return 0
