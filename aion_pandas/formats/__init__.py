"""Export files (CSV, COCO, YOLO, Pascal VOC) <-> one canonical annotation frame.

``read_export`` takes a file, a zip or a folder and sniffs the format; ``write_export`` writes any
format from the same frame. The format modules load on first use; this package knows no HTTP
(``aion_pandas.read_export`` downloads a URL with the client first).

>>> frame = read_export("dataset.json")                       # doctest: +SKIP
>>> write_export(frame, "dataset_yolo.zip", "yolo")            # doctest: +SKIP
"""
from __future__ import annotations

import importlib
import os
from typing import Any

import pandas as pd

from aion_pandas.errors import FormatError
from aion_pandas.formats._source import ZIP_MAGIC, Dest, Source, is_container, read_source, source_name
from aion_pandas.formats.manifest import is_image
from aion_pandas.formats.safety import SafeArchive, open_archive
from aion_pandas.formats.schema import (BOX_COLUMNS, CORE_COLUMNS, EXTRA_COLUMNS, FORMATS,
                                        LossyConversionWarning, empty_frame, from_cxcywh_norm,
                                        from_xyxy, to_cxcywh_norm, to_xyxy, unsupported_counts,
                                        validate_frame, warn_unsupported)

# reader/writer name -> its module, imported on first use: a package that imported the format
# modules itself would deadlock threads that import them at once (the service's exporter does)
_LAZY = {f"{verb}_{fmt}": fmt for fmt in ("coco", "csv", "yolo", "voc") for verb in ("read", "write")}
_LAZY.update(parse_coco="coco", serialize_coco="coco", parse_csv="csv", serialize_csv="csv")

__all__ = [
    "read_export", "write_export", "sniff_format", "sniff_names", "sniff_path", "is_url",
    "validate_frame", "empty_frame", "to_xyxy",
    "from_xyxy", "to_cxcywh_norm", "from_cxcywh_norm", "warn_unsupported", "unsupported_counts",
    "LossyConversionWarning", "CORE_COLUMNS", "EXTRA_COLUMNS", "BOX_COLUMNS", "FORMATS", *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'aion_pandas.formats' has no attribute {name!r}")
    value = globals()[name] = getattr(importlib.import_module(f"aion_pandas.formats.{_LAZY[name]}"), name)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def _format_function(fmt: str, verb: str) -> tuple[Any, str]:
    """The reader or writer (``verb``) of a format (``voc``: ``pascal_voc``), and its name."""
    key = fmt.lower().replace("-", "_").replace("pascal_voc", "voc")
    if key not in ("csv", "coco", "yolo", "voc"):
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return __getattr__(f"{verb}_{key}"), "pascal_voc" if key == "voc" else key


def is_url(source: Any) -> bool:
    """Whether ``source`` is an http(s) URL (which :func:`aion_pandas.read_export` downloads)."""
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def sniff_format(data: bytes) -> str:
    """The format of an export's bytes: ``coco``, ``yolo``, ``pascal_voc`` or ``csv``.

    >>> sniff_format(b' {"images": [], "annotations": []}'), sniff_format(b"file_name,x\\n")
    ('coco', 'csv')
    """
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):  # "[": a COCO results file, which read_coco names
        return "coco"
    if data.startswith(ZIP_MAGIC):
        with open_archive(data) as archive:
            return sniff_names(archive.names, where="<bytes>")
    return "csv"


def read_export(source: Source | str, format: str | None = None, **options: Any) -> pd.DataFrame:
    """Read any export (a file, a zip, a folder, bytes or a binary file) into a canonical frame.

    ``format`` (``csv``, ``coco``, ``yolo``, ``pascal_voc``) is sniffed when not given: by the names
    inside a zip or folder (:func:`sniff_names`), else by the first bytes. ``options`` go to the
    format's reader. Raises :class:`FormatError` naming the file (and member, line) of a problem.

    >>> frame = read_export(b'{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": []}')
    >>> frame.attrs["format"], len(frame)
    ('coco', 1)
    """
    if is_url(source):
        raise FormatError("a URL: read it with aion_pandas.read_export, which downloads it with "
                          "the client", path=str(source).split("?", 1)[0])
    is_path = isinstance(source, (str, os.PathLike))
    data, name = (source, source_name(source)) if is_path else read_source(source)
    try:
        if format is None and is_path:
            format, archive = _sniff(source, options.get("limits"))
            if archive is not None and format != "csv":
                data = archive  # sniffed by its names, then read: the zip or folder is opened once
            elif archive is not None:  # the CSV reader reads one file: the zip's or folder's one CSV
                with archive:
                    csvs = sorted(set(archive.names_ending(".csv")) - set(archive.named("manifest.csv")))
                    if len(csvs) != 1:
                        raise FormatError(f"{len(csvs)} CSV files, not one: {csvs[:3]}", path=archive.where)
                    data, name = archive.read(csvs[0]), f"{name}: {csvs[0]}"
        read, fmt = _format_function(format or sniff_format(data), "read")
        frame = read(data, **options)
    except FormatError as exc:
        if exc.path in (None, "<bytes>"):
            raise FormatError(exc.reason, path=name, member=exc.member, line=exc.line) from None
        raise
    finally:
        if isinstance(data, SafeArchive):
            data.close()
    frame.attrs.update({"format": fmt, "source": name})
    return frame


