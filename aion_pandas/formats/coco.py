"""COCO detection JSON <-> the canonical annotation frame: files, folders and zips.

:func:`parse_coco` (:mod:`.coco_parse`) is the pure parse and :mod:`.coco_write` the pure write;
``read_coco`` and ``write_coco`` add files, folders, zips and the images beside a JSON file. Layouts
(the README's COCO section draws them): COCO's ``annotations/instances_*.json`` with ``train2017/``;
Roboflow's ``train/_annotations.coco.json`` beside its images; FiftyOne's ``labels.json`` +
``data/``; any JSON with its images beside it, in ``data/`` or ``images/``.

>>> frame = read_coco(b'{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": []}')
>>> frame[["image_id", "file_name"]].values.tolist()
[[1, 'a.jpg']]
"""
from __future__ import annotations

import io
import os
import posixpath
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from aion_pandas.errors import FormatError
from aion_pandas.formats import coco_write
from aion_pandas.formats._source import Dest, Source, is_container, open_dest, read_source
from aion_pandas.formats.coco_parse import parse_coco
from aion_pandas.formats.lossy import MissingImageSizeWarning
from aion_pandas.formats.manifest import header_size, image_size
from aion_pandas.formats.safety import SafeArchive, open_archive
from aion_pandas.formats.schema import (CORE_COLUMNS, EXTRA_COLUMNS, categorical, validate_frame,
                                        warn_unsupported)

__all__ = ["UNSUPPORTED", "parse_coco", "read_coco", "serialize_coco", "write_coco"]

#: what COCO cannot carry (a count of each is reported by write_coco)
UNSUPPORTED: tuple[str, ...] = ("difficult", "truncated", "split", "dataset_id")
#: COCO files of other tasks, skipped (with a warning) when a folder also holds detection files
OTHER_TASKS = re.compile(r"^(captions|person_keypoints|panoptic|image_info|stuff)_", re.IGNORECASE)
_SPLITS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test",
           "testdev": "test"}
_DEPTH = 3  # folders below the root searched for JSON files


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
        frame.attrs.update({"format": "coco", "source": archive.where})
        return frame
    data, name = read_source(source)
    frame = parse_coco(data, where=name)
    path = Path(source).absolute() if isinstance(source, (str, os.PathLike)) else None
    found = images
    if found is None and path is not None:
        hit = images_folder(path.as_posix(), frame["file_name"], os.path.isfile)
        found = Path(hit) if hit is not None else None
    unmeasured = _Unmeasured()
    if found is not None:
        root = images if images is not None else Path(os.path.commonpath([found.absolute(), path.parent]))
        frame = _placed(frame, _relative(found, root), lambda n: size_under(root, n), unmeasured)
        frame.attrs["root"] = str(root.resolve())
    unmeasured.warn(name)
    frame.attrs.update({"format": "coco", "source": name})
    return frame


def _read_archive(archive: SafeArchive, images: Path | None) -> pd.DataFrame:
    """The COCO files of a zip or folder as one frame; ``images``: where the images are, if given."""
    visible = archive.names_ending(".json")
    deep = {n for n in visible if archive.root is not None and n.count("/") > _DEPTH}  # named in the warning
    found = [n for n in visible if n not in deep]
    other = [n for n in found if OTHER_TASKS.match(posixpath.basename(n))]
    files = [n for n in found if n not in other] or found  # only files of other tasks: read as they are
    skipped = [f"{n} (another COCO task)" for n in other] if len(other) < len(found) else []
    skipped += [f"{n} (more than {_DEPTH} folders down)" for n in sorted(deep)]
    frames, shown, unmeasured = [], [], _Unmeasured()

    def measure(name: str) -> tuple[int, int]:
        if images is not None and archive.root is None:
            return size_under(images, name)
        if name not in archive:
            raise FileNotFoundError(name)
        return image_size(archive, name)

    for name in files:
        path = archive.path(name)  # a folder's file is named by its path, a zip's by its member
        try:
            frame = parse_coco(read_source(path)[0] if path else archive.read(name),
                               where=str(path) if path else archive.where)
        except FormatError as exc:
            if exc.reason != "Object missing required field `images`":
                raise exc if path else FormatError(exc.reason, path=archive.where, member=name,
                                                   line=exc.line) from None
            skipped.append(f"{name} (no images list)")  # some other JSON (a config, a class list)
            continue
        if images is None:
            prefix = images_folder(name, frame["file_name"], archive.__contains__) or ""  # else as written
        else:  # below the folder's root ("../x" for images outside it: then not measured)
            prefix = "" if archive.root is None else _relative(images, archive.root)
        frame = _placed(frame, prefix, measure, unmeasured)
        frame["split"] = pd.Series(split_of(name), index=frame.index, dtype="string")
        frames.append(frame)
        shown.append(str(path) if path else f"{archive.where}: {name}")
    if skipped:
        warnings.warn(f"{archive.where}: {len(skipped):,} JSON files not read as COCO detection: "
                      f"{', '.join(skipped[:5])}" + (", ..." if len(skipped) > 5 else ""),
                      UserWarning, stacklevel=3)
    if not frames:
        raise FormatError(f"no COCO detection JSON in the folder (looked for *.json up to {_DEPTH} folders "
                          "down: annotations/instances_*.json, train/_annotations.coco.json, "
                          "labels.json, ...)", path=archive.where)
    frame = _combine(frames, shown)
    if not frame["x"].notna().any():
        raise FormatError(f"the COCO files of the folder hold no boxes ({', '.join(shown[:5])}): "
                          "read_coco reads object detection annotations", path=archive.where)
    frame = validate_frame(frame, where=archive.where)  # (which keeps the attrs)
    unmeasured.warn(archive.where)
    if archive.root is not None:
        frame.attrs["root"] = str(archive.root.resolve())
    return frame


