"""YOLO (YOLOv5 / Ultralytics) detection zips <-> the canonical annotation frame.

Layout written (and read)::

    labels/<stem>.txt   one per image, even with no box: "class cx cy w h [confidence]" per line,
                        normalized to 0..1, 6 decimals; class = 0-based index into names;
                        stored (not deflated), in name order: see _is_label_file
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

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa

from aion_pandas.errors import FormatError
from aion_pandas.formats import _vectext as vt
from aion_pandas.formats._yololines import LabelLines, parse_lines
from aion_pandas.formats.manifest import (
    MANIFEST_NAME, ImageTable, assemble, image_size, is_image, manifest_positions, member_stems,
    read_manifest, write_manifest)
from aion_pandas.formats.safety import Limits, SafeArchive, open_archive
from aion_pandas.formats._zipwrite import write_zip
from aion_pandas.formats.boxes import pixels_from_cxcywh_norm
from aion_pandas.formats.schema import validate_frame, warn_unsupported

Source = str | Path | bytes | BinaryIO
DECIMALS = 6
_DROPPED = ("iscrowd", "difficult", "truncated", "area")


def read_yolo(source: Source, *, class_names: list[str] | None = None,
              limits: Limits | None = None) -> pd.DataFrame:
    """Read a YOLO zip (or folder) into a canonical frame.

    Label files are the ``.txt`` members under a ``labels/`` folder (any depth), or, with no such
    folder, ``.txt`` members named like an image beside them (YOLOv4). Class names come from
    ``class_names``, else ``data.yaml``/``dataset.yaml`` ``names``, else ``classes.txt`` or
    ``obj.names``, else the class index as text. Image sizes and ids come from ``manifest.csv``,
    else from the images in the archive (header only), else they are unknown: then width/height
    are ``<NA>``, the boxes ``NaN``, and a :class:`MissingImageSizeWarning` says how many.
    Lines of 5 fields are boxes, 6 add a confidence (``score``); segmentation lines (1 + 2k
    fields, k >= 3) are read as their bounding box; anything else is a :class:`FormatError`
    naming the member and line. An empty label file is an image with no box.

    >>> import io; buf = io.BytesIO()
    >>> write_yolo(pd.DataFrame({"file_name": ["a.jpg"], "width": [100], "height": [50],
    ...     "category": ["cat"], "x": [10.0], "y": [5.0], "w": [20.0], "h": [10.0]}), buf)
    >>> read_yolo(buf.getvalue())[["file_name", "category", "x", "y", "w", "h"]].to_dict("records")
    [{'file_name': 'a.jpg', 'category': 'cat', 'x': 10.0, 'y': 5.0, 'w': 20.0, 'h': 10.0}]
    """
    with open_archive(source, limits=limits) as archive:
        labels = _label_members(archive)
        images = _images(archive, labels)
        names = list(class_names) if class_names is not None else _class_names(archive)
        lines = parse_lines(list(archive.read_many(labels)), labels, archive.where)
        return _frame(lines, images, names, archive.where)


class MissingImageSizeWarning(UserWarning):
    """A YOLO archive's boxes cannot become pixels: no manifest, no image to read the size from."""


def _frame(lines: LabelLines, images: pd.DataFrame, names: list[str] | None,
           where: str) -> pd.DataFrame:
    """The canonical frame of parsed label lines and one row per image (``label_pos``: the
    image's label file, -1 if none)."""
    label_pos = images["label_pos"].to_numpy(dtype="int64")
    images = images.drop(columns="label_pos")
    image_of_label = np.full(int(label_pos.max(initial=-1)) + 1, -1, dtype="int64")
    has_label = label_pos >= 0
    image_of_label[label_pos[has_label]] = np.flatnonzero(has_label)
    box_image = image_of_label[lines.box_label]
    cls, cx, cy, w, h, score = lines.values
    width = images["width"].to_numpy(dtype="float64", na_value=np.nan)[box_image]
    height = images["height"].to_numpy(dtype="float64", na_value=np.nan)[box_image]
    x, y, bw, bh = pixels_from_cxcywh_norm(cx, cy, w, h, width, height)
    unsized = np.isnan(width) | np.isnan(height)
    if unsized.any():
        warnings.warn(f"{where}: {int(unsized.sum()):,} boxes on "
                      f"{len(np.unique(box_image[unsized])):,} images have no image size "
                      "(no manifest.csv and no image in the archive): their x, y, w, h are NaN",
                      MissingImageSizeWarning, stacklevel=3)
    categories = _categories(lines.max_class, names, where)
    codes = cls.astype(np.int64)
    boxes = {"category": pd.Categorical.from_codes(codes, dtype=categories),
             "category_id": codes, "x": x, "y": y, "w": bw, "h": bh, "score": score}
    return assemble(images, box_image, boxes, "yolo", where)


def _label_members(archive: SafeArchive) -> list[str]:
    labels = archive.names_ending(".txt", folder="labels")
    if labels:
        return labels
    image_stems = {n.rsplit(".", 1)[0] for n in archive.names if is_image(n)}
    return [n for n in archive.names_ending(".txt") if n[:-4] in image_stems]


