"""The per-image side of the YOLO and VOC zips: image table, member stems, ``manifest.csv``.

``manifest.csv`` maps each label file to its image and carries what label files cannot (the
README's "manifest.csv" lists the columns). Stems are file names made safe and unique
case-insensitively: images that would share one get ``__<image_id>``.

>>> stems = member_stems(pd.Series(["a/cat.jpg", "b\\\\dog.png", "cat.JPG", "Cat.jpg"]),
...                      np.array([1, 2, 3, 4]))
>>> list(stems)
['a/cat', 'b/dog', 'cat__3', 'Cat__4']
"""
from __future__ import annotations

import contextlib
import io
import json
import os
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from aion_pandas.errors import FormatError
from aion_pandas.formats._arrowtext import float_column, tags_from_json
from aion_pandas.formats.lossy import BOX_LEVEL
from aion_pandas.formats.safety import SafeArchive
from aion_pandas.formats.schema import CORE_COLUMNS, EXTRA_COLUMNS, null_column

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS: tuple[str, ...] = (
    "image_id", "file_name", "label_file", "width", "height", "image_url", "item_id",
    "item_status", "description", "tags", "dataset_id",
)
_IMAGE_STRING_COLUMNS = ("image_url", "item_id", "item_status", "description", "dataset_id", "split")
_INEXACT = "is read as a float, exact only below 2**53 (the column is not all ints)"


class ImageTable:
    """The images of a frame (first row of each ``image_id``, ascending) and its boxes grouped by
    image: ``box_rows`` (frame rows with a box, by image), ``box_image`` (their image's position),
    ``counts`` (boxes per image) and ``offsets`` (their bounds)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        image_ids = frame["image_id"].to_numpy(dtype="int64")
        uniques, first, inverse = np.unique(image_ids, return_index=True, return_inverse=True)
        self.images = frame.iloc[first].reset_index(drop=True)
        rows = np.flatnonzero(frame["x"].notna().to_numpy())  # the rows with a box
        order = np.argsort(inverse[rows], kind="stable")
        self.box_rows = rows[order]
        self.box_image = inverse[self.box_rows]
        self.counts = np.bincount(self.box_image, minlength=len(uniques))
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype("int64")


def member_stems(file_names: pd.Series, image_ids: np.ndarray) -> np.ndarray:
    """Safe member stems for the images' file names, unique case-insensitively."""
    ids = pd.Series(np.asarray(image_ids, dtype="int64")).astype(str)
    names = pd.Series(file_names.to_numpy(dtype=object, na_value=None), dtype="string")
    s = names.str.replace("\\", "/", regex=False)
    s = s.str.replace(r"\.[^./]*$", "", regex=True)            # the extension of the last part
    s = s.str.replace(r'[\x00-\x1f<>:"|?*\x7f]', "_", regex=True)
    s = s.str.replace(r"(^|/)\.{1,2}(?=/|$)", "/", regex=True)  # . and .. parts
    s = s.str.replace(r"[ .]+(?=/|$)", "", regex=True)          # Windows drops trailing dots/spaces
    s = s.str.replace(r"/{2,}", "/", regex=True).str.strip("/")
    s = s.where(s.notna() & (s != ""), "image_" + ids)
    stems = s.astype(object).to_numpy().copy()
    suffixes = ("__" + ids).to_numpy(dtype=object)
    for _ in range(8):  # suffixing by the unique image_id settles it; a suffix may hit a real name
        lower = pd.Series(stems).str.lower()
        dup = lower.duplicated(keep=False).to_numpy()
        if not dup.any():
            return stems
        stems[dup] = stems[dup] + suffixes[dup]
    raise FormatError("could not make the image file names unique")  # pragma: no cover


def image_extensions(file_names: pd.Series) -> pd.Series:
    """The extension of each file name (``.jpg``), ``""`` when none."""
    s = pd.Series(file_names.to_numpy(dtype=object, na_value=None), dtype="string")
    return s.str.extract(r"(\.[^./\\]*)$", expand=False).fillna("")


