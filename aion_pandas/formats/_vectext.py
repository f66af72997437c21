"""Vectorized text building for the zip writers (pyarrow compute; no per-row Python objects).

>>> fixed(np.array([0.5, -0.0000004, 1.25, np.nan]), 6).to_pylist()
['0.500000', '0.000000', '1.250000', None]
>>> per_group(pa.array(["a", "b", "c"]), np.array([0, 2, 2, 3])).to_pylist()
['a\\nb\\n', '', 'c\\n']
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def fixed(values: np.ndarray, decimals: int) -> pa.Array:
    """Numbers as fixed-point text with ``decimals`` digits, rounded (``NaN`` -> null); with 0, whole
    numbers."""
    values = np.asarray(values, dtype="float64")
    nan = np.isnan(values)
    scale = 10 ** decimals
    scaled = np.rint(np.where(nan, 0.0, values) * scale).astype("int64")
    negative = scaled < 0
    magnitude = np.abs(scaled)
    text = pc.cast(pa.array(magnitude // scale), pa.string())
    if decimals:
        frac = pc.utf8_lpad(pc.cast(pa.array(magnitude % scale), pa.string()), decimals, "0")
        text = pc.binary_join_element_wise(text, frac, ".")
    if negative.any():
        text = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", text, ""), text)
    return pc.if_else(pa.array(nan), pa.scalar(None, pa.string()), text)


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of arrays and literal strings (a null in any part: null)."""
    return pc.binary_join_element_wise(*parts, "")


def per_group(lines: pa.Array, offsets: np.ndarray, terminator: str = "\n") -> pa.Array:
    """Join consecutive ``lines`` into one text per group (``offsets``: n+1 bounds), each line ending
    with ``terminator``; an empty group gives ``""``."""
    if terminator:
        lines = join(lines, terminator)
    lists = pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), lines)
    return pc.binary_join(lists, "")


def xml_escape_array(values: pa.Array) -> pa.Array:
    """Escape a string array for XML element content, dropping characters XML 1.0 cannot hold."""
    out = pc.replace_substring_regex(values, "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "")
    for old, new in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        out = pc.replace_substring(out, old, new)
    return out


def views(texts: pa.Array) -> Iterator[memoryview]:
    """The UTF-8 bytes of each element of a string array, as memoryviews (no copies)."""
    kind = "int64" if pa.types.is_large_string(texts.type) else "int32"
    offsets = np.frombuffer(texts.buffers()[1], dtype=kind)[texts.offset: texts.offset + len(texts) + 1]
    data = memoryview(texts.buffers()[2] or b"")  # no buffer when every text is empty
    bounds = offsets.tolist()
    return (data[start:end] for start, end in zip(bounds, bounds[1:]))
