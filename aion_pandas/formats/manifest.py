"""The per-image side of the YOLO and VOC zips: image table, unique member stems, ``manifest.csv``.

A YOLO or VOC zip names one label file per image; ``manifest.csv`` says which image each file is
for and carries everything the label files cannot (the original file name, size, URL, item, ...):

===============  ============================================================================
column           meaning
===============  ============================================================================
image_id         the frame's image id (1-based item order in a service export)
file_name        the image's original file name (``/`` separators), exactly as in the frame
label_file       the zip member holding this image's labels (``labels/<stem>.txt`` or
                 ``Annotations/<stem>.xml``)
width, height    image size in pixels (empty when unknown)
image_url        where the pixels can be fetched (empty when unknown)
item_id          the batch item id
item_status      ``completed`` or ``failed``
description      the item's description
tags             a JSON array of strings
dataset_id       the service's dataset id
===============  ============================================================================

Stems are the file name without its extension, made safe (``\\`` to ``/``, no ``..``/absolute/drive
parts, no characters Windows refuses) and unique case-insensitively: when two images would share a
stem, each of them gets ``__<image_id>`` appended (``cat.jpg`` twice -> ``cat__3``, ``cat__8``).

>>> stems = member_stems(pd.Series(["a/cat.jpg", "b\\\\dog.png", "cat.JPG", "Cat.jpg"]),
...                      np.array([1, 2, 3, 4]))
>>> list(stems)
['a/cat', 'b/dog', 'cat__3', 'Cat__4']
"""
from __future__ import annotations

import io
import json
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from aion_pandas.errors import FormatError
from aion_pandas.formats._distinct import parse_distinct
from aion_pandas.formats._strings import take_strings
from aion_pandas.formats.schema import null_column

MANIFEST_NAME = "manifest.csv"
MANIFEST_COLUMNS: tuple[str, ...] = (
    "image_id", "file_name", "label_file", "width", "height", "image_url", "item_id",
    "item_status", "description", "tags", "dataset_id",
)
_IMAGE_STRING_COLUMNS = ("image_url", "item_id", "item_status", "description", "dataset_id")


class ImageTable:
    """One row per image of a frame (first row of each ``image_id``, ascending ``image_id``), and the
    positions that group the frame's boxes by image.

    ``images``: frame rows of the images; ``box_rows``: indices (into the frame) of the rows with a
    box, ordered by image then frame order; ``box_image``: for each of those, its image's position;
    ``counts``: boxes per image.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        image_ids = frame["image_id"].to_numpy(dtype="int64")
        uniques, first, inverse = np.unique(image_ids, return_index=True, return_inverse=True)
        self.images = frame.iloc[first].reset_index(drop=True)
        has_box = frame["x"].notna().to_numpy()
        rows = np.flatnonzero(has_box)
        order = np.argsort(inverse[rows], kind="stable")
        self.box_rows = rows[order]
        self.box_image = inverse[self.box_rows]
        self.counts = np.bincount(self.box_image, minlength=len(uniques))
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype("int64")


def member_stems(file_names: pd.Series, image_ids: np.ndarray) -> np.ndarray:
    """Safe, unique (case-insensitively) member stems for the images' file names; see the module doc."""
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
    """``manifest.csv`` for the image table (rows of a canonical frame, one per image)."""
    out = pd.DataFrame({"image_id": images["image_id"].to_numpy(dtype="int64"),
                        "file_name": images["file_name"].astype("string"),
                        "label_file": label_files})
    for name in ("width", "height"):
        out[name] = images[name].astype("Int64") if name in images else pd.NA
    for name in ("image_url", "item_id", "item_status", "description"):
        out[name] = images[name].astype("string") if name in images else pd.NA
    out["tags"] = _tags_json(images["tags"]) if "tags" in images else "[]"
    out["dataset_id"] = images["dataset_id"].astype("string") if "dataset_id" in images else pd.NA
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def _tags_json(tags: pd.Series) -> list[str]:
    cache: dict[tuple, str] = {}
    out = []
    for value in tags:
        key = tuple(value) if isinstance(value, (list, tuple, np.ndarray)) else ()
        text = cache.get(key)
        if text is None:
            text = cache[key] = json.dumps([str(v) for v in key], ensure_ascii=False)
        out.append(text)
    return out


