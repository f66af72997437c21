"""YOLO (YOLOv5 / Ultralytics) detection zips and folders <-> the canonical annotation frame.

Written (and read): ``labels/<stem>.txt`` per image (``class cx cy w h [confidence]``, normalized,
6 decimals), ``data.yaml``, ``classes.txt`` and ``manifest.csv``; the layouts read are in
:mod:`.yolo_layout`. Class indices follow ``category_id`` when it numbers the categories 0..K-1,
else the names sorted. YOLO cannot carry ``iscrowd``, ``difficult``, ``truncated`` nor an ``area``
other than ``w*h``: the writer warns with counts.
"""
from __future__ import annotations

import re
import warnings
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aion_pandas.errors import FormatError
from aion_pandas.formats import _vectext as vt
from aion_pandas.formats import yolo_layout as layout
from aion_pandas.formats._yololines import parse_lines
from aion_pandas.formats.lossy import MissingImageSizeWarning, UnplacedAnnotationWarning  # noqa: F401
from aion_pandas.formats.manifest import (
    MANIFEST_NAME, ImageTable, assemble, files_used, image_of_file, image_sizes, is_image,
    manifest_images, member_stems, part_of, write_manifest)
from aion_pandas.formats._source import Dest, Source
from aion_pandas.formats.safety import Limits, SafeArchive, open_archive
from aion_pandas.formats._zipwrite import write_zip
from aion_pandas.formats.schema import pixels_from_cxcywh_norm, validate_frame, warn_unsupported

DECIMALS = 6
_DROPPED = ("iscrowd", "difficult", "truncated", "area")


def read_yolo(source: Source, *, class_names: list[str] | None = None,
              limits: Limits | None = None, part: tuple[int, int] | None = None) -> pd.DataFrame:
    """Read a YOLO zip or folder into a canonical frame.

    Label files are the ``.txt`` files under ``labels/``, else those named like an image beside them.
    Class names: ``class_names``, else ``data.yaml``'s ``names``, else ``classes.txt`` or
    ``obj.names``, else the index as text. Image sizes come from ``manifest.csv``, else the image
    headers; boxes without one are NaN, with a :class:`MissingImageSizeWarning`. A line of 5 fields
    is a box, 6 add ``score``, 1 + 2k (k >= 3) a polygon read as its bounding box; any other line
    is a :class:`FormatError` naming the member and line. ``part=(k, n)``: only the k-th of n runs
    of images. ``limits``: see :class:`~aion_pandas.formats.safety.Limits`.

    >>> import io; buf = io.BytesIO()
    >>> write_yolo(pd.DataFrame({"file_name": ["a.jpg"], "width": [100], "height": [50],
    ...     "category": ["cat"], "x": [10.0], "y": [5.0], "w": [20.0], "h": [10.0]}), buf)
    >>> read_yolo(buf.getvalue())[["file_name", "category", "x", "y", "w", "h"]].to_dict("records")
    [{'file_name': 'a.jpg', 'category': 'cat', 'x': 10.0, 'y': 5.0, 'w': 20.0, 'h': 10.0}]
    """
    with open_archive(source, limits=limits) as archive:
        config = layout.read_config(archive, None if class_names is None else list(class_names))
        labels, unplaced = layout.label_members(archive, config)
        if not labels:
            raise FormatError("no YOLO label files (.txt under labels/ or beside the images) "
                              f"found among {len(archive.names):,} files", path=archive.where)
        if unplaced:
            warnings.warn(f"{archive.where}: {len(unplaced):,} .txt files are outside labels/ "
                          f"(which holds the labels), not read: {', '.join(unplaced[:5])}",
                          UnplacedAnnotationWarning, stacklevel=2)
        images, labels = files_used(_images(archive, labels, config, part), labels)
        box_label, values = parse_lines(list(archive.read_many(labels)), labels, archive.where)
        if not len(box_label) and MANIFEST_NAME not in archive and part is None:
            raise FormatError(f"the {len(labels):,} label files hold no box", path=archive.where)
        box_image = image_of_file(images.pop("file_pos").to_numpy(), len(labels))[box_label]
        return _frame(box_image, values, images, config.names, archive.where)