def split_of(relative: str) -> str | None:
    """``train``, ``val`` or ``test`` from a JSON file's stem, else its folders (innermost first).

    >>> split_of("annotations/instances_val2017.json"), split_of("valid/_annotations.coco.json")
    ('val', 'val')
    """
    for part in reversed(Path(relative).with_suffix("").parts):
        for word in re.split(r"[^a-z]+", part.lower()):
            if word in _SPLITS:
                return _SPLITS[word]
    return None


def images_folder(json_name: str, file_names: pd.Series, exists: Callable[[str], bool]) -> str | None:
    """The folder holding the images of the JSON file ``json_name`` (``/`` separators), or None:
    of the folder beside it, its ``data/`` and ``images/`` and, for COCO's own layout
    (``annotations/instances_val2017.json``), ``val2017/`` beside ``annotations/``, the one where
    most of the first five distinct ``file_names`` exist (``exists(path)``).

    >>> images_folder("annotations/instances_val2017.json", pd.Series(["a.jpg"]),
    ...               {"val2017/a.jpg"}.__contains__)
    'val2017'
    """
    here = posixpath.dirname(json_name)
    candidates = [here, posixpath.join(here, "data"), posixpath.join(here, "images")]
    base = posixpath.splitext(posixpath.basename(json_name))[0]
    stem = base.removeprefix("instances_")
    if stem and stem != base:
        parent = posixpath.dirname(here)
        candidates += [posixpath.join(parent, stem), posixpath.join(parent, "images", stem)]
    sample = [n for n in file_names.drop_duplicates().head(5).dropna() if n]
    hits = [sum(exists(posixpath.join(candidate, n)) for n in sample) for candidate in candidates]
    return candidates[hits.index(max(hits))] if max(hits) else None


def _relative(folder: Path, root: Path) -> str:
    """``folder`` below ``root`` with ``/`` separators (``""`` for the root itself)."""
    prefix = os.path.relpath(folder, root).replace(os.sep, "/")
    return "" if prefix == "." else prefix


def size_under(root: Path, name: str) -> tuple[int, int]:
    """The header size of image ``name`` under ``root``; a name leading out (``../``, a link out) is
    not opened but raises FileNotFoundError (counted as unmeasured).

    >>> size_under(Path("/tmp"), "../etc/passwd")
    Traceback (most recent call last):
    FileNotFoundError: ../etc/passwd
    """
    real, base = os.path.realpath(root / name), os.path.realpath(root)
    if os.path.commonpath([real, base]) != base:
        raise FileNotFoundError(name)
    return header_size(root / name)


class _Unmeasured:
    """The images whose size the JSON lacks and whose header could not be read, for one warning."""

    def __init__(self) -> None:
        self.tried, self.missing, self.unreadable = 0, [], []

    def warn(self, where: str) -> None:
        failed = self.missing + self.unreadable
        if failed:
            warnings.warn(f"{where}: {len(failed)} of {self.tried} images without a size in the JSON could "
                          f"not be measured ({len(self.missing)} missing, {len(self.unreadable)} unreadable, "
                          f"e.g. {', '.join(failed[:3])}): their width and height are <NA>",
                          MissingImageSizeWarning, stacklevel=3)