def read_manifest(data: bytes, *, where: str) -> pd.DataFrame:
    """Parse ``manifest.csv`` into typed columns; raise :class:`FormatError` naming the problem.

    >>> m = read_manifest(b"image_id,file_name,label_file,width,height\\n1,a.jpg,labels/a.txt,4,3\\n",
    ...                   where="x.zip")
    >>> int(m.loc[0, "width"]), m.loc[0, "label_file"]
    (4, 'labels/a.txt')
    """
    out = _typed_manifest(data)
    if out is not None and _unique(out):
        return out
    try:
        raw = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_values=[""])
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot parse: {exc}", path=where, member=MANIFEST_NAME) from None
    for name in ("image_id", "label_file"):
        if name not in raw.columns:
            raise FormatError(f"has no {name!r} column", path=where, member=MANIFEST_NAME)
    out = pd.DataFrame({"label_file": raw["label_file"].astype("string").str.replace(
        "\\", "/", regex=False)})
    for name in ("image_id", "width", "height"):
        if name not in raw.columns:
            out[name] = pd.array([pd.NA] * len(raw), dtype="Int64")
            continue
        values = pd.to_numeric(raw[name], errors="coerce")
        bad = values.isna() & raw[name].notna()
        if name == "image_id":
            bad |= raw[name].isna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            raise FormatError(f"line {row + 2}: {name} {raw[name].iloc[row]!r} is not a whole number",
                              path=where, member=MANIFEST_NAME)
        out[name] = values.astype("Int64")
    out["image_id"] = out["image_id"].astype("int64")
    out["file_name"] = raw["file_name"].astype("string") if "file_name" in raw else pd.NA
    for name in _IMAGE_STRING_COLUMNS:
        if name in raw.columns:
            out[name] = raw[name].astype("string")
    if "tags" in raw.columns:
        out["tags"] = _tags_column(raw["tags"].tolist(), where)
    if not _unique(out):
        raise FormatError("image_id and label_file must be unique", path=where, member=MANIFEST_NAME)
    return out


def _unique(manifest: pd.DataFrame) -> bool:
    """Whether no two rows share an ``image_id`` or a ``label_file`` (ids in increasing order,
    as written, need no hashing)."""
    ids = manifest["image_id"].to_numpy()
    increasing = len(ids) < 2 or bool((ids[1:] > ids[:-1]).all())
    if not increasing and manifest["image_id"].duplicated().any():
        return False
    files = pa.array(manifest["label_file"].array)
    return len(pc.unique(files)) == len(files)  # a null counts once, as a value


_TYPES = {"image_id": pa.int64(), "width": pa.int64(), "height": pa.int64(),
          **{name: pa.large_string() for name in ("file_name", "label_file", "tags",  # pandas'
                                                  *_IMAGE_STRING_COLUMNS)}}  # own: no copy


