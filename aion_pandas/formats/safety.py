"""Defensive reading of zips and folders from outside: nothing is extracted to disk.

:func:`open_archive` checks a zip's central directory whole before any member is read, and each
member is checked (size, CRC) as it is read; a folder is walked without following links out of
it. A refusal is a :class:`~aion_pandas.errors.FormatError` naming the file, member and reason
(the README's "Archives, folders and XML from outside" lists them). XML: :mod:`._vocparse`.

>>> import io, zipfile
>>> buf = io.BytesIO()
>>> with zipfile.ZipFile(buf, "w") as z:
...     z.writestr("../evil.txt", "x")
>>> open_archive(buf.getvalue())
Traceback (most recent call last):
...
aion_pandas.errors.FormatError: <bytes>: ../evil.txt: the member's path climbs out of the archive's folder
"""
from __future__ import annotations

import bisect
import bz2
import os
import posixpath
import re
import stat
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aion_pandas.errors import FormatError
from aion_pandas.formats._source import Source, read_source
from aion_pandas.formats._zipread import Directory, ZipStructureError, central_directory, data_starts


@dataclass(frozen=True)
class Limits:
    """What an archive from outside may hold before it is refused (pass ``limits=`` to a reader)."""

    max_members: int = 2_000_000
    max_total_bytes: int = 8 << 30
    max_member_bytes: int = 2 << 30
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 1 << 20


DEFAULT_LIMITS = Limits()
_DRIVE = re.compile(r"^[A-Za-z]:")
# a name that may need normalizing or refusing (one per line of a search): the others are plain
# relative paths, kept as they are
_SUSPECT = re.compile(r"^(?:/|[^\n]*(?://|\\|:|\x00)|(?:[^\n]*/)?\.\.?(?:/|$))|^$", re.MULTILINE)


def safe_member_name(raw: str, *, where: str | None = None) -> str:
    """A member name with ``/`` separators and no ``.`` parts; refuse absolute or escaping paths.

    >>> safe_member_name("labels\\\\a\\\\.\\\\b.txt")
    'labels/a/b.txt'
    >>> safe_member_name("C:\\\\Windows\\\\x.txt")
    Traceback (most recent call last):
    ...
    aion_pandas.errors.FormatError: C:\\Windows\\x.txt: the member's path is absolute
    """
    if "\n" not in raw and not _SUSPECT.search(raw):
        return raw
    name = raw.replace("\\", "/")
    if "\x00" in name:
        raise FormatError("the member's name holds a NUL character", path=where, member=raw)
    if name.startswith("/") or _DRIVE.match(name):
        raise FormatError("the member's path is absolute", path=where, member=raw)
    is_dir = name.endswith("/")
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../"):
        raise FormatError("the member's path climbs out of the archive's folder", path=where, member=raw)
    return norm + "/" if is_dir and norm != "." else norm


