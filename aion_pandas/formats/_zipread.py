"""A vectorized reader of a zip's central directory and local headers, as numpy columns.

:mod:`zipfile` builds a ``ZipInfo`` per member (a second for 100,000 label files); here the
records are decoded at once into a :class:`Directory`, which :mod:`.safety` checks.

>>> import io, zipfile
>>> buf = io.BytesIO()
>>> with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
...     z.writestr("a/é.txt", "hello")
>>> d = central_directory(memoryview(buf.getvalue()))
>>> d.names, d.method.tolist(), d.file_size.tolist()
(['a/é.txt'], [8], [5])
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_EOCD = struct.Struct("<IHHHHIIH")
_EOCD64 = struct.Struct("<IQHHIIQQQQ")
_LOCATOR = struct.Struct("<IIQI")
_CENTRAL_SIZE, _LOCAL_SIZE = 46, 30
_CENTRAL_SIG, _LOCAL_SIG = 0x02014B50, 0x04034B50


class ZipStructureError(ValueError):
    """The bytes are not a zip whose structure can be trusted."""


@dataclass
class Directory:
    """The central directory as columns, one row per record (int64 numpy arrays)."""

    names: list[str]
    method: np.ndarray
    flags: np.ndarray
    crc: np.ndarray
    compress_size: np.ndarray
    file_size: np.ndarray
    header_offset: np.ndarray
    create_system: np.ndarray
    external_attr: np.ndarray

    def __len__(self) -> int:
        return len(self.names)


def central_directory(buf: memoryview) -> Directory:
    """The records of the zip in ``buf`` (header offsets adjusted for any bytes before the zip)."""
    cd_start, cd_end, count, concat = _locate(buf)
    d = np.frombuffer(buf, dtype=np.uint8, count=cd_end - cd_start, offset=cd_start)
    starts = _record_starts(d)
    if count not in (len(starts), 0xFFFF):
        raise ZipStructureError(f"the central directory lists {len(starts)} members, the end "
                                f"record says {count}")
    field = lambda at, size: _uint(d, starts + at, size)  # noqa: E731
    flags, nlen = field(8, 2), field(28, 2)
    names = _names(d, starts + _CENTRAL_SIZE, nlen, flags)
    directory = Directory(names, method=field(10, 2), flags=flags, crc=field(16, 4),
                          compress_size=field(20, 4), file_size=field(24, 4), header_offset=field(42, 4),
                          create_system=d[starts + 5].astype(np.int64), external_attr=field(38, 4))
    big = np.flatnonzero((directory.compress_size == 0xFFFFFFFF) |
                         (directory.file_size == 0xFFFFFFFF) |
                         (directory.header_offset == 0xFFFFFFFF))
    xlen = field(30, 2) if len(big) else None
    for i in big.tolist():
        extra_at = int(starts[i]) + _CENTRAL_SIZE + int(nlen[i])
        _zip64(bytes(d[extra_at:extra_at + int(xlen[i])]), directory, i)
    directory.header_offset += concat
    return directory


def _locate(buf: memoryview) -> tuple[int, int, int, int]:
    """The central directory's start and end, its record count, and the bytes before the zip."""
    tail_start = max(0, len(buf) - (1 << 16) - _EOCD.size)
    tail = bytes(buf[tail_start:])
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < _EOCD.size:
        raise ZipStructureError("no end-of-central-directory record: not a zip file")
    eocd = tail_start + pos
    _, _, _, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(buf, eocd)
    cd_end = eocd
    locator = eocd - _LOCATOR.size
    if locator >= 0 and bytes(buf[locator:locator + 4]) == b"PK\x06\x07":
        end64_pos = locator - _EOCD64.size
        if end64_pos < 0 or bytes(buf[end64_pos:end64_pos + 4]) != b"PK\x06\x06":
            raise ZipStructureError("a ZIP64 locator without its end record")
        count, cd_size, cd_offset = _EOCD64.unpack_from(buf, end64_pos)[7:10]
        cd_end = end64_pos
    cd_start = cd_end - cd_size
    if cd_start < 0:
        raise ZipStructureError("the central directory lies outside the file")
    return cd_start, cd_end, count, cd_start - cd_offset