def _placed(frame: pd.DataFrame, prefix: str, measure: Callable[[str], tuple[int, int]],
            unmeasured: _Unmeasured) -> pd.DataFrame:
    """``file_name`` under ``prefix``, and the sizes the JSON lacks from ``measure(file_name)``
    (FileNotFoundError: missing; another OSError: unreadable)."""
    if prefix:
        frame = frame.assign(file_name=prefix + "/" + frame["file_name"])
    lacking = (frame["width"].isna() | frame["height"].isna()).to_numpy()
    if not lacking.any():
        return frame
    sizes = {}
    for name in pd.unique(frame["file_name"].to_numpy(dtype=object)[lacking]):
        unmeasured.tried += 1
        try:
            sizes[name] = measure(str(name))
        except FileNotFoundError:
            unmeasured.missing.append(str(name))
        except (OSError, ValueError):  # PIL.UnidentifiedImageError is an OSError
            unmeasured.unreadable.append(str(name))
    if sizes:  # the rows lacking a size take both measured (<NA> for an image not measured)
        measured = pd.DataFrame.from_dict(sizes, orient="index", columns=["width", "height"])
        found = {c: frame["file_name"].map(measured[c]).astype("Int64") for c in ("width", "height")}
        frame = frame.assign(**{c: frame[c].where(~lacking, found[c]) for c in found})
    return frame


def _combine(frames: list[pd.DataFrame], files: list[str]) -> pd.DataFrame:
    """One frame of several files' frames: categories united by name (a name with two ids is
    refused); image ids kept when unique across files, else numbered 1..N in file order."""
    ids: dict[str, int] = {}
    for frame, name in zip(frames, files):
        for category, class_id in frame.attrs["category_ids"].items():
            if ids.setdefault(category, class_id) != class_id:
                raise FormatError(f"the category {category!r} has the id {ids[category]} in one file "
                                  f"and {class_id} in this one", path=name)
    names = sorted(ids, key=lambda c: (ids[c], c))
    for frame in frames:
        codes = pd.Index(names, dtype="str").get_indexer(frame["category"].astype(object))
        frame["category"] = categorical(codes, names)
    images = [pd.factorize(frame["image_id"])[0] for frame in frames]  # each file's images in order
    n_images = [codes.max() + 1 if len(codes) else 0 for codes in images]
    if sum(n_images) != pd.concat([f["image_id"] for f in frames]).nunique():
        for frame, codes, offset in zip(frames, images, np.cumsum([0] + n_images[:-1])):
            frame["image_id"] = codes + offset + 1
    out = pd.concat(frames, ignore_index=True)
    out.attrs = {"category_ids": {c: ids[c] for c in names},  # a later file's supercategory wins
                 "supercategories": {c: s for f in frames for c, s in f.attrs["supercategories"].items()}}
    return out


def serialize_coco(frame: pd.DataFrame, *, chunk_rows: int = 200_000) -> bytes:
    """The COCO detection JSON of a canonical frame, as bytes (what :func:`write_coco` writes).

    >>> frame = parse_coco({"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}],
    ...     "annotations": [], "categories": [{"id": 1, "name": "cat"}]})
    >>> serialize_coco(frame)[:60]
    b'{"info":{"description":"aion-pandas export","version":"1.0"}'
    """
    buf = io.BytesIO()
    write_coco(frame, buf, chunk_rows=chunk_rows)
    return buf.getvalue()


def write_coco(frame: pd.DataFrame, dest: Dest, *, chunk_rows: int = 200_000) -> None:
    """Write a canonical frame as COCO detection JSON to a path (atomically) or a binary file.

    Category ids: the frame's ``category_id`` when each name has one, else names sorted, 1..K. What
    COCO cannot carry is reported as one LossyConversionWarning.

    >>> write_coco(frame, "instances.json")  # doctest: +SKIP
    """
    frame = validate_frame(frame, where="frame given to write_coco")
    others = [c for c in frame.columns if c not in CORE_COLUMNS and c not in EXTRA_COLUMNS]
    many = frame["dataset_id"].nunique(dropna=True) > 1  # one dataset's id goes in info
    warn_unsupported(frame, "coco", [c for c in UNSUPPORTED if c != "dataset_id" or many] + others)
    with open_dest(dest) as out:
        coco_write.write_document(frame, out, chunk_rows=chunk_rows)