def _class_names(archive: SafeArchive) -> list[str] | None:
    by_depth = sorted((n for n in archive.names_ending(*_NAME_FILES)
                       if n.rsplit("/", 1)[-1] in _NAME_FILES), key=lambda n: (n.count("/"), n))
    for name in by_depth:
        if name.rsplit("/", 1)[-1] in _YAML_NAMES:
            found = _yaml_names(archive, name)
            if found is not None:
                return found
    for name in by_depth:
        if name.rsplit("/", 1)[-1] in _LIST_NAMES:
            text = _text(archive, name)
            return [line.strip() for line in text.splitlines() if line.strip()]
    return None


_YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")
_LIST_NAMES = ("classes.txt", "obj.names")
_NAME_FILES = _YAML_NAMES + _LIST_NAMES


def _yaml_names(archive: SafeArchive, name: str) -> list[str] | None:
    import yaml  # here, not at import: ~10 ms, and only archives with a data.yaml need it
    try:  # libyaml's loader when PyYAML was built with it
        data = yaml.load(_text(archive, name), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise FormatError(f"not valid YAML ({exc})", path=archive.where, member=name) from None
    names = data.get("names") if isinstance(data, dict) else None
    if names is None:
        return None
    if isinstance(names, dict):
        try:
            indexed = {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            raise FormatError("names must map class indices to names", path=archive.where,
                              member=name) from None
        return [indexed.get(i, str(i)) for i in range(max(indexed, default=-1) + 1)]
    if isinstance(names, list):
        return [str(v) for v in names]
    raise FormatError("names must be a list or a mapping", path=archive.where, member=name)


def _text(archive: SafeArchive, name: str) -> str:
    if archive.size(name) > _SMALL_FILE:
        raise FormatError(f"larger than {_SMALL_FILE:,} bytes", path=archive.where, member=name)
    try:
        return archive.read(name).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text ({exc})", path=archive.where, member=name) from None


_SMALL_FILE = 16 << 20


def _images(archive: SafeArchive, labels: list[str]) -> pd.DataFrame:
    """One row per image (``label_pos``: its label file's position in ``labels``, -1 if none):
    the manifest's rows, else the label files and images of the archive."""
    if MANIFEST_NAME in archive:
        manifest = read_manifest(archive.read(MANIFEST_NAME), where=archive.where)
        return manifest.assign(label_pos=manifest_positions(manifest, labels, where=archive.where,
                                                            kind="label"))
    position = {name: i for i, name in enumerate(labels)}
    pictures = {_label_of_image(n): n for n in archive.names if is_image(n)}
    keys = sorted(set(labels) | set(pictures))
    rows = []
    for key in keys:
        picture = pictures.get(key)
        size = image_size(archive.read(picture)) if picture else None
        rows.append((_file_name(picture or key), size[0] if size else None,
                     size[1] if size else None, position.get(key, -1)))
    images = pd.DataFrame(rows, columns=["file_name", "width", "height", "label_pos"])
    images = images.sort_values("file_name", kind="stable").reset_index(drop=True)
    images.insert(0, "image_id", np.arange(1, len(images) + 1, dtype="int64"))
    images["width"] = images["width"].astype("Int64")
    images["height"] = images["height"].astype("Int64")
    images["file_name"] = images["file_name"].astype("string")
    return images


def _label_of_image(name: str) -> str:
    """The label member an image member pairs with: ``.../images/...x.jpg`` -> ``.../labels/...x.txt``."""
    parts = name.split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return "/".join(parts).rsplit(".", 1)[0] + ".txt"


def _file_name(member: str) -> str:
    """An image's file name: its path below ``images/``/``labels/`` (a label keeps no extension)."""
    parts = member.split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] in ("images", "labels"):
            parts = parts[i + 1:]
            break
    name = "/".join(parts)
    return name[:-4] if name.lower().endswith(".txt") else name


def _categories(max_class: int, names: list[str] | None, where: str) -> pd.CategoricalDtype:
    """The categories, in class index order: the class names, then the indices past them as text."""
    names = list(names or [])
    extra = [str(i) for i in range(len(names), max_class + 1)]
    if extra and names:
        warnings.warn(f"class indices {extra[0]}..{extra[-1]} are beyond the {len(names)} class "
                      "names: named by their index", UserWarning, stacklevel=4)
    categories = names + extra
    if len(set(categories)) != len(categories):
        raise FormatError(f"the class names repeat a name: {categories}", path=where)
    return pd.CategoricalDtype(pd.Index(categories, dtype="str"))


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
    by_name = np.argsort(label_files)  # members in name order: readers list them sorted
    views = list(vt.views(texts))
    write_zip(dest, chain(members, ((label_files[i], views[i]) for i in by_name.tolist())),
              stored=_is_label_file)


def _is_label_file(name: str) -> bool:
    """Label files are stored, not deflated: inflating 100,000 small members takes longer than
    parsing them (the zip is ~1.6x larger; see bench/bench_readers_zip.py)."""
    return name.startswith("labels/")


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
    import yaml
    return head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False)
