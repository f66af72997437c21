"""A lean zip writer for many small members (label files): one ``zlib.compress`` per member (or
none, for stored ones) and prebuilt headers. A fixed timestamp makes the same frame give the same
bytes; ZIP64 end records past 65,534 members; an archive over 4 GiB is refused.

>>> import io, zipfile
>>> buf = io.BytesIO(); write_zip(buf, [("a/é.txt", "hé\\n"), ("b.txt", b"")])
>>> archive = zipfile.ZipFile(buf); archive.testzip(), archive.read("a/é.txt").decode()
(None, 'hé\\n')
"""
from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from aion_pandas.errors import FormatError
from aion_pandas.formats._source import open_dest

LEVEL = 1  # zlib's fastest: label text still shrinks 5-6x, at twice the speed of 6
_DOS_DATE, _DOS_TIME = (0 << 9) | (1 << 5) | 1, 0
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR = struct.Struct("<IIQI")
_END = struct.Struct("<IHHHHIIH")
_LIMIT = 0xFFFFFFFF - (1 << 24)


def write_zip(dest: str | Path | BinaryIO, members: Iterable[tuple[str, str | bytes | memoryview]],
              *, stored: Callable[[str], bool] | None = None) -> None:
    """Write ``(name, data)`` members (str is UTF-8) as a zip, one by one: deflated, except those
    ``stored(name)`` says to store. A ``dest`` path that is a folder, ends with ``/`` or is not named
    ``.zip`` is a folder: the members become its files."""
    if isinstance(dest, (str, os.PathLike)) and (os.path.isdir(dest)
                                                 or not os.fspath(dest).lower().endswith(".zip")):
        _write_folder(Path(dest), members)
        return
    with open_dest(dest) as out:  # a path is written to a temporary name, then renamed
        _write(out, members, stored or (lambda name: False))


def _write_folder(root: Path, members: Iterable[tuple[str, str | bytes | memoryview]]) -> None:
    """The members as files under ``root``, each written to a temporary name, then renamed."""
    root.mkdir(parents=True, exist_ok=True)
    for name, data in members:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else bytes(data))
        os.replace(tmp, path)


def _write(out: BinaryIO, items: Iterable[tuple[str, str | bytes | memoryview]],
           stored: Callable[[str], bool]) -> None:
    central: list[bytes] = []
    chunk: list[bytes] = []
    offset = size = 0
    for name, data in items:
        data = data.encode("utf-8") if isinstance(data, str) else data
        raw_name = name.encode("utf-8")
        flags = 0 if raw_name.isascii() else 0x800
        method = 0 if stored(name) else 8
        packed = data if method == 0 else zlib.compress(data, LEVEL, -15)
        crc = zlib.crc32(data)
        local = _LOCAL.pack(0x04034B50, 20, flags, method, _DOS_TIME, _DOS_DATE, crc, len(packed),
                            len(data), len(raw_name), 0)
        if offset > _LIMIT or len(data) > _LIMIT:
            raise FormatError("the archive would pass 4 GiB; export fewer images per file", member=name)
        chunk += (local, raw_name, packed)
        central.append(_CENTRAL.pack(0x02014B50, (3 << 8) | 20, 20, flags, method, _DOS_TIME, _DOS_DATE,
                                     crc, len(packed), len(data), len(raw_name), 0, 0, 0, 0,
                                     0o100644 << 16, offset) + raw_name)
        offset += len(local) + len(raw_name) + len(packed)
        size += len(packed)
        if size > 1 << 22:
            out.write(b"".join(chunk))
            chunk, size = [], 0
    out.write(b"".join(chunk))
    directory = b"".join(central)
    out.write(directory)
    count = len(central)
    if count >= 0xFFFF:
        out.write(_END64.pack(0x06064B50, 44, 45, 45, 0, 0, count, count, len(directory), offset))
        out.write(_LOCATOR.pack(0x07064B50, 0, offset + len(directory), 1))  # where _END64 starts
    small = min(count, 0xFFFF)
    out.write(_END.pack(0x06054B50, 0, 0, small, small, len(directory), offset, 0))

