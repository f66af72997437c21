"""Where a reader's bytes come from and where a writer's bytes go: a path, bytes or a binary file.

>>> data, name = read_source(b'{"images": []}')
>>> name, data[:10]
('<bytes>', b'{"images":')
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO, Union

import pyarrow as pa

from aion_pandas.errors import FormatError

Source = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]
Dest = Union[str, os.PathLike, BinaryIO]
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first bytes (an empty zip: its end record)


def source_name(source: Source) -> str:
    """A printable name of ``source`` for errors and ``frame.attrs["source"]``.

    >>> source_name("a/b.json"), source_name(b"{}")
    ('a/b.json', '<bytes>')
    """
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"


def is_container(source: Source) -> bool:
    """Whether ``source`` is a folder or a zip (a path or bytes), not one file's bytes.

    >>> is_container(b"PK\\x05\\x06" + bytes(18)), is_container(b"{}")
    (True, False)
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:4]).startswith(ZIP_MAGIC)
    if not isinstance(source, (str, os.PathLike)) or not os.path.exists(source):
        return False
    if os.path.isdir(source):
        return True
    with open(source, "rb") as fh:
        return fh.read(4).startswith(ZIP_MAGIC)


def read_source(source: Source) -> tuple[bytes | pa.Buffer, str]:
    """The bytes of ``source`` (a file is memory-mapped, not copied) and its printable name (see
    the module's example); a missing file is a FormatError."""
    name = source_name(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name
    if isinstance(source, (str, os.PathLike)):
        if os.path.isdir(source):
            raise FormatError("is a directory, not an export file", path=name)
        try:
            return pa.memory_map(name).read_buffer(), name
        except FileNotFoundError:
            raise FormatError("no such file", path=name) from None
    read = getattr(source, "read", None)
    if read is None:
        raise FormatError(f"cannot read from a {type(source).__name__}: give a path, bytes or a "
                          "binary file")
    data = read()
    if isinstance(data, str):
        raise FormatError("the file is open in text mode: open it with 'rb'", path=name)
    return bytes(data), name


@contextlib.contextmanager
def open_dest(dest: Dest) -> Iterator[IO[bytes]]:
    """A binary file to write to: a path is written to a temporary name, then renamed (no half
    file); a binary file is written as it is."""
    if isinstance(dest, (str, os.PathLike)):
        path = Path(dest)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as out:
                yield out
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    else:
        if not hasattr(dest, "write"):
            raise TypeError(f"cannot write to a {type(dest).__name__}: give a path or a binary file")
        yield dest  # type: ignore[misc]