def write_manifest(images: pd.DataFrame, label_files: np.ndarray) -> bytes:
    """``manifest.csv`` of an image table (one frame row per image)."""
    out = pd.DataFrame({"image_id": images["image_id"].to_numpy(dtype="int64"),
                        "file_name": images["file_name"].astype("string"), "label_file": label_files})
    for name in (*MANIFEST_COLUMNS[3:], "split"):  # split only when the frame has splits
        if name == "tags":
            out[name] = _tags_json(images["tags"]) if "tags" in images else "[]"
        elif name in images:
            out[name] = images[name].astype("Int64" if name in ("width", "height") else "string")
        elif name != "split":
            out[name] = pd.NA
    return out.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _tags_json(tags: pd.Series) -> list[str]:
    keys = [tuple(v) if isinstance(v, (list, tuple, np.ndarray)) else () for v in tags]
    texts = {key: json.dumps([str(v) for v in key], ensure_ascii=False) for key in set(keys)}
    return [texts[key] for key in keys]


def read_manifest(data: bytes, *, where: str) -> pd.DataFrame:
    """Parse ``manifest.csv`` into typed columns; raise :class:`FormatError` naming the problem.

    >>> m = read_manifest(b"image_id,file_name,label_file,width,height\\n1,a.jpg,labels/a.txt,4,3\\n",
    ...                   where="x.zip")
    >>> int(m.loc[0, "width"]), m.loc[0, "label_file"]
    (4, 'labels/a.txt')
    """
    try:
        table = pacsv.read_csv(pa.BufferReader(data), convert_options=pacsv.ConvertOptions(
            column_types={name: pa.large_string() for name in (*MANIFEST_COLUMNS, "split")},
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise FormatError(f"cannot parse: {exc}", path=where, member=MANIFEST_NAME) from None
    for name in ("image_id", "label_file"):
        if name not in table.column_names:
            raise FormatError(f"has no {name!r} column", path=where, member=MANIFEST_NAME)
    text = {name: table.column(name).combine_chunks() for name in table.column_names}
    labels = pc.replace_substring(text["label_file"], "\\", "/")
    out = pd.DataFrame({"label_file": pd.arrays.ArrowStringArray(labels)})
    for name in ("image_id", "width", "height"):
        out[name] = _whole_numbers(text.get(name), name, len(out), where)
    out["image_id"] = out["image_id"].astype("int64")
    out["file_name"] = null_column("string", len(out))  # replaced below when the manifest has it
    for name in ("file_name", *_IMAGE_STRING_COLUMNS):
        if name in text:
            out[name] = pd.arrays.ArrowStringArray(text[name])
    if "tags" in text:
        out["tags"] = tags_from_json(text["tags"], lambda row, reason: _fail(row, reason, where))
    if out["image_id"].duplicated().any() or out["label_file"].duplicated().any():
        raise FormatError("image_id and label_file must be unique", path=where, member=MANIFEST_NAME)
    return out


def _fail(row: int, reason: str, where: str) -> None:
    raise FormatError(f"line {row + 2}: {reason}", path=where, member=MANIFEST_NAME)


def _whole_numbers(text: pa.Array | None, name: str, n: int, where: str) -> pd.arrays.IntegerArray:
    """A manifest column of whole numbers (``1``; ``1.0`` below 2**53); ``image_id`` may not be empty."""
    if text is None:
        return null_column("Int64", n)

    def fail(row: int, reason: str = "", what: str = "is not a whole number") -> None:  # reason: float_column's
        _fail(row, f"{name} {text[row].as_py()!r} {what}", where)

    with contextlib.suppress(pa.ArrowInvalid):  # ints as written: exact, whatever their size
        ints = pd.Int64Dtype().__from_arrow__(pc.cast(text, pa.int64()))
        if name != "image_id" or not ints.isna().any():
            return ints
    numbers = float_column(text, fail)
    missing = np.isnan(numbers)
    with np.errstate(invalid="ignore"):
        bad = ~missing & ~((np.abs(numbers) < 2**53) & (numbers == np.floor(numbers)))
    if name == "image_id":
        bad |= missing
    if bad.any():
        row = int(np.argmax(bad))  # of 2**53 or more: whole, maybe, but not as a float
        fail(row, what=_INEXACT if abs(numbers[row]) >= 2**53 else "is not a whole number")
    return pd.arrays.IntegerArray(np.where(missing, 0, numbers).astype(np.int64), missing)


def manifest_positions(manifest: pd.DataFrame, members: list[str], *, where: str, kind: str) -> np.ndarray:
    """Each manifest row's position of its ``label_file`` in ``members`` (-1: none); a member the
    manifest does not list is a FormatError.

    >>> m = pd.DataFrame({"label_file": ["labels/b.txt", "labels/c.txt"]})
    >>> manifest_positions(m, ["labels/b.txt"], where="x.zip", kind="label").tolist()
    [0, -1]
    """
    listed = pa.array(manifest["label_file"].astype("string").array)  # an Array or a ChunkedArray
    present = pa.array(members, type=listed.type)
    row = pc.index_in(present, value_set=listed)  # each member's manifest row (listed is unique)
    if row.null_count:
        unlisted = row.is_null().to_numpy(zero_copy_only=False)
        raise FormatError(f"{int(unlisted.sum()):,} {kind} files are not in manifest.csv, e.g. "
                          f"{members[int(np.argmax(unlisted))]!r}", path=where, member=MANIFEST_NAME)
    positions = np.full(len(listed), -1, dtype=np.int64)
    positions[row.to_numpy()] = np.arange(len(members))
    return positions


def manifest_images(archive: SafeArchive, files: list[str], kind: str) -> pd.DataFrame | None:
    """The rows of the archive's ``manifest.csv`` with ``file_pos`` (each row's file in ``files``,
    -1: none), or None without a manifest."""
    if MANIFEST_NAME not in archive:
        return None
    manifest = read_manifest(archive.read(MANIFEST_NAME), where=archive.where)
    return manifest.assign(file_pos=manifest_positions(manifest, files, where=archive.where, kind=kind))


def files_used(images: pd.DataFrame, files: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """The files the images name (``file_pos``), in their order, and ``file_pos`` renumbered to
    them: a part of a dataset reads only its own files."""
    pos = images["file_pos"].to_numpy(dtype="int64")
    used = np.flatnonzero(np.bincount(pos[pos >= 0], minlength=len(files)))  # np.unique: 20x slower
    renumber = np.full(len(files), -1, dtype=np.int64)
    renumber[used] = np.arange(len(used))
    images["file_pos"] = np.where(pos >= 0, renumber[np.maximum(pos, 0)], -1)
    return images, [files[i] for i in used.tolist()]


def image_of_file(file_pos: np.ndarray, n_files: int) -> np.ndarray:
    """Each file's image position (-1: none), from each image's ``file_pos``."""
    out = np.full(n_files, -1, dtype=np.int64)
    has = file_pos >= 0
    out[file_pos[has]] = np.flatnonzero(has)
    return out


_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def is_image(name: str) -> bool:
    """Whether a member name looks like an image file."""
    return name.lower().endswith(_IMAGE_EXTENSIONS)


def part_of(images: pd.DataFrame, part: tuple[int, int] | None) -> pd.DataFrame:
    """The ``k``-th of ``n`` runs of rows (``part=(k, n)``) of an image table; all without a part.

    >>> part_of(pd.DataFrame({"image_id": [1, 2, 3]}), (1, 2))["image_id"].tolist()
    [3]
    """
    if part is None:
        return images
    k, n = part
    if not (isinstance(k, int) and isinstance(n, int) and 0 <= k < n):
        raise ValueError(f"part must be (k, n) with 0 <= k < n, got {part!r}")
    bounds = np.linspace(0, len(images), n + 1).round().astype(int)
    return images.iloc[bounds[k]:bounds[k + 1]].reset_index(drop=True)


def header_size(image: str | os.PathLike | IO[bytes]) -> tuple[int, int]:
    """``(width, height)`` from an image's header, its EXIF orientation applied; OSError if unreadable."""
    from PIL import ExifTags, Image

    with Image.open(image) as opened:
        turned = False  # a TIFF's size is already turned by Pillow; a PNG's getexif would decode its pixels
        if opened.format != "TIFF" and (opened.format != "PNG" or "exif" in opened.info):
            with contextlib.suppress(Exception):  # damaged EXIF (Pillow raises SyntaxError...): as stored
                turned = opened.getexif().get(ExifTags.Base.Orientation) in (5, 6, 7, 8)  # 5, 7: also mirrored
        return opened.size[::-1] if turned else opened.size


def image_size(archive: SafeArchive, name: str) -> tuple[int, int]:
    """``(width, height)`` of an image member from its header (a folder's file read by path)."""
    return header_size(archive.path(name) or io.BytesIO(archive.read(name)))


def image_sizes(archive: SafeArchive, members: list[str]) -> dict[str, tuple[int, int]]:
    """The sizes of the image members whose header can be read."""
    sizes = {}
    for name in members:
        with contextlib.suppress(OSError, ValueError):  # an unreadable image just has no size
            sizes[name] = image_size(archive, name)
    return sizes


def assemble(images: pd.DataFrame, box_image: np.ndarray, boxes: dict[str, object],
             fmt: str, where: str) -> pd.DataFrame:
    """The canonical frame from one row per image and the boxes (``box_image``: each box's image).

    Rows follow the images, an image's boxes in their order; an image without a box is one row with
    null box columns. ``boxes`` maps box columns (``category`` a Categorical) to arrays; it is
    emptied as they are placed.

    >>> images = pd.DataFrame({"image_id": [1, 2], "file_name": ["a.jpg", "b.jpg"],
    ...                        "width": [4, 4], "height": [3, 3]})
    >>> frame = assemble(images, np.array([1, 1]), {"x": [0.0, 1.0]}, "yolo", "x.zip")
    >>> frame[["file_name", "x"]].to_dict("list")
    {'file_name': ['a.jpg', 'b.jpg', 'b.jpg'], 'x': [nan, 0.0, 1.0]}
    """
    image_pos, box_row = row_layout(np.asarray(box_image, dtype=np.int64), len(images))
    n_rows = len(image_pos)
    out: dict[str, object] = {"image_id": images["image_id"].to_numpy(dtype="int64")[image_pos]}
    for name, dtype in _IMAGE_DTYPES.items():
        if name in images:
            out[name] = images[name].astype(dtype).array.take(image_pos)
        elif name in CORE_COLUMNS:
            out[name] = null_column(dtype, n_rows)
    if "tags" in images:  # each image's rows share its list
        out["tags"] = images["tags"].to_numpy(dtype=object)[image_pos]
    for name, dtype in _BOX_DTYPES.items():
        if name in boxes or name in CORE_COLUMNS:  # popped: each box column freed once it is scattered
            out[name] = _scatter(boxes.pop(name, None), dtype, box_row, n_rows)
    frame = pd.DataFrame({name: out[name] for name in _DTYPES if name in out}, copy=False)
    frame.attrs = {"format": fmt, "source": where}
    return frame


_DTYPES = {**CORE_COLUMNS, **EXTRA_COLUMNS}
_IMAGE_DTYPES = {name: t for name, t in _DTYPES.items()  # image_id and tags are taken as they are
                 if name not in BOX_LEVEL and name not in ("image_id", "tags")}
_BOX_DTYPES = {name: t for name, t in _DTYPES.items() if name in BOX_LEVEL}


def row_layout(box_image: np.ndarray, n_images: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's image position, and each box's row (``max(boxes, 1)`` rows per image).

    >>> [a.tolist() for a in row_layout(np.array([1, 1, 2]), 3)]
    [[0, 1, 1, 2], [1, 2, 3]]
    """
    counts = np.bincount(box_image, minlength=n_images)
    per_image = np.maximum(counts, 1)
    image_pos = np.repeat(np.arange(n_images, dtype=np.int64), per_image)
    empty_before = np.cumsum(per_image - counts) - (per_image - counts)  # image-only rows before each image
    order = np.argsort(box_image, kind="stable")
    box_row = np.empty(len(box_image), dtype=np.int64)
    box_row[order] = np.arange(len(box_image)) + empty_before[box_image[order]]
    return image_pos, box_row


def _scatter(values: object, dtype: str, box_row: np.ndarray, n_rows: int) -> object:
    """Box values on their rows, nulls on the image-only rows (``values=None``: all null)."""
    if dtype == "category" and values is not None:
        cat = values if isinstance(values, pd.Categorical) else pd.Categorical(values)
        codes = np.full(n_rows, -1, dtype=cat.codes.dtype)
        codes[box_row] = cat.codes
        return pd.Categorical.from_codes(codes, dtype=cat.dtype)
    out = null_column(dtype, n_rows)
    if values is not None:
        out[box_row] = np.asarray(values, dtype="float64") if dtype == "float64" else values
    return out
