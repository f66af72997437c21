"""Memory settings of a Dask worker while it reads a part (see :func:`malloc_room`).

>>> with malloc_room():   # a no-op outside a worker started with a small MALLOC_TRIM_THRESHOLD_
...     pass
"""
from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Iterator

__all__ = ["malloc_room"]

_M_TRIM_THRESHOLD, _ROOM = -1, 256 << 20
_malloc = {"lock": threading.Lock(), "inside": 0}


@contextlib.contextmanager
def malloc_room() -> Iterator[None]:
    """While a part is read, glibc keeps freed memory instead of handing it back at once.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, under which our readers'
    large short-lived buffers are returned to the OS and faulted in again on every allocation (here
    twice the CPU of the same read elsewhere). While any read runs the threshold is raised; after the
    last one it is set back to the worker's value and the memory is trimmed once. Elsewhere (no such
    variable, not glibc) nothing changes.
    """
    configured = os.environ.get("MALLOC_TRIM_THRESHOLD_", "")
    libc = _libc() if configured.isdigit() and int(configured) < _ROOM else None
    if libc is None:
        yield
        return
    with _malloc["lock"]:
        _malloc["inside"] += 1
        if _malloc["inside"] == 1:
            libc.mallopt(_M_TRIM_THRESHOLD, _ROOM)
    try:
        yield
    finally:
        with _malloc["lock"]:
            _malloc["inside"] -= 1
            if _malloc["inside"] == 0:
                libc.mallopt(_M_TRIM_THRESHOLD, int(configured))
                libc.malloc_trim(0)


def _libc() -> Any:
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None
