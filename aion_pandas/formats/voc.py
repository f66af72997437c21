"""Pascal VOC detection zips and folders <-> the canonical annotation frame.

Written (and read): ``Annotations/<stem>.xml`` per image (even with no box), ``classes.txt``
(every category) and ``manifest.csv``. Corners: by default pixel edges counted from 0, as FiftyOne
and supervision read them (``xmin = x``, ``xmax = x + w``, written as whole numbers, rounded half
up); ``one_based=True`` follows the devkit (``xmin = x + 1``, ``xmax = x + w``). VOC cannot carry
``score``, ``iscrowd`` nor an ``area`` other than ``w*h``: the writer warns with counts.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from aion_pandas.formats import _vectext as vt
from aion_pandas.errors import FormatError
from aion_pandas.formats._vocparse import ParsedDocuments, parse_documents
from aion_pandas.formats.manifest import (
    MANIFEST_NAME, ImageTable, assemble, files_used, image_extensions, image_of_file, image_sizes, is_image,
    manifest_images, member_stems, part_of, write_manifest)
from aion_pandas.formats.yolo_layout import split_of_path, text_of
from aion_pandas.formats._source import Dest, Source
from aion_pandas.formats.safety import Limits, SafeArchive, open_archive
from aion_pandas.formats._zipwrite import write_zip
from aion_pandas.formats.lossy import UnplacedAnnotationWarning
from aion_pandas.formats.schema import from_xyxy, validate_frame, warn_unsupported

_DROPPED = ("score", "iscrowd", "area")
CLASSES_NAME = "classes.txt"
_HEAD = ('<?xml version="1.0" encoding="utf-8"?>\n<annotation>\n  <folder>images</folder>\n'
         "  <filename>{}</filename>\n  <source>\n    <database>aion-pandas</database>\n  </source>\n"
         "  <size>\n    <width>{}</width>\n    <height>{}</height>\n    <depth>3</depth>\n  </size>\n"
         "  <segmented>0</segmented>\n")
_OBJECT = ("  <object>\n    <name>{}</name>\n    <pose>Unspecified</pose>\n    <truncated>{}</truncated>\n"
           "    <difficult>{}</difficult>\n    <bndbox>\n      <xmin>{}</xmin>\n      <ymin>{}</ymin>\n"
           "      <xmax>{}</xmax>\n      <ymax>{}</ymax>\n    </bndbox>\n  </object>\n")
_TAIL = "</annotation>\n"
_RUN = 8192  # images whose object text is built at once


def read_voc(source: Source, *, one_based: bool = False, limits: Limits | None = None,
             part: tuple[int, int] | None = None) -> pd.DataFrame:
    """Read a VOC zip or folder into a canonical frame.

    Annotation files are the ``.xml`` files; ``manifest.csv``, when there, gives image ids, file names
    and the other image columns, else images are numbered in file order and named by
    ``<filename>``; a devkit's ``ImageSets/Main/{train,val,test}.txt`` (or folders so named) give
    ``split``. ``one_based``: see the module doc. XML with a DOCTYPE or ENTITY declaration is
    refused. ``part=(k, n)``: only the k-th of n runs of images.

    >>> import io; buf = io.BytesIO()
    >>> write_voc(pd.DataFrame({"file_name": ["a.jpg"], "width": [100], "height": [50],
    ...     "category": ["cat"], "x": [10.0], "y": [5.0], "w": [20.0], "h": [10.0]}), buf)
    >>> read_voc(buf.getvalue())[["file_name", "category", "x", "y", "w", "h"]].to_dict("records")
    [{'file_name': 'a.jpg', 'category': 'cat', 'x': 10.0, 'y': 5.0, 'w': 20.0, 'h': 10.0}]
    """
    with open_archive(source, limits=limits) as archive:
        members = archive.names_ending(".xml")
        if not members:
            raise FormatError("no Pascal VOC annotation files (.xml) found among "
                              f"{len(archive.names):,} files", path=archive.where)
        images, names = files_used(part_of(_plan(archive, members), part), members)
        parsed = parse_documents(list(archive.read_many(names)), names, archive.where)
        images = _fill(images, parsed, archive)
        category = _category(archive, parsed)
    obj = parsed.objects
    if not len(obj["name"]) and MANIFEST_NAME not in archive and part is None:
        raise FormatError(f"the {len(members):,} annotation files hold no object with a box",
                          path=archive.where)
    if parsed.skipped:
        counts = ", ".join(f"{n:,} {kind}" for kind, n in parsed.skipped.items())
        warnings.warn(f"{archive.where}: the frame has no place for {counts}: left out",
                      UnplacedAnnotationWarning, stacklevel=2)
    xyxy = np.column_stack([obj["xmin"], obj["ymin"], obj["xmax"], obj["ymax"]])
    if one_based:
        xyxy[:, 0:2] -= 1
    boxes_xywh = from_xyxy(xyxy)
    for bad, reason in ((~np.isfinite(xyxy).all(axis=1), "a corner is not a finite number"),
                        ((boxes_xywh[:, 2] < 0) | (boxes_xywh[:, 3] < 0), "xmax/ymax lie before xmin/ymin")):
        if bad.any():
            i = int(np.argmax(bad))
            raise FormatError(f"object {int(obj['index'][i]) + 1}: {reason}", path=archive.where,
                              member=names[int(obj["doc"][i])])
    image_of_doc = image_of_file(images.pop("file_pos").to_numpy(), len(names))
    boxes = {"category": category,  # no category_id
             "x": boxes_xywh[:, 0], "y": boxes_xywh[:, 1], "w": boxes_xywh[:, 2], "h": boxes_xywh[:, 3],
             **{flag: pd.arrays.BooleanArray(obj[flag] > 0, np.isnan(obj[flag]))  # NaN: absent
                for flag in ("difficult", "truncated")}}
    return assemble(images, image_of_doc[obj["doc"]], boxes, "pascal_voc", archive.where)


def _category(archive: SafeArchive, parsed: ParsedDocuments) -> pd.Categorical:
    """The objects' names, their categories those of ``classes.txt`` first (ours list every category,
    with or without boxes), then the other names found, sorted."""
    lines = text_of(archive, CLASSES_NAME).splitlines() if CLASSES_NAME in archive else []
    classes = list(dict.fromkeys(line.strip() for line in lines if line.strip()))
    names = parsed.objects["name"]
    found = [str(c) for c in names.categories] + parsed.boxless_names
    categories = classes + sorted(set(found) - set(classes))
    return names.set_categories(pd.Index(categories, dtype="str"))


def _plan(archive: SafeArchive, members: list[str]) -> pd.DataFrame:
    """One row per image before any document is parsed (``file_pos``: its annotation file in
    ``members``): the manifest's rows, else one per file, its split by the devkit's
    ``ImageSets/Main/*.txt`` beside its ``Annotations/`` (only in ``trainval``: none), else by its
    folders (:func:`_fill` drops a split no image has)."""
    manifest = manifest_images(archive, members, "annotation")
    if manifest is not None:
        return manifest
    lists: dict[tuple[str, str], str] = {}  # (root, stem) -> split
    for name in archive.names:
        head, found, file = name.rpartition("ImageSets/Main/")
        if found and file in ("train.txt", "val.txt", "test.txt", "trainval.txt"):
            for words in map(str.split, text_of(archive, name).splitlines()):
                if words and lists.get((head, words[0])) in (None, "trainval"):
                    lists[(head, words[0])] = file[:-4]
    pictures = _pictures(archive, members)
    taken, stems = set(pictures), {_image_key(m)[1] for m in members}
    alone = [n for n in archive.names if is_image(n) and n not in taken and _image_key(n)[1] not in stems]
    splits = []
    for member in members + alone:  # the images no document annotates are rows too
        head, found, file = member.rpartition("Annotations/")
        split = lists.get((head, file.rsplit(".", 1)[0])) if found else None
        splits.append(None if split == "trainval" else split or split_of_path(member))
    return pd.DataFrame({"image_id": np.arange(1, len(splits) + 1, dtype="int64"),
                         "file_pos": np.r_[np.arange(len(members)), np.full(len(alone), -1)].astype("int64"),
                         "picture": pictures + alone,
                         "split": pd.array(splits, dtype="string")})


def _pictures(archive: SafeArchive, members: list[str]) -> list[str | None]:
    """Each annotation file's image: the one of :func:`_image_key`, else the one image of its stem."""
    keyed, by_stem = {}, {}
    for name in filter(is_image, archive.names):
        keyed[_image_key(name)] = name
        by_stem.setdefault(_image_key(name)[1], []).append(name)
    return [keyed.get(key) or (found[0] if len(found := by_stem.get(key[1], [])) == 1 else None)
            for key in map(_image_key, members)]


def _image_key(member: str) -> tuple[str, str]:
    """An annotation file's or image's folder (an ``Annotations/`` or ``JPEGImages/`` one as its parent) and
    stem: ``VOC2007/Annotations/a.xml`` annotates ``VOC2007/JPEGImages/a.jpg``, ``x/a.xml`` ``x/a.png``."""
    folder, _, file = member.rpartition("/")
    return re.sub(r"(^|/)(?:Annotations|JPEGImages)$", "", folder), file.rsplit(".", 1)[0]


def _fill(images: pd.DataFrame, parsed: ParsedDocuments, archive: SafeArchive) -> pd.DataFrame:
    """The image columns the parsed documents give: sizes a manifest lacks (else the image's header), and
    without one the file names (``<filename>``, else the annotation file's stem; an image alone: its name)."""
    docs, where = parsed.documents, archive.where
    at = images["file_pos"].to_numpy()  # each image's parsed document (-1: none)
    for name in ("width", "height"):
        values = np.asarray(docs[name], dtype="float64")
        if np.isinf(values).any():
            raise FormatError(f"size/{name} is not a finite number", path=where,
                              member=parsed.members[int(np.argmax(np.isinf(values)))])
        from_xml = pd.array(np.append(values, np.nan)[at], dtype="Float64").round().astype("Int64")
        images[name] = images[name].fillna(pd.Series(from_xml, index=images.index)) \
            if name in images else from_xml
    pictures = images.pop("picture") if "picture" in images else pd.Series(None, index=images.index)
    unsized = pictures[(images["width"].isna() | images["height"].isna()) & pictures.notna()]
    sizes = image_sizes(archive, unsized.tolist())
    images[["width", "height"]] = images[["width", "height"]].fillna(pd.DataFrame(
        [sizes.get(p, (None, None)) for p in unsized], index=unsized.index, columns=["width", "height"], dtype="Int64"))
    if "file_name" not in images:
        names = [f or member.rsplit("/", 1)[-1].rsplit(".", 1)[0]
                 for f, member in zip(docs["filename"], parsed.members)]
        images.insert(1, "file_name", pd.array([names[i] if i >= 0 else picture.rsplit("/", 1)[-1]
                                                for i, picture in zip(at.tolist(), pictures)], dtype="string"))
    if "split" in images and images["split"].isna().all():
        images = images.drop(columns="split")
    return images


def write_voc(frame: pd.DataFrame, dest: Dest, *, one_based: bool = False) -> None:
    """Write a canonical frame as a VOC zip (a ``.zip`` path or a binary file) or folder (any other
    path): ``Annotations/<stem>.xml`` per image, ``classes.txt`` and ``manifest.csv``.

    >>> frame = pd.DataFrame({"file_name": ["a.jpg"], "width": [100], "height": [50],
    ...     "category": ["cat"], "x": [10.0], "y": [5.0], "w": [20.0], "h": [10.0]})
    >>> import io, zipfile; buf = io.BytesIO(); write_voc(frame, buf)
    >>> b"<xmin>10</xmin>" in zipfile.ZipFile(buf).read("Annotations/a.xml")
    True
    """
    frame = validate_frame(frame, where=str(dest) if isinstance(dest, (str, Path)) else None)
    warn_unsupported(frame, "pascal_voc", [c for c in _DROPPED if c in frame.columns])
    table = ImageTable(frame)
    stems = member_stems(table.images["file_name"], table.images["image_id"].to_numpy())
    label_files = np.array(["Annotations/" + s + ".xml" for s in stems], dtype=object)
    basenames = pd.Series(stems, dtype="string").str.rsplit("/", n=1).str[-1]
    extensions = image_extensions(table.images["file_name"]).to_numpy()
    filenames = vt.xml_escape_array(pa.array(basenames + extensions, type=pa.string()))
    sizes = [pc.fill_null(vt.fixed(table.images[c].to_numpy(dtype="float64", na_value=np.nan), 0), "")
             for c in ("width", "height")]
    heads = _filled_in(_HEAD, filenames, *sizes)
    manifest = write_manifest(table.images, label_files)
    classes = "".join(str(c).replace("\n", " ") + "\n" for c in frame["category"].cat.categories)
    write_zip(dest, chain([(MANIFEST_NAME, manifest), (CLASSES_NAME, classes)],
                          zip(label_files.tolist(), _documents(frame, table, heads, one_based))))


def _documents(frame: pd.DataFrame, table: ImageTable, heads: pa.Array,
               one_based: bool) -> Iterator[memoryview]:
    """Each image's XML: its head, its objects, the closing tag. The text is built for ``_RUN``
    images at a time, so only a run's text is held while the zip is written."""
    rows = table.box_rows
    boxes = frame[["x", "y", "w", "h"]].to_numpy(dtype="float64", na_value=np.nan)[rows]
    corners = np.floor(np.column_stack([boxes[:, 0], boxes[:, 1], boxes[:, 0] + boxes[:, 2],
                                        boxes[:, 1] + boxes[:, 3]]) + 0.5)
    del boxes
    if one_based:
        corners[:, :2] += 1
    names = vt.xml_escape_array(pa.array([str(c) for c in frame["category"].cat.categories], type=pa.string()))
    codes = frame["category"].cat.codes.to_numpy()[rows]
    flags = [frame[c].to_numpy(dtype="float64", na_value=0.0)[rows] > 0 if c in frame.columns
             else np.zeros(len(rows), dtype=bool) for c in ("truncated", "difficult")]
    offsets = table.offsets
    for first in range(0, len(heads), _RUN):
        last = min(first + _RUN, len(heads))
        lo, hi = int(offsets[first]), int(offsets[last])
        objects = _filled_in(_OBJECT, names.take(pa.array(codes[lo:hi])),
                             *(pc.if_else(pa.array(f[lo:hi]), "1", "0") for f in flags),
                             *(vt.fixed(corners[lo:hi, j], 0) for j in range(4)))
        bodies = vt.per_group(objects, offsets[first:last + 1] - lo, terminator="")
        yield from vt.views(vt.join(heads.slice(first, last - first), bodies, _TAIL))


def _filled_in(template: str, *fields: pa.Array) -> pa.Array:
    """The ``template`` with its ``{}`` filled in by the ``fields``, element-wise."""
    pieces = template.split("{}")
    return vt.join(*chain.from_iterable(zip(pieces, fields)), pieces[-1])
