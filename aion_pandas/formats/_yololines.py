"""Parse every YOLO label line of an archive at once (vectorized, with member/line errors).

>>> lines = parse_lines(b"0 0.5 0.5 0.2 0.4", [17, 17], ["a.txt", "b.txt"], "x.zip")
>>> lines.box_label.tolist(), [c.tolist() for c in lines.chunks[0][:5]]
([0], [[0.0], [0.5], [0.5], [0.2], [0.4]])
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from aion_pandas.errors import FormatError
from aion_pandas.formats._fixedlines import decode_fixed, fixed_fields
from aion_pandas.formats._memory import ARROW_POOL, small_pages

MAX_CLASS = 2**20 - 1  # classes past the names become categories "K".."max": keep that small
Chunk = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass
class LabelLines:
    """The boxes of all label files, in file then line order.

    ``box_label``: each box's label file (its position in ``labels``); ``chunks``: consecutive
    runs of boxes, each six float64 arrays ``class, cx, cy, w, h, score`` (score NaN when
    absent). Chunks are Arrow's parse blocks, used as they are (no copy into one array), or one
    chunk from the fixed-layout decoder: the reader turns each into pixels on the frame's rows.

    >>> lines = parse_lines(b"1 .5 .5 .2 .2\\n\\n3 .5 .5 .1 .1 .9\\n", [14, 32], ["a", "b"], "x")
    >>> lines.box_label.tolist(), lines.chunks[0][0].tolist(), lines.chunks[0][5].tolist()
    ([0, 1], [1.0, 3.0], [nan, 0.9])
    """

    box_label: np.ndarray
    chunks: list[Chunk]

    @property
    def max_class(self) -> int:
        """The largest class index (-1 with no box).

        >>> parse_lines(b"7 0 0 0 0\\n2 0 0 0 0\\n", [20], ["a.txt"], "x").max_class
        7
        """
        return int(max((c[0].max() for c in self.chunks if len(c[0])), default=-1))


def parse_lines(blob: bytes | bytearray | memoryview, ends: np.ndarray, labels: list[str],
                where: str, *, verify: Callable[[], None] | None = None) -> LabelLines:
    """All label lines at once (``blob``: the label files joined, ``ends``: where each ends in
    it); see :class:`LabelLines`.

    Fast paths, for every line having the same 5 or 6 single-space-separated fields (what
    writers write): lines in the fixed layout of ``%d`` and ``%.6f`` fields are decoded by
    :mod:`._fixedlines`; others are read by pyarrow's CSV parser, the whole text at once.
    Anything else (blank lines, tabs, mixed field counts, segmentation lines, bad values) takes
    the general path, also vectorized, which finds the member and line of any error.

    ``verify`` (the reader's check of the members' CRCs) runs before any line error is raised,
    so a corrupt member is named as such and not by the odd line it may hold, and while Arrow
    parses, where it costs nothing. When the lines never went through Arrow it is not run: the
    caller runs it before it trusts the values.
    """
    blob, ends = _newline_terminated(memoryview(blob), np.asarray(ends, dtype=np.int64))
    try:
        return _parse(blob, ends, labels, where, verify)
    except FormatError:
        if verify is not None:
            verify()
        raise


def _parse(blob: memoryview, ends: np.ndarray, labels: list[str], where: str,
           verify: Callable[[], None] | None) -> LabelLines:
    counts, uniform, decoded = _fast_paths(blob, ends, verify)
    line_label = np.repeat(np.arange(len(counts)), counts)
    first_line = np.concatenate([[0], np.cumsum(counts)])
    where_line = _Lines(labels, line_label, first_line, where)
    if uniform is not None:
        (chunks, scored), box_lines = uniform, None
    else:
        raw = bytes(blob)
        blob = raw.replace(b"\r\n", b"\n").replace(b"\r", b" ")  # same lines, same count
        try:
            text = pc.cast(pa.array([blob], type=pa.large_binary()), pa.large_string())
        except pa.ArrowInvalid:  # found in the text as read: ``ends`` count its CRs
            bad = int(np.searchsorted(ends, _first_bad_byte(raw), side="right"))
            raise FormatError("not UTF-8 text", path=where, member=labels[bad]) from None
        numbers, nfields, box_lines = _tokens(pc.split_pattern(text, "\n").flatten()[:-1],
                                              where_line)
        values, scored = _values(numbers, nfields)  # scored: which lines had 6 fields
        chunks = [tuple(values)]
    at = 0
    for chunk in chunks:  # in line order: the first chunk with a bad line has the first bad line
        if not (decoded and chunk[0].max(initial=0) <= MAX_CLASS):  # decoded: whole, finite, >= 0
            _check(chunk, at, where_line, box_lines, scored)
        at += len(chunk[0])
    return LabelLines(line_label if box_lines is None else line_label[box_lines], chunks)


def _first_line(blob: memoryview, look: int = 4096) -> bytes:
    """The text's first line, without its newline (empty when none ends in ``look`` bytes)."""
    head = bytes(blob[:look])
    return head[:head.find(b"\n")] if b"\n" in head else b""


def _fast_paths(blob: memoryview, ends: np.ndarray, verify: Callable[[], None] | None
                ) -> tuple[np.ndarray, tuple[list[Chunk], bool] | None, bool]:
    """Each file's line count; the lines as chunks, with whether they have the score, when a
    fast path reads them (``None`` otherwise); and whether the fixed-layout decoder did."""
    n_fields = fixed_fields(_first_line(blob))
    if n_fields:
        newlines = _newlines(blob)
        counts = np.diff(np.searchsorted(newlines, ends), prepend=0)
        values = decode_fixed(blob, newlines, n_fields)
        if values is not None:
            if n_fields == 5:
                values.append(np.full(len(newlines), np.nan))
            return counts, ([tuple(values)], n_fields == 6), True
    with ThreadPoolExecutor(1) as pool:  # Arrow parses (without the GIL) while lines are counted
        parsing = pool.submit(_uniform_table, blob)
        if not n_fields:
            counts = np.diff(np.searchsorted(_newlines(blob), ends), prepend=0)
        if verify is not None:
            verify()
        return counts, _uniform_chunks(parsing.result(), int(counts.sum())), False


