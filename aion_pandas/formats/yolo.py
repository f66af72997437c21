"""YOLO (YOLOv5 / Ultralytics) detection zips <-> the canonical annotation frame.

Layout written (and read)::

    labels/<stem>.txt   one per image, even with no box: "class cx cy w h [confidence]" per line,
                        normalized to 0..1, 6 decimals; class = 0-based index into names
    data.yaml           train/val: images, nc, names {0: name, ...}  (Ultralytics / FiftyOne)
    classes.txt         the names, one per line
    manifest.csv        image_id, file_name, label_file, width, height, image_url, item_id,
                        item_status, description, tags (JSON), dataset_id  (see manifest.py)

Class indices follow the frame's ``category_id`` when those already number the categories
0..K-1; otherwise the categories are sorted by name and numbered 0..K-1 (as the service does).
YOLO cannot carry ``iscrowd``, ``difficult``, ``truncated`` nor an ``area`` other than ``w*h``: the
writer warns with counts (:class:`~aion_pandas.formats.schema.LossyConversionWarning`).
"""
from __future__ import annotations

from itertools import chain
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from aion_pandas.errors import FormatError
from aion_pandas.formats import _vectext as vt
from aion_pandas.formats.manifest import (
    MANIFEST_NAME, ImageTable, member_stems, write_manifest)
from aion_pandas.formats._zipwrite import write_zip
from aion_pandas.formats.schema import validate_frame, warn_unsupported

Source = str | Path | bytes | BinaryIO
DECIMALS = 6
_DROPPED = ("iscrowd", "difficult", "truncated", "area")


def read_yolo(source: Source, *, class_names: list[str] | None = None) -> pd.DataFrame:
    """Read a YOLO zip (``labels/*.txt`` + ``data.yaml``/``classes.txt`` + ``manifest.csv``) into a frame.

    >>> frame = read_yolo("export.zip")  # doctest: +SKIP
    """
    raise NotImplementedError("read_yolo is being written (B2)")


def write_yolo(frame: pd.DataFrame, dest: str | Path | BinaryIO) -> None:
    """Write a canonical frame as a YOLO zip: one ``labels/<stem>.txt`` per image, ``data.yaml``,
    ``classes.txt`` and ``manifest.csv``.

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
    label_files = np.array(["labels/" + s + ".txt" for s in stems], dtype=object)
    texts = _label_texts(frame, table, class_of_code)
    members = [("data.yaml", _data_yaml(names)),
               ("classes.txt", "".join(n.replace("\n", " ") + "\n" for n in names)),
               (MANIFEST_NAME, write_manifest(table.images, label_files))]
    write_zip(dest, chain(members, zip(label_files.tolist(), vt.views(texts))))


def _class_index(frame: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Class names in index order, and the class index for each category code of the frame."""
    categories = [str(c) for c in frame["category"].cat.categories]
    ids = pd.DataFrame({"category": frame["category"], "id": frame["category_id"]}).dropna()
    pairs = ids.drop_duplicates()
    if (len(pairs) == len(categories) and pairs["category"].is_unique and pairs["id"].is_unique
            and set(pairs["id"].astype(int)) == set(range(len(categories)))):
        by_name = dict(zip(pairs["category"].astype(str), pairs["id"].astype(int)))
        class_of_code = np.array([by_name[c] for c in categories], dtype="int64")
    else:
        class_of_code = np.argsort(np.argsort(np.array(categories, dtype=object), kind="stable"))
    names = [""] * len(categories)
    for code, index in enumerate(class_of_code):
        names[index] = categories[code]
    return names, class_of_code.astype("int64")


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
    cx = (boxes[:, 0] + boxes[:, 2] / 2) / width
    cy = (boxes[:, 1] + boxes[:, 3] / 2) / height
    parts = [vt.integers(class_of_code[codes]), " ", vt.fixed(cx, DECIMALS), " ",
             vt.fixed(cy, DECIMALS), " ", vt.fixed(boxes[:, 2] / width, DECIMALS), " ",
             vt.fixed(boxes[:, 3] / height, DECIMALS)]
    lines = vt.join(*parts)
    scores = frame["score"].to_numpy(dtype="float64", na_value=np.nan)[rows]
    if not np.isnan(scores).all():
        lines = vt.join(lines, vt.join(" ", vt.fixed(scores, DECIMALS)), skip_nulls=True)
    return vt.per_group(lines, table.offsets)


def _data_yaml(names: list[str]) -> str:
    head = ("# aion-pandas YOLO export: labels/<stem>.txt hold 'class cx cy w h [confidence]'\n"
            "# (normalized); manifest.csv maps each label file to its image and image_url.\n")
    body = {"train": "images", "val": "images", "nc": len(names), "names": dict(enumerate(names))}
    return head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)
