"""Defensive reading of archives and XML that come from outside.

Nothing is ever extracted to disk: members are read into memory, one by one or in a batch.
Before any member is decompressed, :func:`open_archive` checks the zip's central directory and
raises :class:`~aion_pandas.errors.FormatError` naming the file, the member and the reason for:

- a member whose path is absolute (``/x``, ``C:\\x``, ``\\\\server\\x``) or climbs out of the
  archive's folder (``../x``, ``a/../../x``); ``\\`` separators are read as ``/``;
- a symbolic link, an encrypted member, two members with the same name;
- more than ``max_members`` members;
- a total uncompressed size over ``max_total_bytes`` or a member over ``max_member_bytes``;
- a compression ratio over ``max_ratio`` (uncompressed / compressed, for the archive and for each
  member, once the uncompressed size passes ``ratio_floor_bytes``: small text files compress well);
- members whose compressed sizes add up to more than the archive (members that share bytes: the
  "overlapping files" zip bomb, whose every ratio looks harmless);
- and, while reading, a member that inflates past the size its header declares or fails its CRC.

XML (:func:`check_xml`, :func:`parse_xml`) with a ``DOCTYPE`` or an ``ENTITY`` declaration is
refused before parsing (no entity is ever expanded: no billion laughs, no external entities), and
lxml parses with ``resolve_entities=False, no_network=True, load_dtd=False``.

Defaults (:data:`DEFAULT_LIMITS`): 2,000,000 members, 8 GiB in all, 2 GiB per member, ratio 200
above 1 MiB. Pass ``limits=Limits(...)`` to the readers to change them.

>>> import io, zipfile
>>> buf = io.BytesIO()
>>> with zipfile.ZipFile(buf, "w") as z:
...     z.writestr("../evil.txt", "x")
>>> open_archive(buf.getvalue(), where="upload.zip")
Traceback (most recent call last):
...
aion_pandas.errors.FormatError: upload.zip: ../evil.txt: the member's path climbs out of the archive's folder
"""
from __future__ import annotations

import bz2
import mmap
import os
import posixpath
import re
import stat
import struct
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from aion_pandas.errors import FormatError
from aion_pandas.formats._crc import joined_crc
from aion_pandas.formats._gather import gather
from aion_pandas.formats._memory import READ_ONLY_MAP
from aion_pandas.formats._zipread import (
    Directory, Record, ZipStructureError, central_directory, data_starts, leading_records)

Source = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO


@dataclass(frozen=True)
class Limits:
    """What an archive from outside may hold before it is refused (see the module doc)."""

    max_members: int = 2_000_000
    max_total_bytes: int = 8 << 30
    max_member_bytes: int = 2 << 30
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1 << 20


DEFAULT_LIMITS = Limits()
_DRIVE = re.compile(r"^[A-Za-z]:")
_PLAIN = re.compile(r"(?!/)(?:(?!\.\.?(?:/|$))[^/\\:\x00]+/)*(?!\.\.?/?\Z)[^/\\:\x00]+/?\Z")


def safe_member_name(raw: str, *, where: str | None = None) -> str:
    """A member name with ``/`` separators and no ``.`` parts; refuse absolute or escaping paths.

    >>> safe_member_name("labels\\\\a\\\\.\\\\b.txt")
    'labels/a/b.txt'
    >>> safe_member_name("C:\\\\Windows\\\\x.txt")
    Traceback (most recent call last):
    ...
    aion_pandas.errors.FormatError: C:\\Windows\\x.txt: the member's path is absolute
    """
    if _PLAIN.match(raw):
        return raw
    name = raw.replace("\\", "/")
    if "\x00" in name:
        raise FormatError("the member's name holds a NUL character", path=where, member=raw)
    if name.startswith("/") or _DRIVE.match(name):
        raise FormatError("the member's path is absolute", path=where, member=raw)
    is_dir = name.endswith("/")
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../"):
        raise FormatError("the member's path climbs out of the archive's folder", path=where,
                          member=raw)
    return norm + "/" if is_dir and norm != "." else norm


@dataclass
class Joined:
    """Members joined into one bytes-like ``data``; ``ends``: where each ends in it. Until
    :meth:`verify` returns, stored members' bytes are unchecked against their CRCs."""

    data: bytes | memoryview
    ends: np.ndarray
    _unchecked: Callable[[], None] | None = None

    def verify(self) -> None:
        """Raise :class:`FormatError` naming the first member whose CRC does not match."""
        check, self._unchecked = self._unchecked, None
        if check is not None:
            check()


