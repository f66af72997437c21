"""Export files (CSV, COCO, YOLO, Pascal VOC) <-> one canonical annotation frame.

``read_export`` sniffs the format (JSON with ``images``/``annotations`` -> COCO; a zip with ``labels/``
or ``data.yaml`` -> YOLO; a zip with ``Annotations/`` -> Pascal VOC; otherwise CSV) and also takes an
export's signed ``download_url``; ``write_export`` writes any format from the same frame, so a
conversion is one line. The format modules load on first use.

>>> frame = read_export("dataset.json")                       # doctest: +SKIP
>>> write_export(frame, "dataset_yolo.zip", "yolo")            # doctest: +SKIP
"""
from __future__ import annotations

import importlib
import os
import zipfile
from typing import Any, Callable

import pandas as pd

from aion_pandas.errors import FormatError
from aion_pandas.formats._source import Dest, Source, read_source, source_name
from aion_pandas.formats.schema import (BOX_COLUMNS, CORE_COLUMNS, EXTRA_COLUMNS, FORMATS,
                                        LossyConversionWarning, empty_frame, from_cxcywh_norm,
                                        from_xyxy, to_cxcywh_norm, to_xyxy, unsupported_counts,
                                        validate_frame, warn_unsupported)

#: format name (and aliases) -> module under aion_pandas.formats
_MODULES: dict[str, str] = {"coco": "coco", "csv": "csv", "yolo": "yolo", "pascal_voc": "voc",
                            "voc": "voc"}

# reader/writer name -> module (imported on first use so a missing optional part never breaks import)
_LAZY: dict[str, str] = {
    "read_coco": "coco", "write_coco": "coco", "parse_coco": "coco", "serialize_coco": "coco",
    "read_csv": "csv", "write_csv": "csv", "parse_csv": "csv", "serialize_csv": "csv",
    "read_yolo": "yolo", "write_yolo": "yolo",
    "read_voc": "voc", "write_voc": "voc",
}

__all__ = [
    "read_export", "write_export", "sniff_format", "validate_frame", "empty_frame", "to_xyxy",
    "from_xyxy", "to_cxcywh_norm", "from_cxcywh_norm", "warn_unsupported", "unsupported_counts",
    "LossyConversionWarning", "CORE_COLUMNS", "EXTRA_COLUMNS", "BOX_COLUMNS", "FORMATS", *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aion_pandas.formats' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"aion_pandas.formats.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def _format_module(fmt: str) -> Any:
    key = fmt.lower().replace("-", "_")
    if key not in _MODULES:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return importlib.import_module(f"aion_pandas.formats.{_MODULES[key]}"), \
        ("pascal_voc" if key == "voc" else key)


def _is_url(source: Any) -> bool:
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def _fetch(url: str, timeout: float) -> bytes:
    import urllib.request  # here, not at import: ~13 ms, and only URLs need it
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout) as resp:
            return resp.read()
    except OSError as exc:  # urllib.error.URLError / HTTPError are OSErrors
        reason = getattr(exc, "code", None) or getattr(exc, "reason", None) or exc
        shown = url.split("?", 1)[0]  # the signature stays out of messages
        raise FormatError(f"could not download the export ({reason})", path=shown) from None


def _is_zip_file(path: Any) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    except OSError:
        return False  # read_source names the problem


def _sniff_zip(archive: Any) -> str:
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n.replace("\\", "/") for n in zf.namelist()]
    except zipfile.BadZipFile as exc:
        raise FormatError(f"not a readable zip: {exc}", path=_path_of(archive)) from None
    parts = [n.split("/") for n in names]
    if any("Annotations" in p[:-1] for p in parts):
        return "pascal_voc"
    if any("labels" in p[:-1] or p[-1] in ("data.yaml", "classes.txt") for p in parts):
        return "yolo"
    raise FormatError("a zip without labels/, data.yaml or Annotations/: not a YOLO or VOC export",
                      path=_path_of(archive))


def _path_of(archive: Any) -> str | None:
    return source_name(archive) if isinstance(archive, (str, os.PathLike)) else None


def sniff_format(data: bytes) -> str:
    """The format of an export's bytes: ``coco``, ``yolo``, ``pascal_voc`` or ``csv``.

    >>> sniff_format(b' {"images": [], "annotations": []}'), sniff_format(b"file_name,x\\n")
    ('coco', 'csv')
    """
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return "coco"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        import io

        return _sniff_zip(io.BytesIO(data))
    return "csv"


def read_export(source: Source | str, format: str | None = None, *, timeout: float = 300,
                **options: Any) -> pd.DataFrame:
    """Read any export (path, bytes, binary file, or an http(s) ``download_url``) into a canonical frame.

    The format is sniffed when not given; ``options`` go to the format's reader (e.g. ``delimiter``
    for CSV). ``frame.attrs`` records ``format`` and ``source``.

    >>> frame = read_export(b'{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": []}')
    >>> frame.attrs["format"], len(frame)
    ('coco', 1)
    """
    if _is_url(source):
        name = str(source).split("?", 1)[0]
        data = _fetch(str(source), timeout)
    elif isinstance(source, (str, os.PathLike)) and (format is not None or _is_zip_file(source)):
        data, name = source, source_name(source)  # the reader opens the file (zips stream)
        format = format or _sniff_zip(source)
    else:
        data, name = read_source(source)
    try:
        fmt = format or sniff_format(data)  # type: ignore[arg-type]
        module, fmt = _format_module(fmt)
        reader: Callable[..., pd.DataFrame] = getattr(module, f"read_{_MODULES[fmt]}")
        frame = reader(data, **options)
    except FormatError as exc:
        if exc.path in (None, "<bytes>"):
            raise FormatError(exc.reason, path=name, member=exc.member, line=exc.line) from None
        raise
    frame.attrs.update({"format": fmt, "source": name})
    return frame


def write_export(frame: pd.DataFrame, dest: Dest, format: str, **options: Any) -> None:
    """Write a canonical frame as ``format`` (``csv``, ``coco``, ``yolo``, ``pascal_voc``) to ``dest``.

    Whatever the target cannot carry (scores in VOC, crowd flags in YOLO, ...) is reported as one
    :class:`LossyConversionWarning` with counts.

    >>> write_export(read_export("instances.json"), "labels.zip", "yolo")  # doctest: +SKIP
    """
    module, fmt = _format_module(format)
    writer: Callable[..., None] = getattr(module, f"write_{_MODULES[fmt]}")
    writer(frame, dest, **options)