class SafeArchive:
    """A checked zip or folder whose members are read in memory, each checked as it is read.

    ``names``: the file members, sorted, hidden ones left out; ``where``: the archive's name for errors;
    ``root``: the folder of a folder (``None`` for a zip)."""

    def __init__(self, where: str, directory: Directory | None = None, rows: dict[str, int] | None = None,
                 buffer: memoryview | None = None, files: dict[str, str] | None = None,
                 limits: Limits = DEFAULT_LIMITS, root: Path | None = None) -> None:
        self.where, self.root, self.limits = where, root, limits
        self._dir, self._rows, self._files, self._buffer = directory, rows or {}, files or {}, buffer
        self._starts: np.ndarray | None = None
        self._lower: list[str] | None = None
        names = self._rows or self._files  # hidden ones (.ipynb_checkpoints/, ._a.txt) are read when named, not found
        self.names: list[str] = sorted(n for n in names if not n.startswith(".") and "/." not in n)

    def __contains__(self, name: str) -> bool:
        return name in self._rows or name in self._files

    def names_ending(self, *suffixes: str) -> list[str]:
        """The names that end with any of ``suffixes``, ignoring case, in :attr:`names` order.

        >>> SafeArchive("x", files={n: n for n in ("a.TXT", "b.xml")}).names_ending(".txt")
        ['a.TXT']
        """
        if self._lower is None:
            self._lower = [n.lower() for n in self.names]
        ends = tuple(s.lower() for s in suffixes)
        return [n for n, low in zip(self.names, self._lower) if low.endswith(ends)]

    def named(self, *file_names: str) -> list[str]:
        """The members whose last part is one of ``file_names`` (any case), shallowest first.

        >>> SafeArchive("x", files={n: n for n in ("b/data.yaml", "Data.yaml")}).named("data.yaml")
        ['Data.yaml', 'b/data.yaml']
        """
        wanted = {f.lower() for f in file_names}
        found = [n for n in self.names_ending(*wanted) if n.rsplit("/", 1)[-1].lower() in wanted]
        return sorted(found, key=lambda n: (n.count("/"), n))

    def has_folder(self, name: str) -> bool:
        """Whether ``name`` is a folder holding members."""
        prefix = name.rstrip("/") + "/"
        at = bisect.bisect_left(self.names, prefix)  # names are sorted
        return at < len(self.names) and self.names[at].startswith(prefix)

    def size(self, name: str) -> int:
        """The uncompressed size of a member."""
        if self._dir is None:
            try:
                return os.stat(self._files[name]).st_size
            except OSError as exc:  # gone since the walk
                raise FormatError(f"the file cannot be read ({exc.strerror})", path=self.where,
                                  member=name) from None
        return int(self._dir.file_size[self._rows[name]])  # type: ignore[union-attr]

    def path(self, name: str) -> Path | None:
        """The file behind a member of a folder (``None`` in a zip)."""
        found = self._files.get(name)
        return Path(found) if found else None

    def read(self, name: str) -> bytes:
        """The bytes of one member (checked against its declared size and CRC)."""
        return next(self.read_many([name]))

    def read_many(self, names: list[str]) -> Iterator[bytes]:
        """The bytes of many members, in order, each checked (size, CRC) before it is handed on."""
        if self._dir is None:
            yield from map(self._read_file, names)
            return
        rows = np.fromiter(map(self._rows.__getitem__, names), dtype=np.int64, count=len(names))
        d, buffer = self._dir, self._buffer
        for name, begin, packed, size, method, crc in zip(
                names, self._data_starts(names, rows).tolist(), d.compress_size[rows].tolist(),
                d.file_size[rows].tolist(), d.method[rows].tolist(), d.crc[rows].tolist()):
            yield _member_bytes(buffer, self.where, name, begin, packed, size, method, crc)  # type: ignore[arg-type]

    def _read_file(self, name: str) -> bytes:
        try:
            fd = os.open(self._files[name], os.O_RDONLY)  # no file object: one open, stat and read
        except OSError as exc:  # gone since the walk
            raise FormatError(f"the file cannot be read ({exc.strerror})", path=self.where,
                              member=name) from None
        try:
            size, most = os.fstat(fd).st_size, self.limits.max_member_bytes
            if size > most:
                raise FormatError(f"the file is larger than the limit of {most:,} bytes",
                                  path=self.where, member=name)
            data = os.read(fd, size + 1)  # a short read of a regular file is its end
            while size >= 1 << 30 and len(data) <= size and (more := os.read(fd, size + 1 - len(data))):
                data += more  # Linux reads at most about 2 GiB at once
        finally:
            os.close(fd)
        if len(data) != size:  # changed while it was read (grown: past what was checked)
            change = "grew" if len(data) > size else "shrank"
            raise FormatError(f"the file {change} while the folder was read", path=self.where, member=name)
        return data

    def _data_starts(self, names: list[str], rows: np.ndarray) -> np.ndarray:
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
        """Release the archive's bytes (a mapped file is unmapped once nothing views it)."""
        if self._buffer is not None:
            self._buffer.release()
            self._buffer = None

    def __enter__(self) -> SafeArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_archive(source: Source | SafeArchive, *, limits: Limits | None = None) -> SafeArchive:
    """Check a zip (path, bytes, binary file) or a folder (path) and return it ready to read.

    >>> import io, zipfile
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("labels\\\\a.txt", "0 0.5 0.5 0.1 0.1\\n")
    >>> archive = open_archive(buf.getvalue())
    >>> archive.names, archive.read("labels/a.txt")
    (['labels/a.txt'], b'0 0.5 0.5 0.1 0.1\\n')
    """
    if isinstance(source, SafeArchive):  # already open and checked (read_export sniffed it)
        return source
    limits = limits or DEFAULT_LIMITS
    if isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
        return _open_folder(Path(source), os.fspath(source), limits)
    raw, where = read_source(source)
    buffer = memoryview(raw)
    try:
        directory = central_directory(buffer)
        rows = _check_directory(directory, where, limits, len(buffer))
    except (ZipStructureError, struct.error, FormatError) as exc:
        buffer.release()
        if isinstance(exc, FormatError):
            raise
        folder = " (a dataset in a folder: pass the folder)" if isinstance(source, (str, os.PathLike)) \
            and not where.lower().endswith(".zip") else ""
        raise FormatError(f"not a readable zip ({exc}){folder}", path=where) from None
    (top, *others) = {name[:name.find("/") + 1] for name in rows} or {""}  # each name's top folder ("": none)
    if top and not others and top + "manifest.csv" in rows:  # one folder, our manifest.csv in it: re-zipped
        rows, where = {name[len(top):]: i for name, i in rows.items()}, where + "/" + top[:-1]
    return SafeArchive(where, directory=directory, rows=rows, buffer=buffer, limits=limits)