class SafeArchive:
    """A checked zip (or folder) whose members are read in memory. ``names``: the file members."""

    def __init__(self, where: str, directory: Directory | None = None,
                 rows: dict[str, int] | None = None, buffer: memoryview | None = None,
                 files: dict[str, Path] | None = None, limits: Limits = DEFAULT_LIMITS,
                 start: dict[str, Callable[[bytes, str], Any]] | None = None,
                 early: dict[str, tuple[Record, Future]] | None = None) -> None:
        self.where, self._dir, self._rows, self._buffer = where, directory, rows or {}, buffer
        self._files, self.limits = files or {}, limits
        self._start, self._early = start or {}, early or {}
        self._starts: np.ndarray | None = None
        self._name_arrays: tuple[pa.Array, pa.Array] | None = None  # names, lowercased
        self.names: list[str] = sorted(self._rows or self._files)

    def __contains__(self, name: str) -> bool:
        return name in self._rows or name in self._files

    def result(self, name: str) -> Any:
        """What ``start[name]`` (given to :func:`open_archive`) made of the member: begun early
        when the member was among the directory's first records, and used if the checked
        directory has the very record it was read from; else made now."""
        record, future = self._early.pop(name, (None, None))
        if future is not None:
            row = self._rows.get(name)
            d = self._dir
            if row is not None and d is not None and (
                    int(d.header_offset[row]), int(d.compress_size[row]), int(d.file_size[row]),
                    int(d.crc[row]), int(d.method[row])) == (
                    record.header_offset, record.compress_size, record.file_size, record.crc,
                    record.method):
                return future.result()
            _settle({name: (record, future)})
        return self._start[name](self.read(name), self.where)

    def names_ending(self, *suffixes: str, folder: str | None = None) -> list[str]:
        """The names that end with any of ``suffixes``, ignoring case, in :attr:`names` order;
        with ``folder``, only those under a folder of that name, at any depth. Arrow matches
        them: 100,000 names take a few milliseconds.

        >>> archive = SafeArchive("x", files={n: Path(n) for n in ("a.TXT", "b.xml", "x/labels/c.txt")})
        >>> archive.names_ending(".txt"), archive.names_ending(".txt", folder="labels")
        (['a.TXT', 'x/labels/c.txt'], ['x/labels/c.txt'])
        """
        if self._name_arrays is None:
            array = pa.array(self.names, type=pa.large_string())
            self._name_arrays = array, pc.utf8_lower(array)
        names, lower = self._name_arrays
        found = np.zeros(len(names), dtype=bool)
        for suffix in suffixes:
            found |= pc.ends_with(lower, suffix.lower()).to_numpy(zero_copy_only=False)
        if folder is not None:
            top = pc.starts_with(names, folder + "/").to_numpy(zero_copy_only=False)
            deeper = [i for i in np.flatnonzero(found & ~top).tolist()  # few, as a rule
                      if f"/{folder}/" in self.names[i]]
            found &= top
            found[deeper] = True
        return _pick(self.names, np.flatnonzero(found))

    def size(self, name: str) -> int:
        """The uncompressed size of a member."""
        if self._files:
            return self._files[name].stat().st_size
        return int(self._dir.file_size[self._rows[name]])  # type: ignore[union-attr]

    def read(self, name: str) -> bytes:
        """The bytes of one member (checked against its declared size and CRC)."""
        return next(self.read_many([name]))

    def read_many(self, names: list[str]) -> Iterator[bytes]:
        """The bytes of many members, in order (the batch path of the readers), each checked
        against its declared size and CRC."""
        if self._files:
            for name in names:
                yield self._files[name].read_bytes()
            return
        rows = self._rows_of(names)
        d = self._dir
        begins = self._data_starts(names, rows).tolist()
        buf = self._buffer
        for name, begin, packed, size, method, crc in zip(
                names, begins, d.compress_size[rows].tolist(), d.file_size[rows].tolist(),
                d.method[rows].tolist(), d.crc[rows].tolist()):
            yield _member_bytes(buf, self.where, name, begin, packed, size, method, crc)  # type: ignore[arg-type]

    def join(self, names: list[str]) -> Joined:
        """Many members as one bytes-like object, and where each ends in it, checked like
        :meth:`read_many`; stored members are gathered straight out of the archive, and their
        CRCs are checked only by :meth:`Joined.verify`, which the caller can run in another
        thread: it is one ``zlib.crc32`` of the joined bytes, compared with the CRC the stored
        ones add up to (:mod:`._crc`), mostly without the GIL (~20 ms for 100,000 members,
        against ~50 ms of calls holding it for one per member). Only when they differ is each
        member checked, to name the first bad one."""
        ends = np.zeros(len(names), dtype=np.int64)
        parts = []
        if self._dir is not None and not self._files:
            rows = self._rows_of(names)
            if len(rows) and (self._dir.method[rows] == 0).all():
                return self._joined_stored(names, rows)
        for i, data in enumerate(self.read_many(names)):
            parts.append(data)
            ends[i] = len(data)
        np.cumsum(ends, out=ends)
        return Joined(b"".join(parts), ends)

    def _joined_stored(self, names: list[str], rows: np.ndarray) -> Joined:
        d = self._dir
        size = d.file_size[rows]
        wrong = np.flatnonzero(d.compress_size[rows] != size)
        if len(wrong):
            raise _wrong_size(self.where, names[int(wrong[0])], int(size[int(wrong[0])]))
        joined = gather(self._buffer, self._data_starts(names, rows), size)  # type: ignore[arg-type]
        ends = np.cumsum(size)

        def check_crcs() -> None:  # one CRC of the whole, then, if it differs, each member's
            if zlib.crc32(joined) == joined_crc(d.crc[rows], size):
                return
            pieces = map(slice, (ends - size).tolist(), ends.tolist())
            crcs = np.fromiter(map(zlib.crc32, map(joined.__getitem__, pieces)), dtype=np.int64,
                               count=len(rows))
            bad = np.flatnonzero(crcs != d.crc[rows])
            if len(bad):
                raise _corrupt(self.where, names[int(bad[0])])
        return Joined(joined, ends, check_crcs)

    def _rows_of(self, names: list[str]) -> np.ndarray:
        return np.fromiter(map(self._rows.__getitem__, names), dtype=np.int64, count=len(names))

    def _data_starts(self, names: list[str], rows: np.ndarray) -> np.ndarray:
        """Where the members' bytes begin, checked to lie inside the archive's data."""
        if self._starts is None:
            self._starts = data_starts(self._buffer, self._dir.header_offset)  # type: ignore[arg-type,union-attr]
        begins = self._starts[rows]
        packed = self._dir.compress_size[rows]  # type: ignore[union-attr]
        bad = np.flatnonzero((begins < 0) | (begins + packed > len(self._buffer)))  # type: ignore[arg-type]
        if len(bad):
            i = int(bad[0])
            reason = "the member's local header is missing" if begins[i] < 0 else \
                "the member's data runs past the end of the archive"
            raise FormatError(reason, path=self.where, member=names[i])
        return begins

    def close(self) -> None:
        """Release the archive (a mapped file stays mapped until its last member view is gone)."""
        _settle(self._early)
        if self._buffer is not None:
            owner = self._buffer.obj
            self._buffer.release()
            self._buffer = None
            if isinstance(owner, mmap.mmap):
                try:
                    owner.close()
                except BufferError:
                    pass

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _map(fd: int, size: int) -> mmap.mmap:
    """The file read-only, its pages mapped at once unless it is large (a large zip may hold
    images that the reader never touches)."""
    return mmap.mmap(fd, 0, **(READ_ONLY_MAP if size <= 256 << 20 else {"access": mmap.ACCESS_READ}))


