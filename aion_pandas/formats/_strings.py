"""Strings put on a frame's rows: the take every reader uses for its per-image text columns.

>>> list(take_strings(pa.array(["a.jpg", "b.jpg"]), np.array([0, 0, 1])))
['a.jpg', 'a.jpg', 'b.jpg']
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aion_pandas.formats._memory import ARROW_POOL


def take_strings(strings: pa.Array, positions: np.ndarray) -> pd.arrays.ArrowStringArray:
    """``strings[positions]`` as a pandas ``string`` array.

    The strings' 16-byte views are taken (as fixed-size binary: the text is not), then cast to
    contiguous text in one buffer of the exact size: about half the time of ``pc.take`` on the
    text, whose buffer grows by copies, and all without the GIL. Without Arrow's string views
    (pyarrow < 16) it is ``pc.take``.

    A column with one value for every row (a dataset id, a status) becomes chunks that all
    share one block of ``_SHARED_ROWS`` rows: about 1 MB instead of 16 MB or more at 1M rows.

    >>> list(take_strings(pa.array(["a", None, "bc"]), np.array([0, 0, 2])))
    ['a', 'a', 'bc']
    """
    total = len(positions)
    if total > _SHARED_ROWS and _one_value(strings):
        block = _taken_text(strings.slice(0, 1), np.zeros(_SHARED_ROWS, dtype=np.int64))
        full, rest = divmod(total, _SHARED_ROWS)
        chunks = [block] * full + ([block.slice(0, rest)] if rest else [])
        return pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=pa.large_string()))
    return pd.arrays.ArrowStringArray(_taken_text(strings, positions))


_SHARED_ROWS = 1 << 16


def _one_value(strings: pa.Array) -> bool:
    """Whether every item is the same string, or every item is null."""
    if not len(strings) or strings.null_count == len(strings):
        return True
    return strings.null_count == 0 and pc.all(pc.equal(strings, strings[0])).as_py()


def _taken_text(strings: pa.Array, positions: np.ndarray) -> pa.LargeStringArray:
    try:
        views = pc.cast(strings, pa.string_view(), memory_pool=ARROW_POOL)
    except (AttributeError, pa.ArrowNotImplementedError):
        return pc.take(strings, positions, memory_pool=ARROW_POOL).cast(pa.large_string())
    valid, view_buffer, *text = views.buffers()
    fixed = pa.Array.from_buffers(pa.binary(16), len(views), [None, view_buffer],
                                  offset=views.offset)
    taken = pc.take(fixed, positions, memory_pool=ARROW_POOL)
    if views.null_count:
        mask = views.is_valid().to_numpy(zero_copy_only=False)[positions]
        valid = pa.py_buffer(np.packbits(mask, bitorder="little"))
    else:
        valid = None
    out = pa.Array.from_buffers(pa.string_view(), len(positions),
                                [valid, taken.buffers()[1], *text])
    return pc.cast(out, pa.large_string(), memory_pool=ARROW_POOL)