def _check(chunk: Chunk, at: int, where_line: _Lines, box_lines: np.ndarray | None,
           scored: bool | np.ndarray) -> None:
    """Refuse the chunk's first bad line, naming its member and line (``at``: the chunk's first
    box; ``scored``: whether each line's score came from the text, so NaN there is an error too).

    A few reductions tell whether anything is wrong; only then is the bad line looked for."""
    cls, cx, cy, w, h, score = chunk
    if not len(cls):
        return
    with np.errstate(invalid="ignore"):  # inf + -inf: NaN here, and no warning for it
        total = cls + cx + cy + w + h + np.where(scored, score, 0)
    if not (np.isnan(total).any() or cls.min() < 0 or cls.max() > MAX_CLASS
            or np.any(np.floor(cls) != cls) or w.min() < 0 or h.min() < 0):
        return
    missing = np.isnan(cls) | np.isnan(cx) | np.isnan(cy) | np.isnan(w) | np.isnan(h)
    problems = [
        (missing | (np.isnan(score) & scored), "a field is not a number"),
        ((cls < 0) | (cls != np.floor(cls)), "the class must be a whole number >= 0"),
        (cls > MAX_CLASS, f"the class index is past {MAX_CLASS:,}"),
        ((w < 0) | (h < 0), "negative box size"),
    ]
    found = [(int(np.argmax(bad)), reason) for bad, reason in problems if bad.any()]
    if found:
        box, reason = min(found, key=lambda pair: pair[0])
        where_line.fail(at + box if box_lines is None else int(box_lines[at + box]), reason)


_BLOCK = 1 << 20  # bytes a step: under the 4 MB from which numpy asks for huge pages


def _newlines(blob: memoryview, threads: int = 2) -> np.ndarray:
    """Where the newlines are: the text split between ``threads`` threads (numpy works without
    the GIL), each finding them a block at a time (no text-sized temporary)."""
    arr = np.frombuffer(blob, dtype=np.uint8)
    cuts = np.linspace(0, len(arr), threads + 1).astype(np.int64).tolist()
    with ThreadPoolExecutor(threads) as pool:
        parts = [np.zeros(0, dtype=np.int64), *chain.from_iterable(
            pool.map(lambda i: _newlines_in(arr, cuts[i], cuts[i + 1]), range(threads)))]
    return np.concatenate(parts, out=small_pages(sum(map(len, parts)), np.int64))


def _newlines_in(arr: np.ndarray, start: int, stop: int) -> list[np.ndarray]:
    block = np.empty(min(stop - start, _BLOCK), dtype=bool)
    found = []
    for at in range(start, stop, _BLOCK):
        part = arr[at:min(at + _BLOCK, stop)]
        found.append(np.flatnonzero(np.equal(part, 10, out=block[:len(part)])) + at)
    return found


def _newline_terminated(blob: memoryview, ends: np.ndarray) -> tuple[memoryview, np.ndarray]:
    """The files joined again with a newline after each non-empty one that lacks it."""
    arr = np.frombuffer(blob, dtype=np.uint8)
    starts = np.concatenate([np.zeros(1, dtype=np.int64), ends])[:-1]
    open_ended = (ends > starts) & (arr[np.maximum(ends - 1, 0)] != 10) if len(arr) else \
        np.zeros(len(ends), dtype=bool)
    if not open_ended.any():
        return blob, ends
    parts = [bytes(blob[a:b]) + b"\n" if fix else blob[a:b]
             for a, b, fix in zip(starts.tolist(), ends.tolist(), open_ended.tolist())]
    return memoryview(b"".join(parts)), ends + np.cumsum(open_ended)


def _uniform_table(blob: memoryview) -> pa.Table | None:
    """The lines parsed by Arrow when the first has 5 or 6 single-spaced fields (what writers
    write), as float64 columns; ``None`` when the text does not parse so."""
    first = _first_line(blob).split(b" ")
    if len(first) not in (5, 6):
        return None
    names = [f"f{i}" for i in range(len(first))]
    try:
        return pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(blob)),
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(delimiter=" ", quote_char=False,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(  # no text is null: "nan" is NaN, "NA" fails
                column_types={n: pa.float64() for n in names}, null_values=[]),
            memory_pool=ARROW_POOL)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None


def _uniform_chunks(table: pa.Table | None, n_lines: int) -> tuple[list[Chunk], bool] | None:
    """The table's rows as chunks of six arrays when there is one per line (all lines have the
    same 5 fields, no score: NaN, or 6; no text parses as null), and whether they have the
    score; ``None`` otherwise.

    Arrow ends lines at ``\\n``, ``\\r\\n`` and a lone ``\\r``; a lone ``\\r`` makes more rows
    than newlines, so such text goes to the general path."""
    if table is None or not n_lines or table.num_rows != n_lines:
        return None
    chunks = []
    for batch in table.to_batches():
        arrays = [column.to_numpy() for column in batch.columns]  # no nulls: Arrow's buffers
        if len(arrays) == 5:
            arrays.append(np.full(len(arrays[0]), np.nan))
        chunks.append(tuple(arrays))
    return chunks, table.num_columns == 6


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