def _pick(items: list[str], at: np.ndarray) -> list[str]:
    """``[items[i] for i in at]`` (``at`` ascending), by slices when ``at`` runs in a few blocks."""
    if not len(at):
        return []
    breaks = np.flatnonzero(np.diff(at) != 1) + 1
    if len(breaks) > len(at) // 16:
        return [items[i] for i in at.tolist()]
    firsts, lasts = at[np.r_[0, breaks]].tolist(), at[np.r_[breaks - 1, len(at) - 1]].tolist()
    return list(chain.from_iterable(items[a:b + 1] for a, b in zip(firsts, lasts)))


def open_archive(source: Source, *, where: str | None = None, limits: Limits | None = None,
                 start: dict[str, Callable[[bytes, str], Any]] | None = None,
                 pool: Executor | None = None) -> SafeArchive:
    """Check a zip (path, bytes, binary file) or a folder (path) and return it ready to read.

    ``start`` maps member names to work on their bytes (``fn(data, where)``), whose results
    :meth:`SafeArchive.result` returns. With a ``pool``, a member among the directory's first
    records (where our writers put ``manifest.csv``) is read and worked on there while the
    directory is checked: its own record is checked first (not a link, not encrypted, size,
    ratio, bounds; then size and CRC as read), and if the archive is then refused, so is the
    work's result.

    >>> import io, zipfile
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("labels\\\\a.txt", "0 0.5 0.5 0.1 0.1\\n")
    >>> archive = open_archive(buf.getvalue())
    >>> archive.names, archive.read("labels/a.txt")
    (['labels/a.txt'], b'0 0.5 0.5 0.1 0.1\\n')
    """
    limits = limits or DEFAULT_LIMITS
    raw: bytes | mmap.mmap
    if isinstance(source, (str, os.PathLike)):
        where = where or os.fspath(source)
        if os.path.isdir(source):
            return _open_folder(Path(source), where, limits, start)
        try:
            with open(source, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                raw = _map(handle.fileno(), size) if size else b""
        except FileNotFoundError:
            raise FormatError("no such file", path=where) from None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        where = where or "<bytes>"
        raw = bytes(source)
    else:
        where = where or getattr(source, "name", None) or "<stream>"
        raw = source.read()
        if isinstance(raw, str):
            raise FormatError("the file is open in text mode: open it with 'rb'", path=where)
        raw = bytes(raw)
    buffer = memoryview(raw)
    early = _start_early(buffer, where, limits, start or {}, pool) if pool is not None else {}
    try:
        directory = central_directory(buffer)
        rows = _check_directory(directory, where, limits, len(buffer))
    except (ZipStructureError, struct.error) as exc:
        _settle(early)
        buffer.release()
        raise FormatError(f"not a readable zip ({exc})", path=where) from None
    except FormatError:
        _settle(early)
        buffer.release()
        raise
    return SafeArchive(where, directory=directory, rows=rows, buffer=buffer, limits=limits,
                       start=start, early=early)


_EARLY_RECORDS = 8  # how far into the directory a member to start early is looked for


def _start_early(buffer: memoryview, where: str, limits: Limits,
                 start: dict[str, Callable[[bytes, str], Any]],
                 pool: Executor) -> dict[str, tuple[Record, Future]]:
    """Submit the work on each member of ``start`` found, safe on its own record, among the
    directory's first records."""
    early = {}
    for record in leading_records(buffer, _EARLY_RECORDS) if start else []:
        name = record.name.decode("utf-8", errors="replace")
        if name not in start or name in early or not _safe_alone(record, buffer, limits):
            continue
        begin = int(data_starts(buffer, np.array([record.header_offset]))[0])
        if begin < 0 or begin + record.compress_size > len(buffer):
            continue
        early[name] = (record, pool.submit(_early_work, start[name], buffer, where, name, begin,
                                           record))
    return early


def _safe_alone(record: Record, buffer: memoryview, limits: Limits) -> bool:
    """The checks of :func:`_check_directory` that a record passes on its own (ZIP64 records
    and anything unusual wait for the full check)."""
    link = record.create_system == 3 and (record.external_attr >> 16) & 0o170000 == stat.S_IFLNK
    sizes = (record.compress_size, record.file_size, record.header_offset)
    return (not link and not record.flags & 0x1 and record.method in (0, 8)
            and 0xFFFFFFFF not in sizes and record.file_size <= limits.max_member_bytes
            and not (record.file_size > limits.ratio_floor_bytes
                     and record.file_size > limits.max_ratio * max(record.compress_size, 1))
            and _plain(record.name.decode("utf-8", errors="replace")))


def _plain(name: str) -> bool:
    try:
        return safe_member_name(name) == name
    except FormatError:
        return False


def _early_work(work: Callable[[bytes, str], Any], buffer: memoryview, where: str, name: str,
                begin: int, record: Record) -> Any:
    return work(_member_bytes(buffer, where, name, begin, record.compress_size,
                              record.file_size, record.method, record.crc), where)


def _settle(early: dict[str, tuple[Record, Future]]) -> None:
    """Wait for early work that will not be used (it reads the buffer about to be released)."""
    wait([future for _, future in early.values()])


def _member_bytes(buf: memoryview, where: str, name: str, begin: int, packed: int, size: int,
                  method: int, crc: int) -> bytes:
    """A member's bytes, inflated as need be, checked against its declared size and CRC."""
    raw = buf[begin:begin + packed]
    data = bytes(raw) if method == 0 and packed == size else \
        _inflate(where, name, raw, method, size)
    if len(data) != size:
        raise _wrong_size(where, name, size)
    if zlib.crc32(data) != crc:
        raise _corrupt(where, name)
    return data


def _inflate(where: str, name: str, raw: memoryview, method: int, size: int) -> bytes:
    limit = size + 1
    try:
        if method == 0:
            return bytes(raw[:limit])
        if method == 8:
            return zlib.decompressobj(-15).decompress(raw, limit)
        if method == 12:
            return bz2.BZ2Decompressor().decompress(raw, limit)
    except (zlib.error, OSError, ValueError) as exc:
        raise FormatError(f"the member is corrupt ({exc})", path=where, member=name) from None
    raise FormatError(f"compression method {method} is not supported (use deflate)", path=where,
                      member=name)


def _wrong_size(where: str, name: str, size: int) -> FormatError:
    return FormatError(f"the member inflates to more or less than the {size:,} bytes its header "
                       "declares", path=where, member=name)


def _corrupt(where: str, name: str) -> FormatError:
    return FormatError("the member is corrupt (CRC mismatch)", path=where, member=name)


# a name that may need normalizing or refusing: the rest are plain relative paths, kept as they are
_SUSPECT = r"^/|//|\\|:|\x00|(^|/)\.\.?(/|$)|^$"


def _check_directory(d: Directory, where: str, limits: Limits, archive_size: int) -> dict[str, int]:
    """Check every record at once; return the file members' safe names -> their rows."""
    if len(d) > limits.max_members:
        raise FormatError(f"the archive holds {len(d):,} members, more than the limit of "
                          f"{limits.max_members:,}", path=where)
    names = d.names
    suspects = np.flatnonzero(pc.match_substring_regex(d.name_array, _SUSPECT)
                              .to_numpy(zero_copy_only=False))
    if len(suspects):
        names = list(names)
        for i in suspects.tolist():
            names[i] = safe_member_name(names[i], where=where)
    link = (d.create_system == 3) & ((d.external_attr >> 16) & 0o170000 == stat.S_IFLNK)
    _refuse_first(link, d, where, "the member is a symbolic link")
    _refuse_first((d.flags & 0x1) != 0, d, where, "the member is encrypted")
    keep = ~pc.ends_with(d.name_array, "/").to_numpy(zero_copy_only=False)
    for i in suspects.tolist():  # normalized names: a folder may now end with "/" or be "."
        keep[i] = not (names[i].endswith("/") or names[i] == ".")
    rows = np.flatnonzero(keep)
    index = {names[i]: i for i in rows.tolist()}
    if len(index) != len(rows):
        seen: set[str] = set()
        for i in rows.tolist():
            if names[i] in seen:
                raise FormatError("two members have this name", path=where, member=d.names[i])
            seen.add(names[i])
    size, packed = d.file_size[rows], d.compress_size[rows]
    most, floor, ratio = limits.max_member_bytes, limits.ratio_floor_bytes, limits.max_ratio
    big = np.flatnonzero(size > most)
    if len(big):
        i = int(big[0])
        raise FormatError(f"the member is {int(size[i]):,} bytes uncompressed, more than the "
                          f"limit of {most:,}", path=where, member=names[rows[i]])
    bomb = np.flatnonzero((size > floor) & (size > ratio * np.maximum(packed, 1)))
    if len(bomb):
        i = int(bomb[0])
        raise FormatError(f"the member's compression ratio "
                          f"{int(size[i]) / max(int(packed[i]), 1):,.0f}:1 passes the limit of "
                          f"{ratio:,.0f}:1 (a zip bomb?)", path=where, member=names[rows[i]])
    total, packed_total = int(size.sum()), int(packed.sum())
    all_packed = int(d.compress_size.sum())  # folders too: any record may point at shared bytes
    if all_packed > archive_size:  # members that share bytes: ratios lie
        raise FormatError(f"the members' compressed sizes add up to {all_packed:,} "
                          f"bytes, more than the {archive_size:,}-byte archive: members overlap "
                          "(a zip bomb?)", path=where)
    if total > limits.max_total_bytes:
        raise FormatError(f"the archive is {total:,} bytes uncompressed, more than the limit of "
                          f"{limits.max_total_bytes:,}", path=where)
    if total > floor and total > ratio * max(packed_total, 1):
        raise FormatError(f"the archive's compression ratio {total / max(packed_total, 1):,.0f}:1 "
                          f"passes the limit of {ratio:,.0f}:1 (a zip bomb?)", path=where)
    return index


def _refuse_first(bad: np.ndarray, d: Directory, where: str, reason: str) -> None:
    if bad.any():
        raise FormatError(reason, path=where, member=d.names[int(np.argmax(bad))])


def _open_folder(root: Path, where: str, limits: Limits,
                 start: dict[str, Callable[[bytes, str], Any]] | None) -> SafeArchive:
    files: dict[str, Path] = {}
    total = 0
    base = root.resolve()
    for folder, dirs, names in os.walk(root):  # symlinked folders are not followed
        for file in names:
            path = Path(folder) / file
            rel = path.relative_to(root).as_posix()
            if path.is_symlink() and not path.resolve().is_relative_to(base):
                raise FormatError("the file is a link out of the folder", path=where, member=rel)
            if not path.is_file():
                continue
            files[rel] = path
            total += path.stat().st_size
            if len(files) > limits.max_members or total > limits.max_total_bytes:
                raise FormatError("the folder holds more files or bytes than the limits allow "
                                  f"({limits.max_members:,} files, {limits.max_total_bytes:,} bytes)",
                                  path=where)
    return SafeArchive(where, files=files, limits=limits, start=start)


# ------------------------------------------------------------------------------------------------
# XML

_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_PARSER_OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                       huge_tree=False, remove_comments=True, remove_pis=True)


