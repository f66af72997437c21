"""Many byte ranges of one buffer joined into one, copied once (the zip reader's members, names).

>>> bytes(gather(memoryview(b"..abc..de"), np.array([2, 7]), np.array([3, 2])))
b'abcde'
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aion_pandas.formats._memory import ARROW_POOL


def gather(buffer: memoryview, begins: np.ndarray, sizes: np.ndarray) -> memoryview:
    """The byte ranges ``buffer[begin:begin + size]`` joined, copied once (a range outside
    ``buffer`` is a ``ValueError``).

    Arrow does the copy (a ``binary_view`` array pointing into ``buffer``, cast to contiguous
    bytes) when ``buffer`` is under 2 GiB; otherwise one range at a time.

    >>> bytes(gather(memoryview(b"..abc..de"), np.array([2, 7]), np.array([3, 2])))
    b'abcde'
    """
    begins, sizes = np.asarray(begins, dtype=np.int64), np.asarray(sizes, dtype=np.int64)
    if len(begins) != len(sizes) or ((begins < 0) | (sizes < 0) | (begins + sizes > len(buffer))).any():
        raise ValueError("every range must lie inside the buffer")
    if not len(begins):
        return memoryview(b"")
    if len(buffer) < 2**31 - 1:
        try:
            return _gather_with_arrow(buffer, begins, sizes)
        except (AttributeError, pa.ArrowNotImplementedError):  # a pyarrow without binary_view
            pass
    return _gather_by_copy(buffer, begins, sizes)


def _gather_by_copy(buffer: memoryview, begins: np.ndarray, sizes: np.ndarray) -> memoryview:
    joined = bytearray(int(sizes.sum()))
    into, at = memoryview(joined), 0
    for begin, size in zip(begins.tolist(), sizes.tolist()):
        into[at:at + size] = buffer[begin:begin + size]
        at += size
    return memoryview(joined)


def _gather_with_arrow(buffer: memoryview, begins: np.ndarray, sizes: np.ndarray) -> memoryview:
    data = np.frombuffer(buffer, dtype=np.uint8)
    views = np.zeros((len(begins), 16), dtype=np.uint8)  # Arrow's view layout, 16 bytes each
    views[:, 0:4] = sizes.astype("<i4").view(np.uint8).reshape(-1, 4)
    inline = sizes <= 12  # up to 12 bytes live in the view itself
    small, large = np.flatnonzero(inline), np.flatnonzero(~inline)
    head = np.arange(12)
    taken = data[np.minimum(begins[small, None] + head, max(len(data) - 1, 0))] if len(data) else \
        np.zeros((len(small), 12), dtype=np.uint8)
    taken[head >= sizes[small, None]] = 0
    views[small, 4:16] = taken
    views[large, 4:8] = data[begins[large, None] + head[:4]]  # the prefix
    views[large, 12:16] = begins[large].astype("<i4").view(np.uint8).reshape(-1, 4)  # buffer 0
    array = pa.Array.from_buffers(pa.binary_view(), len(begins),
                                  [None, pa.py_buffer(views), pa.py_buffer(buffer)])
    joined = pc.cast(array, pa.large_binary(), memory_pool=ARROW_POOL)
    return memoryview(joined.buffers()[2] or b"").cast("B")  # unsigned bytes, as bytes have
