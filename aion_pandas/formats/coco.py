"""COCO detection JSON <-> the canonical annotation frame: files, folders and zips.

:func:`parse_coco` (:mod:`.coco_parse`) and :func:`serialize_coco` (:mod:`.coco_write`) are pure;
``read_coco`` and ``write_coco`` add files, folders, zips and images (:mod:`.coco_layout`).

>>> frame = read_coco(b'{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": []}')
>>> frame[["image_id", "file_name"]].values.tolist()
[[1, 'a.jpg']]
"""
from __future__ import annotations

import io
import os
import posixpath
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from aion_pandas.errors import FormatError
from aion_pandas.formats import coco_layout, coco_write
from aion_pandas.formats._source import (Dest, Source, is_container, open_dest, read_source,
                                         source_name)
from aion_pandas.formats.coco_parse import parse_coco
from aion_pandas.formats.manifest import image_size
from aion_pandas.formats.safety import SafeArchive, open_archive
from aion_pandas.formats.schema import CORE_COLUMNS, EXTRA_COLUMNS, validate_frame, warn_unsupported

__all__ = ["UNSUPPORTED", "parse_coco", "read_coco", "serialize_coco", "write_coco"]

#: what COCO cannot carry (a count of each is reported by write_coco)
UNSUPPORTED: tuple[str, ...] = ("difficult", "truncated", "split", "dataset_id")


