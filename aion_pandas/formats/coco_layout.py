"""Where COCO files and their images are: a JSON file and its images, or a folder or zip of splits.

Layouts (the README's COCO section draws them): COCO's ``annotations/instances_*.json`` with
``train2017/``; Roboflow's ``train/_annotations.coco.json`` beside its images; FiftyOne's
``labels.json`` + ``data/``; any JSON with its images beside it, in ``data/`` or ``images/``.

>>> split_of("annotations/instances_val2017.json"), split_of("valid/_annotations.coco.json")
('val', 'val')
"""
from __future__ import annotations

import os
import posixpath
import re
import warnings
from pathlib import Path
from typing import Callable
import numpy as np
import pandas as pd

from aion_pandas.errors import FormatError
from aion_pandas.formats.manifest import header_size
from aion_pandas.formats.safety import SafeArchive
from aion_pandas.formats.schema import categorical

#: COCO files of other tasks, skipped (with a warning) when a folder also holds detection files
OTHER_TASKS = re.compile(r"^(captions|person_keypoints|panoptic|image_info|stuff)_", re.IGNORECASE)
_SPLITS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test",
           "testdev": "test"}
_DEPTH = 3  # folders below the root searched for JSON files


def split_of(relative: str) -> str | None:
    """``train``, ``val`` or ``test`` from a JSON file's stem, else its folders (innermost first)."""
    parts = Path(relative).with_suffix("").parts
    for part in (parts[-1], *reversed(parts[:-1])):
        for word in re.split(r"[^a-z]+", part.lower()):
            if word in _SPLITS:
                return _SPLITS[word]
    return None


def coco_files(archive: SafeArchive) -> tuple[list[str], list[str]]:
    """The COCO JSON members of a zip or folder in name order (hidden files and folders left out;
    in a folder, up to 3 folders down), and those skipped as files of other COCO tasks (captions,
    keypoints, panoptic, ...), which are read only when nothing else is there."""
    found = [n for n in archive.names_ending(".json")
             if not any(part.startswith(".") for part in n.split("/"))
             and (archive.root is None or n.count("/") <= _DEPTH)]
    detection = [n for n in found if not OTHER_TASKS.match(posixpath.basename(n))]
    if not detection:
        return found, []
    return detection, [n for n in found if OTHER_TASKS.match(posixpath.basename(n))]


def images_folder(json_name: str, names: list[str], exists: Callable[[str], bool]) -> str | None:
    """The folder holding the images of the JSON file ``json_name`` (``/`` separators), or None:
    of the folder beside it, its ``data/`` and ``images/`` and, for COCO's own layout
    (``annotations/instances_val2017.json``), ``val2017/`` beside ``annotations/``, the one where
    most of the first five ``names`` exist (``exists(path)``).

    >>> images_folder("annotations/instances_val2017.json", ["a.jpg"], {"val2017/a.jpg"}.__contains__)
    'val2017'
    """
    here = posixpath.dirname(json_name)
    candidates = [here, posixpath.join(here, "data"), posixpath.join(here, "images")]
    base = posixpath.splitext(posixpath.basename(json_name))[0]
    stem = base.removeprefix("instances_")
    if stem and stem != base:
        parent = posixpath.dirname(here)
        candidates += [posixpath.join(parent, stem), posixpath.join(parent, "images", stem)]
    sample = [n for n in names[:5] if n]
    best, hits = None, 0
    for candidate in candidates:
        found = sum(exists(posixpath.join(candidate, n)) for n in sample)
        if found > hits:
            best, hits = candidate, found
    return best


class Unmeasured:
    """The images whose size the JSON lacks and whose header could not be read, for one warning."""

    def __init__(self) -> None:
        self.tried, self.missing, self.unreadable = 0, [], []

    def warn(self, where: str) -> None:
        if not (self.missing or self.unreadable):
            return
        from aion_pandas.formats.lossy import MissingImageSizeWarning

        first = ", ".join((self.missing + self.unreadable)[:3])
        warnings.warn(f"{where}: {len(self.missing) + len(self.unreadable)} of {self.tried} images "
                      f"without a size in the JSON could not be measured ({len(self.missing)} missing, "
                      f"{len(self.unreadable)} unreadable, e.g. {first}): their width and height are "
                      "<NA>", MissingImageSizeWarning, stacklevel=3)


def place_images(frame: pd.DataFrame, images: Path, root: Path, unmeasured: Unmeasured) -> pd.DataFrame:
    """``file_name`` relative to ``root`` (the images being under ``images``), and the sizes the
    JSON lacks from the image headers, never of a file outside ``root``.
    """
    prefix = os.path.relpath(images, root).replace(os.sep, "/")
    return with_prefix(frame, "" if prefix == "." else prefix, lambda name: size_under(root, name), unmeasured)


def size_under(root: Path, name: str) -> tuple[int, int]:
    """The header size of image ``name`` under ``root``; a name leading out (``../``, a link out) is
    not opened but raises FileNotFoundError (counted as unmeasured).

    >>> size_under(Path("/tmp"), "../etc/passwd")
    Traceback (most recent call last):
    FileNotFoundError: ../etc/passwd
    """
    if not _inside(root / name, root):
        raise FileNotFoundError(name)
    return header_size(root / name)


def with_prefix(frame: pd.DataFrame, prefix: str, measure: Callable[[str], tuple[int, int]],
                unmeasured: Unmeasured) -> pd.DataFrame:
    """``file_name`` under ``prefix``, and the sizes the JSON lacks from ``measure(file_name)``
    (FileNotFoundError: missing; another OSError: unreadable).
    """
    if prefix:
        names = frame["file_name"]
        frame = frame.assign(file_name=(prefix + "/" + names.astype("string")).astype(names.dtype))
    lacking = (frame["width"].isna() | frame["height"].isna()).to_numpy()
    if not lacking.any():
        return frame
    keys = frame["file_name"].to_numpy(dtype=object)
    sizes = {}
    for name in pd.unique(keys[lacking]):
        unmeasured.tried += 1
        try:
            sizes[name] = measure(str(name))
        except FileNotFoundError:
            unmeasured.missing.append(str(name))
        except (OSError, ValueError):  # PIL.UnidentifiedImageError is an OSError
            unmeasured.unreadable.append(str(name))
    if sizes:
        frame = frame.copy(deep=False)
        keep = pd.Series(~lacking, index=frame.index)
        for column, k in (("width", 0), ("height", 1)):
            measured = pd.array([sizes[n][k] if n in sizes else None for n in keys], dtype="Int64")
            frame[column] = frame[column].where(keep, measured)
    return frame


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, links followed, is inside ``folder``."""
    real, base = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([real, base]) == base


def combine(frames: list[pd.DataFrame], files: list[str]) -> pd.DataFrame:
    """One frame of several files' frames: categories united by name (a name with two ids is
    refused); image ids kept when unique across files, else numbered 1..N in file order.
    """
    ids: dict[str, int] = {}
    supers: dict[str, str] = {}
    for frame, name in zip(frames, files):
        for category, class_id in frame.attrs.get("category_ids", {}).items():
            if ids.setdefault(category, class_id) != class_id:
                raise FormatError(f"the category {category!r} has the id {ids[category]} in one file "
                                  f"and {class_id} in this one", path=name)
        supers.update(frame.attrs.get("supercategories", {}))
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
    out.attrs = {"category_ids": {c: ids[c] for c in names}, "supercategories": supers}
    return out