def _record_starts(d: np.ndarray) -> np.ndarray:
    """Where each record begins: every signature when they chain exactly (each record ends where
    the next begins), else (a signature inside a name) the records walked one by one."""
    n = len(d)
    if 0 < n < _CENTRAL_SIZE:
        raise ZipStructureError("a broken central directory record")
    hits = np.flatnonzero(d[:-3] == 0x50)  # "P": rare in names, so check its 3 followers only there
    hits = hits[(d[hits + 1] == 0x4B) & (d[hits + 2] == 1) & (d[hits + 3] == 2)]
    hits = hits[hits + _CENTRAL_SIZE <= n]
    if len(hits) and hits[0] == 0:
        ends = hits + _CENTRAL_SIZE + _uint(d, hits + 28, 2) + _uint(d, hits + 30, 2) + _uint(d, hits + 32, 2)
        if np.array_equal(ends[:-1], hits[1:]) and n - _CENTRAL_SIZE < ends[-1] <= n:
            return hits
    starts, p = [], 0
    while p + _CENTRAL_SIZE <= n:
        if _uint(d, np.array([p]), 4)[0] != _CENTRAL_SIG:
            raise ZipStructureError("a broken central directory record")
        starts.append(p)
        p += _CENTRAL_SIZE + int(_uint(d, np.array([p + 28, p + 30, p + 32]), 2).sum())
    return np.array(starts, dtype=np.int64)


def _uint(d: np.ndarray, at: np.ndarray, size: int) -> np.ndarray:
    """The little-endian ``size``-byte integers of ``d`` at the offsets ``at``, as int64 (one gather)."""
    every_byte = np.ndarray((max(len(d) - size + 1, 0),), dtype=f"<u{size}", buffer=d, strides=(1,))
    return every_byte[at].astype(np.int64)


def _names(d: np.ndarray, at: np.ndarray, length: np.ndarray, flags: np.ndarray) -> list[str]:
    """The names as str: UTF-8 when flagged or plain ASCII, else cp437 (what zipfile does)."""
    total = int(length.sum())
    if len(at) and int((at + length).max()) > len(d):
        raise ZipStructureError("a name runs past the central directory")
    ends = np.cumsum(length)
    joined = d[np.repeat(at - (ends - length), length) + np.arange(total)].tobytes()  # one gather
    begins, ends = (ends - length).tolist(), ends.tolist()
    if joined.isascii():
        text = joined.decode("ascii")
        return [text[a:b] for a, b in zip(begins, ends)]
    return [joined[a:b].decode("utf-8" if flag & 0x800 else "cp437", errors="replace")  # ASCII: either
            for a, b, flag in zip(begins, ends, flags.tolist())]


def _zip64(extra: bytes, d: Directory, i: int) -> None:
    """Record ``i``'s saturated sizes and offset (0xFFFFFFFF) from its ZIP64 extra field, in order."""
    at = 0
    while at + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, at)
        if tag == 1:
            values = iter(struct.unpack_from(f"<{length // 8}Q", extra, at + 4))
            for column in (d.file_size, d.compress_size, d.header_offset):
                if column[i] == 0xFFFFFFFF:
                    column[i] = next(values, 0xFFFFFFFF)
            return
        at += 4 + length
    raise ZipStructureError("a ZIP64 member without its sizes")


def data_starts(buf: memoryview, header_offset: np.ndarray) -> np.ndarray:
    """Where each member's data begins (after its local header); -1 where that header is missing."""
    d = np.frombuffer(buf, dtype=np.uint8)
    at = np.asarray(header_offset, dtype=np.int64)
    inside = (at >= 0) & (at + _LOCAL_SIZE <= len(d))
    safe = np.where(inside, at, 0)
    ok = inside & (_uint(d, safe, 4) == _LOCAL_SIG)
    begin = safe + _LOCAL_SIZE + _uint(d, safe + 26, 2) + _uint(d, safe + 28, 2)
    return np.where(ok, begin, -1)