def read_coco(source: Source, *, images_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Read COCO detection JSON (a path, bytes or binary file), or a folder or zip of it, into a
    canonical frame.

    A folder or zip is read whole: its COCO JSON files become one frame with a ``split`` column.
    Where a file's images are found (beside it, in ``data/``, ``images/``, COCO's ``val2017/``, or
    ``images_dir``), ``file_name`` is relative to the dataset's root (``frame.attrs["root"]``) and
    sizes the JSON lacks come from the image headers. Raises :class:`FormatError` for a folder whose
    COCO files hold no box, or a file or link that leads out of the folder.

    >>> frame = read_coco("roboflow_export/")        # doctest: +SKIP
    >>> frame.groupby("split").size()                # doctest: +SKIP
    """
    images = Path(images_dir) if images_dir is not None else None
    if images is not None and not images.is_dir():
        raise FormatError("images_dir is not a folder", path=str(images))
    if isinstance(source, SafeArchive) or is_container(source):
        with open_archive(source) as archive:
            frame = _read_archive(archive, images)
        name = archive.where
    else:
        frame, name = _read_file(source), source_name(source)
        unmeasured = coco_layout.Unmeasured()
        path = Path(source).absolute() if isinstance(source, (str, os.PathLike)) else None
        found = images
        if found is None and path is not None:
            hit = coco_layout.images_folder(path.as_posix(), _names(frame), os.path.isfile)
            found = Path(hit) if hit is not None else None
        if found is not None:
            root = found if images is not None else \
                Path(os.path.commonpath([found.absolute(), path.parent]))
            frame = coco_layout.place_images(frame, found, root, unmeasured)
            frame.attrs["root"] = str(root.resolve())
        unmeasured.warn(name)
    frame.attrs.update({"format": "coco", "source": name})
    return frame


def _read_file(source: Source) -> pd.DataFrame:
    data, name = read_source(source)
    return parse_coco(data, where=name)


def _names(frame: pd.DataFrame) -> list[str]:
    return frame["file_name"].drop_duplicates().head(5).astype(object).fillna("").tolist()


def _read_archive(archive: SafeArchive, images: Path | None) -> pd.DataFrame:
    """The COCO files of a zip or folder as one frame; ``images``: where the images are, if given."""
    files, skipped = coco_layout.coco_files(archive)
    read = _Reads(archive.where, skipped)

    def measure(name: str) -> tuple[int, int]:
        if images is not None and archive.root is None:
            return coco_layout.size_under(images, name)
        if name not in archive:
            raise FileNotFoundError(name)
        return image_size(archive, name)

    for name in files:
        path = archive.path(name)  # a folder's file is named by its path, a zip's by its member
        try:
            frame = _read_file(path) if path else parse_coco(archive.read(name), where=archive.where)
        except FormatError as exc:
            if path is None:
                exc = FormatError(exc.reason, path=archive.where, member=name, line=exc.line)
            read.not_coco(name, exc)
            continue
        if images is None:
            prefix = coco_layout.images_folder(name, _names(frame), archive.__contains__)
            prefix = posixpath.dirname(name) if prefix is None else prefix
        else:  # below the folder's root ("../x" for images outside it: then not measured)
            prefix = "" if archive.root is None else os.path.relpath(images, archive.root)
            prefix = "" if prefix == "." else prefix.replace(os.sep, "/")
        read.add(coco_layout.with_prefix(frame, prefix, measure, read.unmeasured), name,
                 str(path) if path else f"{archive.where}: {name}")
    frame = read.frame()
    if archive.root is not None:
        frame.attrs["root"] = str(archive.root.resolve())
    return frame


class _Reads:
    """The frames of a folder's or zip's COCO files, put together, with what was skipped said once."""

    def __init__(self, where: str, skipped: list[str]) -> None:
        self.where, self.skipped, self.others = where, skipped, []
        self.frames: list[pd.DataFrame] = []
        self.names: list[str] = []
        self.unmeasured = coco_layout.Unmeasured()

    def not_coco(self, name: str, exc: FormatError) -> None:
        if exc.reason != "Object missing required field `images`":
            raise exc
        self.others.append(name)  # some other JSON (a config, a class list)

    def add(self, frame: pd.DataFrame, relative: str, shown: str) -> None:
        frame["split"] = pd.Series(coco_layout.split_of(relative), index=frame.index, dtype="string")
        self.frames.append(frame)
        self.names.append(shown)

    def frame(self) -> pd.DataFrame:
        listed = [f"{n} (another COCO task)" for n in self.skipped] + [f"{n} (no images list)" for n in self.others]
        if listed:
            warnings.warn(f"{self.where}: {len(listed)} JSON files not read as COCO detection: "
                          f"{', '.join(listed[:5])}" + (", ..." if len(listed) > 5 else ""),
                          UserWarning, stacklevel=4)
        if not self.frames:
            raise FormatError("no COCO detection JSON in the folder (looked for *.json up to 3 folders "
                              "down: annotations/instances_*.json, train/_annotations.coco.json, "
                              "labels.json, ...)", path=self.where)
        frame = coco_layout.combine(self.frames, self.names)
        if not frame["x"].notna().any():
            raise FormatError(f"the COCO files of the folder hold no boxes ({', '.join(self.names[:5])}): "
                              "read_coco reads object detection annotations", path=self.where)
        attrs = frame.attrs
        frame = validate_frame(frame, where=self.where)
        frame.attrs.update(attrs)
        self.unmeasured.warn(self.where)
        return frame


def serialize_coco(frame: pd.DataFrame, *, chunk_rows: int = 200_000) -> bytes:
    """The COCO detection JSON of a canonical frame, as bytes.

    >>> frame = parse_coco({"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}],
    ...     "annotations": [], "categories": [{"id": 1, "name": "cat"}]})
    >>> serialize_coco(frame)[:60]
    b'{"info":{"description":"aion-pandas export","version":"1.0"}'
    """
    buf = io.BytesIO()
    _write(frame, buf, chunk_rows=chunk_rows, warn=False)
    return buf.getvalue()


def write_coco(frame: pd.DataFrame, dest: Dest, *, chunk_rows: int = 200_000, **options: Any) -> None:
    """Write a canonical frame as COCO detection JSON to a path (atomically) or a binary file.

    Category ids: the frame's ``category_id`` when each name has one, else names sorted, 1..K. What
    COCO cannot carry is reported as one LossyConversionWarning.

    >>> write_coco(frame, "instances.json")  # doctest: +SKIP
    """
    if options:
        raise TypeError(f"write_coco got unknown options {sorted(options)}")
    with open_dest(dest) as out:
        _write(frame, out, chunk_rows=chunk_rows, warn=True)


def _write(frame: pd.DataFrame, out: Any, *, chunk_rows: int, warn: bool) -> None:
    frame = validate_frame(frame, where="frame given to write_coco")
    if warn:
        others = [c for c in frame.columns if c not in CORE_COLUMNS and c not in EXTRA_COLUMNS]
        many = frame["dataset_id"].nunique(dropna=True) > 1  # one dataset's id goes in info
        warn_unsupported(frame, "coco", [c for c in UNSUPPORTED if c != "dataset_id" or many] + others)
    coco_write.write_document(frame, out, chunk_rows=chunk_rows)