def _frame(box_image: np.ndarray, values: np.ndarray, images: pd.DataFrame, names: list[str] | None,
           where: str) -> pd.DataFrame:
    """The canonical frame of the boxes (``box_image``: each one's image) and one row per image."""
    cls, cx, cy, w, h, score = values
    width = images["width"].to_numpy(dtype="float64", na_value=np.nan)[box_image]
    height = images["height"].to_numpy(dtype="float64", na_value=np.nan)[box_image]
    x, y, bw, bh = pixels_from_cxcywh_norm(cx, cy, w, h, width, height)
    unsized = np.isnan(width) | np.isnan(height)
    if unsized.any():
        warnings.warn(f"{where}: {int(unsized.sum()):,} boxes on "
                      f"{len(np.unique(box_image[unsized])):,} images have no image size "
                      "(no manifest.csv and no image in the archive): their x, y, w, h are NaN",
                      MissingImageSizeWarning, stacklevel=3)
    categories = _categories(int(cls.max(initial=-1)), names, where)
    codes = cls.astype(np.int64)
    boxes = {"category": pd.Categorical.from_codes(codes, dtype=categories),
             "category_id": codes, "x": x, "y": y, "w": bw, "h": bh, "score": score}
    return assemble(images, box_image, boxes, "yolo", where)


def _images(archive: SafeArchive, labels: list[str], config: layout.Config,
            part: tuple[int, int] | None) -> pd.DataFrame:
    """One row per image (``file_pos``: its label file in ``labels``, -1 if none), from the manifest
    or the layout's pairing; only the rows of ``part`` are measured."""
    manifest = manifest_images(archive, labels, "label")
    if manifest is not None:
        return part_of(manifest, part)
    position = {name: i for i, name in enumerate(labels)}
    pictures = [n for n in archive.names if is_image(n)]
    paired = layout.pair_images(labels, pictures)
    alone = sorted(set(labels) - set(paired.values()))
    splits = layout.image_splits(archive, pictures + alone, config)
    rows = [(_file_name(p), p, position.get(paired.get(p, ""), -1), splits.get(p)) for p in pictures]
    rows += [(_file_name(label), None, position[label], splits.get(label)) for label in alone]
    images = pd.DataFrame(rows, columns=["file_name", "picture", "file_pos", "split"])  # str: by assemble
    images = images.sort_values("file_name", kind="stable").reset_index(drop=True)
    images.insert(0, "image_id", np.arange(1, len(images) + 1, dtype="int64"))
    images = part_of(images, part)
    sizes = image_sizes(archive, images["picture"].dropna().tolist())
    images[["width", "height"]] = pd.DataFrame([sizes.get(p, (None, None)) for p in images.pop("picture")],
                                               columns=["width", "height"], dtype="Int64")  # alone: NA
    return images if images["split"].notna().any() else images.drop(columns="split")


def _file_name(member: str) -> str:
    """An image's name: its path below its last ``images/`` or ``labels/``, after the split folder above it if
    any (Roboflow's ``train/images/a.jpg`` is ``train/a.jpg``, as ``images/train/a.jpg``); a label loses ``.txt``."""
    found = re.match(r"(?:(.*)/)?(?:images|labels)/(.*)", member, re.DOTALL)
    above, name = found.groups("") if found else ("", member)
    split = above.rsplit("/", 1)[-1]
    name = f"{split}/{name}" if split.lower() in layout.SPLIT_NAMES else name
    return name[:-4] if name.lower().endswith(".txt") else name


def _categories(max_class: int, names: list[str] | None, where: str) -> pd.CategoricalDtype:
    """The categories in class index order: the names, then the indices past them as text."""
    names = list(names or [])
    extra = [str(i) for i in range(len(names), max_class + 1)]
    if extra and names:
        warnings.warn(f"class indices {extra[0]}..{extra[-1]} are beyond the {len(names)} class "
                      "names: named by their index", UserWarning, stacklevel=4)
    categories = names + extra
    if len(set(categories)) != len(categories):
        raise FormatError(f"the class names repeat a name: {categories}", path=where)
    return pd.CategoricalDtype(pd.Index(categories, dtype="str"))