def xml_parser() -> etree.XMLParser:
    """An lxml parser that never loads a DTD, resolves an entity or touches the network."""
    return etree.XMLParser(**_PARSER_OPTIONS)


def check_xml(data: bytes, *, where: str | None = None, member: str | None = None) -> bytes:
    """Return ``data`` as UTF-8 XML; refuse a ``DOCTYPE`` or ``ENTITY`` declaration.

    UTF-16 (with a BOM) and encodings declared in the XML declaration are re-encoded to UTF-8.

    >>> check_xml(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', where="v.zip", member="A/1.xml")
    Traceback (most recent call last):
    ...
    aion_pandas.errors.FormatError: v.zip: A/1.xml: XML with a DOCTYPE/ENTITY declaration is refused (entities are never expanded)
    """
    data = to_utf8(data, where=where, member=member)
    if b"<!" in data and _FORBIDDEN.search(data):
        raise FormatError("XML with a DOCTYPE/ENTITY declaration is refused (entities are never "
                          "expanded)", path=where, member=member)
    return data


def parse_xml(data: bytes, *, where: str | None = None, member: str | None = None) -> etree._Element:
    """Parse one XML document safely (see :func:`check_xml`); errors name the member and line."""
    data = check_xml(data, where=where, member=member)
    try:
        return etree.fromstring(data, xml_parser())
    except etree.XMLSyntaxError as exc:
        raise FormatError(f"line {exc.lineno}: not well-formed XML ({exc.msg})", path=where,
                          member=member) from None


_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"'][^>]*\?>")


def to_utf8(data: bytes, *, where: str | None = None, member: str | None = None) -> bytes:
    """XML bytes re-encoded to UTF-8 (BOMs removed, the declaration's encoding honoured)."""
    if data[:1] == b"<":
        if data[:5] != b"<?xml":
            return data
        declaration = data[:data.find(b"?>", 0, 400)].lower()
        if b"encoding" not in declaration or b"utf-8" in declaration or b"utf8" in declaration:
            return data
    if data[:3] == b"\xef\xbb\xbf":
        return data[3:]
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = data.decode("utf-16")
    else:
        found = _DECLARATION.match(data[:200])
        encoding = found.group(1).decode().lower() if found else "utf-8"
        if encoding in ("utf-8", "utf8", "us-ascii", "ascii"):
            return data
        try:
            text = data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise FormatError(f"cannot decode the XML as {encoding} ({exc})", path=where,
                              member=member) from None
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    return text.encode("utf-8")