def _typed_manifest(data: bytes) -> pd.DataFrame | None:
    """The fast path: a manifest as we write it, parsed by pyarrow; ``None`` if anything is off
    (the caller then parses it again to say what)."""
    try:
        table = pacsv.read_csv(pa.BufferReader(data), convert_options=pacsv.ConvertOptions(
            column_types=_TYPES, null_values=[""], strings_can_be_null=True,
            quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if not {"image_id", "label_file"} <= set(table.column_names) or \
            table.column("image_id").null_count or table.column("label_file").null_count:
        return None
    out = pd.DataFrame({"label_file": table.column("label_file").to_pandas(
        types_mapper=lambda t: pd.StringDtype()).str.replace("\\", "/", regex=False)})
    out["image_id"] = table.column("image_id").to_numpy()
    for name in ("width", "height"):
        out[name] = table.column(name).to_pandas(types_mapper=lambda t: pd.Int64Dtype()) \
            if name in table.column_names else pd.array([pd.NA] * len(out), dtype="Int64")
    for name in ("file_name", *_IMAGE_STRING_COLUMNS):
        if name in table.column_names:
            out[name] = table.column(name).to_pandas(types_mapper=lambda t: pd.StringDtype())
    if "file_name" not in out:
        out["file_name"] = pd.array([pd.NA] * len(out), dtype="string")
    if "tags" in table.column_names:
        try:
            out["tags"] = _tags_column(table.column("tags"), "?")
        except FormatError:
            return None
    return out


def _tags_column(values: object, where: str) -> np.ndarray:
    """Each row's tags as a list of str, parsing each distinct JSON text once; rows with the same
    text share its list, as a CSV read's do (no list per image to make, nor for Python's
    collector to scan). ``values``: the column's texts (nulls are no tags)."""
    if not isinstance(values, (pa.Array, pa.ChunkedArray)):  # a list: NaN and None are no tags
        values = pa.array([v if isinstance(v, str) else None for v in values], type=pa.string())
    uniques, codes = parse_distinct(values, _parse_tags)
    bad = [k for k, parsed in enumerate(uniques) if parsed is None]
    if bad:
        row = int(np.argmax(codes == bad[0]))
        text = values[row].as_py()
        raise FormatError(f"line {row + 2}: tags must be a JSON array, got {text[:60]!r}",
                          path=where, member=MANIFEST_NAME)
    return uniques[codes]


def manifest_positions(manifest: pd.DataFrame, members: list[str], *, where: str,
                       kind: str) -> np.ndarray:
    """For each manifest row, the position of its ``label_file`` in ``members`` (-1: not in the
    archive: an image without a label file). A member the manifest does not list is an error.

    >>> m = pd.DataFrame({"label_file": ["labels/b.txt", "labels/c.txt"]})
    >>> manifest_positions(m, ["labels/b.txt"], where="x.zip", kind="label").tolist()
    [0, -1]
    """
    listed = pa.array(manifest["label_file"].astype("string").array)
    listed = listed.combine_chunks() if isinstance(listed, pa.ChunkedArray) else listed
    present = pa.array(members, type=listed.type)
    row = pc.index_in(present, value_set=listed)  # each member's manifest row (listed is unique)
    if row.null_count:
        unlisted = row.is_null().to_numpy(zero_copy_only=False)
        raise FormatError(f"{int(unlisted.sum()):,} {kind} files are not in manifest.csv, e.g. "
                          f"{members[int(np.argmax(unlisted))]!r}", path=where, member=MANIFEST_NAME)
    positions = np.full(len(listed), -1, dtype=np.int64)
    positions[row.to_numpy()] = np.arange(len(members))
    return positions


def _parse_tags(value: str) -> list[str] | None:
    """A JSON array's items as str (``""`` is no tags); ``None`` if the text is no JSON array."""
    if value == "":
        return []
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return None
    return [str(v) for v in parsed] if isinstance(parsed, list) else None


_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def is_image(name: str) -> bool:
    """Whether a member name looks like an image file."""
    return name.lower().endswith(_IMAGE_EXTENSIONS)


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from an image's header (Pillow reads no pixels), ``None`` if unreadable."""
    try:
        from PIL import Image
        with Image.open(io.BytesIO(data)) as image:
            return int(image.size[0]), int(image.size[1])
    except Exception:  # noqa: BLE001 - any unreadable image just has no size
        return None


def assemble(images: pd.DataFrame, box_image: np.ndarray, boxes: dict[str, object],
             fmt: str, where: str, *, on_rows: dict[str, object] | None = None,
             layout: tuple[np.ndarray, np.ndarray] | None = None,
             image_columns: dict[str, Future] | None = None) -> pd.DataFrame:
    """The canonical frame from one row per image and the boxes (``box_image``: each box's image
    position). Rows follow the images' order; an image's boxes keep their order; an image
    without a box becomes one row with null box columns.

    ``images`` has ``image_id, file_name, width, height`` and any image-level extras; ``boxes``
    maps box columns (``category`` as a Categorical, ``category_id``, ``x, y, w, h``, ``score``,
    extras) to arrays of the boxes' length. Every column is built by one vectorized take or
    scatter (no Python object per row; the ``tags`` rows of an image share its list).
    ``on_rows`` holds box columns a reader already placed on the rows of ``layout``, which must
    be ``row_layout(box_image, len(images))`` (passed so that it is computed once), nulls on
    the image-only rows. ``image_columns``: the image columns already being repeated onto those
    rows (:func:`start_image_columns`), so that a reader overlaps them with its own work.

    >>> images = pd.DataFrame({"image_id": [1, 2], "file_name": ["a.jpg", "b.jpg"],
    ...                        "width": [4, 4], "height": [3, 3]})
    >>> frame = assemble(images, np.array([1, 1]), {"x": [0.0, 1.0]}, "yolo", "x.zip")
    >>> frame[["file_name", "x"]].to_dict("list")
    {'file_name': ['a.jpg', 'b.jpg', 'b.jpg'], 'x': [nan, 0.0, 1.0]}
    """
    box_image = np.asarray(box_image, dtype=np.int64)
    image_pos, box_row = layout if layout is not None else row_layout(box_image, len(images))
    on_rows = on_rows or {}
    n_rows = len(image_pos)
    with ThreadPoolExecutor(2) as pool:
        taken = image_columns if image_columns is not None else start_image_columns(
            images, image_pos, pool)
        out: dict[str, object] = {}
        for name, dtype in (("category", "category"), ("category_id", "Int64"),
                            ("x", "float64"), ("y", "float64"), ("w", "float64"),
                            ("h", "float64"), ("score", "float64"), ("difficult", "boolean"),
                            ("truncated", "boolean")):
            if name in on_rows:
                out[name] = on_rows[name]
            elif name in boxes or name in _ALWAYS:
                out[name] = _scatter(boxes.get(name), dtype, box_row, n_rows)
        out.update((name, future.result()) for name, future in taken.items())
    order = [name for name in _ORDER if name in out]
    frame = pd.DataFrame({name: out[name] for name in order}, copy=False)
    frame.attrs = {"format": fmt, "source": where}
    return frame


def start_image_columns(images: pd.DataFrame, image_pos: np.ndarray,
                        pool: ThreadPoolExecutor) -> dict[str, Future]:
    """Start putting the image table's columns on the frame's rows (``image_pos``: each row's
    image) in ``pool``, for :func:`assemble`. Every column is a take that runs without the GIL
    (Arrow's for text, numpy's for numbers) but the tags' (a list per row), so the caller's own
    work goes on beside them.

    >>> with ThreadPoolExecutor(1) as pool:
    ...     started = start_image_columns(pd.DataFrame({"image_id": [1, 2], "file_name": ["a", "b"]}),
    ...                                   np.array([0, 0, 1]), pool)
    ...     list(started["file_name"].result()), started["image_id"].result().tolist()
    (['a', 'a', 'b'], [1, 1, 2])
    """
    started = {name: pool.submit(_take_image_strings, images, name, image_pos)
               for name in _STRINGS if name in images or name in _ALWAYS}
    started["image_id"] = pool.submit(np.take, images["image_id"].to_numpy(dtype="int64"), image_pos)
    for name in ("width", "height"):
        started[name] = pool.submit(_take_ints, images, name, image_pos)
    if "tags" in images:  # each image's rows share its list
        started["tags"] = pool.submit(np.take, images["tags"].to_numpy(dtype=object), image_pos)
    return started


_STRINGS = ("dataset_id", "file_name", "description", "image_url", "item_id", "item_status")
_ALWAYS = ("dataset_id", "file_name", "category", "category_id", "x", "y", "w", "h", "score")
_ORDER = ("dataset_id", "image_id", "file_name", "width", "height", "category", "category_id", "x",
          "y", "w", "h", "score", "difficult", "truncated", "description", "image_url", "item_id",
          "item_status", "tags")


def row_layout(box_image: np.ndarray, n_images: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's image position, and each box's row (``max(boxes, 1)`` rows per image).

    >>> [a.tolist() for a in row_layout(np.array([1, 1, 2]), 3)]
    [[0, 1, 1, 2], [1, 2, 3]]
    """
    counts = np.bincount(box_image, minlength=n_images)
    per_image = np.maximum(counts, 1)
    row_start = np.concatenate([[0], np.cumsum(per_image)[:-1]]).astype(np.int64)
    box_start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    image_pos = np.repeat(np.arange(n_images, dtype=np.int64), per_image)
    in_order = len(box_image) < 2 or bool((box_image[1:] >= box_image[:-1]).all())
    order = None if in_order else np.argsort(box_image, kind="stable")
    ordered = box_image if order is None else box_image[order]
    rows = row_start[ordered] + np.arange(len(box_image), dtype=np.int64) - box_start[ordered]
    if order is None:
        return image_pos, rows
    box_row = np.empty_like(rows)
    box_row[order] = rows
    return image_pos, box_row


def file_row_layout(box_file: np.ndarray, image_of_file: np.ndarray,
                    n_images: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`row_layout` for boxes read file by file (``box_file``: each box's file, in
    non-decreasing order), each file holding one image's boxes (``image_of_file``: distinct
    image positions, -1 for a file of no image). A box's row is then its file's first row plus
    its place in the file: nothing is sorted, and no box-length temporary is made but one.

    >>> [a.tolist() for a in file_row_layout(np.array([0, 0, 1]), np.array([2, 0]), 3)]
    [[0, 1, 2, 2], [2, 3, 0]]
    """
    box_file = np.asarray(box_file, dtype=np.int64)
    image_of_file = np.asarray(image_of_file, dtype=np.int64)
    if (image_of_file < 0).any() or (len(box_file) > 1 and (box_file[1:] < box_file[:-1]).any()):
        return row_layout(image_of_file[box_file], n_images)
    per_file = np.bincount(box_file, minlength=len(image_of_file))
    per_image = np.zeros(n_images, dtype=np.int64)
    per_image[image_of_file] = per_file
    np.maximum(per_image, 1, out=per_image)
    row_start = np.cumsum(per_image) - per_image
    first_box = np.cumsum(per_file) - per_file
    box_row = np.arange(len(box_file), dtype=np.int64)
    box_row += (row_start[image_of_file] - first_box)[box_file]
    return np.repeat(np.arange(n_images, dtype=np.int64), per_image), box_row


def _take_ints(images: pd.DataFrame, name: str, image_pos: np.ndarray) -> pd.arrays.IntegerArray:
    """An Int64 image column on the rows (all null when ``images`` lacks it)."""
    if name not in images:
        return null_column("Int64", len(image_pos))
    column = images[name].astype("Int64").array  # per image: small, so these copies are cheap
    data, mask = column.to_numpy(dtype="int64", na_value=0), column.isna()
    return pd.arrays.IntegerArray(data[image_pos], mask[image_pos])


def _take_image_strings(images: pd.DataFrame, name: str,
                        image_pos: np.ndarray) -> pd.arrays.ArrowStringArray:
    return take_strings(_arrow_strings(images, name, len(images)), image_pos)


def _arrow_strings(images: pd.DataFrame, name: str, n: int) -> pa.Array:
    if name not in images:
        return pa.nulls(n, pa.large_string())
    strings = pa.array(images[name].astype("string").array)
    return strings.combine_chunks() if isinstance(strings, pa.ChunkedArray) else strings


def _scatter(values: object, dtype: str, box_row: np.ndarray, n_rows: int) -> object:
    """Box values placed on their rows, nulls on the image-only rows (``values=None``: all null)."""
    if values is None:
        return null_column(dtype, n_rows)
    if dtype == "category":
        cat = values if isinstance(values, pd.Categorical) else pd.Categorical(values)
        codes = np.full(n_rows, -1, dtype=cat.codes.dtype)
        codes[box_row] = cat.codes
        return pd.Categorical.from_codes(codes, dtype=cat.dtype)
    if dtype == "float64":
        out = np.full(n_rows, np.nan)
        out[box_row] = np.asarray(values, dtype="float64")
        return out
    data = np.zeros(n_rows, dtype=bool if dtype == "boolean" else np.int64)
    mask = np.ones(n_rows, dtype=bool)
    if isinstance(values, np.ndarray) and values.dtype.kind in "iub":  # no nulls: no mask to copy
        data[box_row] = values
        mask[box_row] = False
    else:
        arr = pd.array(values, dtype=dtype)
        data[box_row] = arr.to_numpy(dtype=data.dtype, na_value=0)
        mask[box_row] = arr.isna()
    if dtype == "boolean":
        return pd.arrays.BooleanArray(data, mask)
    return pd.arrays.IntegerArray(data, mask)