def sniff_path(path: str | os.PathLike) -> str:
    """The format of a file, zip or folder, as :func:`read_export` sniffs it.

    >>> sniff_path("dataset.json")   # doctest: +SKIP
    'coco'
    """
    format, archive = _sniff(path, None)
    if archive is not None:
        archive.close()
    return format


def _sniff(path: str | os.PathLike, limits: Any) -> tuple[str, SafeArchive | None]:
    """The format of a file, zip or folder, and the zip or folder opened to sniff it by names."""
    if not os.path.exists(path):
        raise FormatError("no such file or folder", path=source_name(path))
    if not is_container(path):
        if str(path).lower().endswith(_PART_OF_A_DATASET):  # data.yaml, a.xml, labels/a.txt: one part of many
            raise FormatError("one file of a dataset: pass the folder that holds it, "
                              f"aion.read_export({os.path.dirname(os.path.abspath(path))!r})", path=source_name(path))
        with open(path, "rb") as fh:
            return sniff_format(fh.read(4096)), None
    archive = open_archive(path, limits=limits)
    try:
        return sniff_names(archive.names, where=archive.where), archive
    except BaseException:
        archive.close()
        raise


_PART_OF_A_DATASET = (".yaml", ".yml", ".xml", ".txt", ".names", ".data")
_YOLO_FILES = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml", "obj.data", "obj.names")


def sniff_names(names: list[str], *, where: str | None = None) -> str:
    """The format of a zip's or folder's names: VOC with ``.xml`` files; YOLO with label ``.txt`` files
    (beside a ``data.yaml``, ``obj.names``, ``classes.txt``, under ``labels/`` or named like an image); COCO
    with ``.json``; CSV with ``.csv`` (``manifest.csv`` aside); else a FormatError saying what was found.

    >>> sniff_names(["obj.names", "Annotations/a.txt"]), sniff_names(["Annotations/a.xml", "classes.txt"])
    ('yolo', 'pascal_voc')
    """
    lower = [n.lower() for n in names]
    if any(n.endswith(".xml") for n in lower):
        return "pascal_voc"
    if any(n.rsplit("/", 1)[-1] in _YOLO_FILES for n in lower if n.endswith(_YOLO_FILES)):
        return "yolo"
    texts = [n for n in lower if n.endswith(".txt") and n.rsplit("/", 1)[-1] != "classes.txt"]
    if texts:
        images = {n.rsplit(".", 1)[0] for n in lower if is_image(n)}
        if any(n.rsplit("/", 1)[-1] == "classes.txt" for n in lower if n.endswith("classes.txt")) \
                or any(n.startswith("labels/") or "/labels/" in n or n[:-4] in images for n in texts):
            return "yolo"
    if any(n.endswith(".json") for n in lower):
        return "coco"
    if any(n.endswith(".csv") and n.rsplit("/", 1)[-1] != "manifest.csv" for n in lower):
        return "csv"
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5:,} more" if len(names) > 5 else "")
    raise FormatError("no YOLO label files, VOC .xml, COCO .json or CSV files found "
                      f"(found: {shown or 'nothing'})", path=where)


def write_export(frame: pd.DataFrame, dest: Dest, format: str, **options: Any) -> None:
    """Write a canonical frame as ``format`` (``csv``, ``coco``, ``yolo``, ``pascal_voc``) to ``dest``.

    ``options`` go to the format's writer. What the target cannot carry is reported as one
    :class:`LossyConversionWarning` with counts.

    >>> write_export(read_export("instances.json"), "labels.zip", "yolo")  # doctest: +SKIP
    """
    _format_function(format, "write")[0](frame, dest, **options)