def _member_bytes(buf: memoryview, where: str, name: str, begin: int, packed: int, size: int,
                  method: int, crc: int) -> bytes:
    """A member's bytes, inflated (never past its declared size) and checked against size and CRC."""
    if method not in (0, 8, 12):
        raise FormatError(f"compression method {method} is not supported (use deflate)", path=where,
                          member=name)
    raw = buf[begin:begin + packed]
    try:
        if method == 0:
            data = bytes(raw)
        elif method == 8:
            data = zlib.decompressobj(-15).decompress(raw, size + 1)
        else:
            data = bz2.BZ2Decompressor().decompress(raw, size + 1)
    except (zlib.error, OSError, ValueError) as exc:
        raise FormatError(f"the member is corrupt ({exc})", path=where, member=name) from None
    if len(data) != size:
        raise FormatError(f"the member inflates to more or less than the {size:,} bytes its header "
                          "declares", path=where, member=name)
    if zlib.crc32(data) != crc:
        raise FormatError("the member is corrupt (CRC mismatch)", path=where, member=name)
    return data


def _check_directory(d: Directory, where: str, limits: Limits, archive_size: int) -> dict[str, int]:
    """Check every record; return the file members' safe names -> their rows."""
    if len(d) > limits.max_members:
        raise FormatError(f"the archive holds {len(d):,} members, more than the limit of "
                          f"{limits.max_members:,}", path=where)
    names = list(d.names)
    joined = "\n".join(names)
    if joined.count("\n") == len(names) - 1:  # no name holds a newline: one search finds them
        starts = np.cumsum([0] + [len(n) + 1 for n in names[:-1]])
        suspects = np.searchsorted(starts, [m.start() for m in _SUSPECT.finditer(joined)], side="right") - 1
    else:
        suspects = range(len(names))
    for i in np.unique(suspects).tolist():
        names[i] = safe_member_name(names[i], where=where)
    link = (d.create_system == 3) & ((d.external_attr >> 16) & 0o170000 == stat.S_IFLNK)
    encrypted = (d.flags & 0x1) != 0
    for bad, reason in ((link, "the member is a symbolic link"), (encrypted, "the member is encrypted")):
        if bad.any():
            raise FormatError(reason, path=where, member=d.names[int(np.argmax(bad))])
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        if name.endswith("/") or name == "." or name.startswith("__MACOSX/"):
            continue  # a folder, or macOS's copies of files' metadata
        if index.setdefault(name, i) != i:
            raise FormatError("two members have this name", path=where, member=d.names[i])
    rows = np.fromiter(index.values(), dtype=np.int64, count=len(index))
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


def _open_folder(root: Path, where: str, limits: Limits) -> SafeArchive:
    """The files under ``root``; a link out of it is refused. The file count is bounded here and
    each file's size as it is read, not their total (images on disk are no zip bomb)."""
    files: dict[str, str] = {}
    base = os.path.realpath(root)
    todo = [(os.fspath(root), "")]
    while todo:
        folder, prefix = todo.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    todo += [(entry.path, rel + "/")] if entry.name != "__MACOSX" else []  # macOS's metadata
                    continue
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if os.path.commonpath([base, target]) != base:
                        raise FormatError("the file is a link out of the folder", path=where, member=rel)
                if not entry.is_file():
                    continue
                files[rel] = entry.path  # its size is checked as it is read
                if len(files) > limits.max_members:
                    raise FormatError(f"the folder holds more than {limits.max_members:,} files", path=where)
    return SafeArchive(where, files=files, limits=limits, root=root)
