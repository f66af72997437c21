"""Where the readers' big buffers come from: pages that are cheap to touch for the first time.

Two allocators ask the kernel for transparent huge pages: pyarrow's default pool (mimalloc) and
numpy (for arrays over 4 MB). A fresh 2 MB page has to be zeroed whole, and on a VM backed lazily
by its host it can cost milliseconds; the first read of a 1M-box file in a new process then spends
0.15-0.5 s in the kernel instead of 0.05 s (``bench/bench_readers.py``; this module's uses say
what each saves). So the readers pass :data:`ARROW_POOL` to Arrow's parsers, casts and takes, and
build their biggest numpy columns with :func:`small_pages`. Both hand memory back to the system
when freed, as mimalloc and numpy do.

>>> import pyarrow as pa
>>> pa.array([1, 2], memory_pool=ARROW_POOL).to_pylist()
[1, 2]
"""
from __future__ import annotations

import mmap
from typing import Any

import numpy as np
import pyarrow as pa

ARROW_POOL: pa.MemoryPool = pa.system_memory_pool()
"""malloc: large buffers are their own mappings with ordinary 4 KB pages."""

READ_ONLY_MAP: dict[str, int] = ({"flags": mmap.MAP_SHARED | mmap.MAP_POPULATE, "prot": mmap.PROT_READ}
                                 if hasattr(mmap, "MAP_POPULATE") else {"access": mmap.ACCESS_READ})
"""``mmap.mmap(fd, 0, **READ_ONLY_MAP)``: a read-only file mapping whose pages are mapped at once
where the OS can (Linux: one call instead of a fault per 64 KB; ~10 ms less for a 120 MB file
already in the page cache)."""


def small_pages(n: int, dtype: Any, *, populate: bool = False) -> np.ndarray:
    """An uninitialised array in its own private anonymous mapping (freed with its last view).

    Pages of an unused tail are never touched. ``populate``: the kernel maps every page in the
    call (Linux ``MAP_POPULATE``), about a third cheaper than a fault per page, and done by the
    calling thread, which can be a helper while the reader works on something else.

    >>> a = small_pages(3, np.float64); a[:] = 1.5; a.tolist()
    [1.5, 1.5, 1.5]
    """
    flags = getattr(mmap, "MAP_PRIVATE", None), getattr(mmap, "MAP_ANONYMOUS", None)
    if None in flags or n == 0:
        return np.empty(n, dtype)
    size = n * np.dtype(dtype).itemsize
    extra = getattr(mmap, "MAP_POPULATE", 0) if populate else 0
    return np.frombuffer(mmap.mmap(-1, size, flags=flags[0] | flags[1] | extra), dtype, n)