def write_yolo(frame: pd.DataFrame, dest: Dest) -> None:
    """Write a canonical frame as a YOLO zip (a ``.zip`` path or a binary file) or folder (any other path):
    ``labels/<split>/<stem>.txt`` per image, ``data.yaml``, ``classes.txt``, ``manifest.csv``.

    >>> frame = pd.DataFrame({"file_name": ["a.jpg"], "width": [100], "height": [50],
    ...     "category": ["cat"], "x": [10.0], "y": [5.0], "w": [20.0], "h": [10.0]})
    >>> import io, zipfile; buf = io.BytesIO(); write_yolo(frame, buf)
    >>> zipfile.ZipFile(buf).read("labels/a.txt")
    b'0 0.200000 0.200000 0.200000 0.200000\\n'
    """
    frame = validate_frame(frame, where=str(dest) if isinstance(dest, (str, Path)) else None)
    warn_unsupported(frame, "yolo", [c for c in _DROPPED if c in frame.columns])
    table = ImageTable(frame)
    names, class_of_code = _class_index(frame)
    stems = member_stems(table.images["file_name"], table.images["image_id"].to_numpy())
    splits = table.images["split"].fillna("") if "split" in table.images else [""] * len(stems)
    label_files = np.array([f"labels/{stem}.txt" if not split or stem.startswith(split + "/")
                            else f"labels/{split}/{stem}.txt"  # under its split folder
                            for split, stem in zip(splits, stems)], dtype=object)
    views = list(vt.views(_label_texts(frame, table, class_of_code)))
    members = [("data.yaml", _data_yaml(names, sorted(set(splits) - {""}))),
               ("classes.txt", "".join(n.replace("\n", " ") + "\n" for n in names)),
               (MANIFEST_NAME, write_manifest(table.images, label_files))]
    by_name = np.argsort(label_files)  # members in name order: readers list them sorted
    # label files are stored, not deflated: inflating many small members costs more than it saves
    write_zip(dest, chain(members, ((label_files[i], views[i]) for i in by_name.tolist())),
              stored=lambda name: name.startswith("labels/"))


def _class_index(frame: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Class names in index order, and each category code's class index."""
    categories = [str(c) for c in frame["category"].cat.categories]
    pairs = frame[["category", "category_id"]].dropna().drop_duplicates()
    if (len(pairs) == len(categories) and pairs["category"].is_unique
            and sorted(pairs["category_id"].astype(int)) == list(range(len(categories)))):
        by_code = np.argsort(pairs["category"].cat.codes.to_numpy())
        class_of_code = pairs["category_id"].to_numpy("int64")[by_code]
    else:  # the names sorted
        class_of_code = np.argsort(np.argsort(np.array(categories, dtype=object), kind="stable"))
    return [categories[code] for code in np.argsort(class_of_code)], class_of_code.astype("int64")


def _label_texts(frame: pd.DataFrame, table: ImageTable, class_of_code: np.ndarray) -> pa.Array:
    rows = table.box_rows
    boxes = frame[["x", "y", "w", "h"]].to_numpy(dtype="float64", na_value=np.nan)[rows]
    width = table.images["width"].to_numpy(dtype="float64", na_value=np.nan)[table.box_image]
    height = table.images["height"].to_numpy(dtype="float64", na_value=np.nan)[table.box_image]
    unsized = np.isnan(width) | np.isnan(height) | (width <= 0) | (height <= 0)
    if unsized.any():
        image = table.images.iloc[int(table.box_image[np.argmax(unsized)])]
        raise FormatError(f"image {image['file_name']!r} (image_id {image['image_id']}) has boxes but "
                          f"no width/height; YOLO stores boxes relative to the image size")
    codes = frame["category"].cat.codes.to_numpy()[rows]
    fields = [(boxes[:, 0] + boxes[:, 2] / 2) / width, (boxes[:, 1] + boxes[:, 3] / 2) / height,
              boxes[:, 2] / width, boxes[:, 3] / height]
    scores = frame["score"].to_numpy(dtype="float64", na_value=np.nan)[rows]
    if not np.isnan(scores).all():
        fields.append(scores)  # a NaN one is a null: left out with its blank
    lines = pc.binary_join_element_wise(vt.fixed(class_of_code[codes], 0),
                                        *(vt.fixed(v, DECIMALS) for v in fields), " ", null_handling="skip")
    return vt.per_group(lines, table.offsets)


def _data_yaml(names: list[str], splits: list[str]) -> str:
    head = ("# aion-pandas YOLO export: labels/<stem>.txt hold 'class cx cy w h [confidence]'\n"
            "# (normalized); manifest.csv maps each label file to its image and image_url.\n")
    folders = {s: f"images/{s}" for s in splits} if splits else {"train": "images", "val": "images"}
    body = {"path": ".", **folders, "nc": len(names), "names": dict(enumerate(names))}
    import yaml
    return head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)
