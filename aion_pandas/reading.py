"""``aion.read_export``: any export into the canonical frame, a signed ``download_url`` included.

A URL is fetched by the client (retries, size check, resumable download) into its cache, then read
from there like any file: :mod:`aion_pandas.formats` itself knows no HTTP.

>>> import aion_pandas as aion
>>> frame = aion.read_export(export.download_url)          # doctest: +SKIP
>>> frame = aion.read_export("my_voc_dataset/")             # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd

from aion_pandas import formats

if TYPE_CHECKING:
    from aion_pandas.client import Client


def read_export(source: Any, format: str | None = None, *, client: "Client | None" = None,
                engine: str = "pandas", blocksize: int | None = None, npartitions: int | None = None,
                **options: Any) -> Any:
    """Read an export (a path to a file, zip or folder; bytes; a binary file; or an http(s)
    ``download_url``) into a canonical frame; see :func:`aion_pandas.formats.read_export`.

    A URL is downloaded with ``client`` (default: the client of ``aion.connect()``) into its
    cache, once: reading the same export again reads the cached file.

    ``engine="dask"`` returns a lazy Dask frame of one local file or folder split where the format
    allows (see :mod:`aion_pandas.export_parts`): a CSV into byte ranges of about ``blocksize``
    (cut between images, never inside a quoted value), a YOLO/VOC zip or folder into
    ``npartitions`` runs of images, a COCO JSON file as one partition; a signed URL is one
    partition fetched on the worker without a key. The workers must see a local path.

    >>> frame = read_export("https://example.org/exports/e1/dataset.json?signature=...")  # doctest: +SKIP
    >>> lazy = read_export("big.csv", engine="dask", blocksize=64 << 20)                 # doctest: +SKIP
    """
    if engine == "dask":
        from aion_pandas.dask_frames import from_parts
        from aion_pandas.export_parts import BLOCKSIZE, export_parts
        if not isinstance(source, (str, os.PathLike)):
            raise TypeError(f"engine='dask' reads a path or a URL, not {type(source).__name__}")
        categories = options.pop("categories", None)
        parts = export_parts(source, format, blocksize=blocksize or BLOCKSIZE, npartitions=npartitions,
                             options=options)
        return from_parts(parts, parts[0].format, categories=categories)
    if engine != "pandas":
        raise ValueError(f"engine must be 'pandas' or 'dask', got {engine!r}")
    if formats.is_url(source):
        path = download_export(str(source), client=client)
        try:
            frame = formats.read_export(path, format, **options)
        except formats.FormatError as exc:  # name the export, not the cache file (no signature)
            raise formats.FormatError(exc.reason, path=str(source).split("?", 1)[0],
                                      member=exc.member, line=exc.line) from None
        frame.attrs["source"] = str(source).split("?", 1)[0]  # the signature stays out
        return frame
    return formats.read_export(source, format, **options)


def download_export(url: str, *, client: "Client | None" = None,
                    on_progress: "Callable[[int, int | None], object] | None" = None) -> Path:
    """The local path of the export at ``url``, downloaded into the client's cache if not there
    (``on_progress(bytes, total)`` after each chunk; raising in it stops and removes the partial file).

    >>> download_export(export.download_url)       # doctest: +SKIP
    PosixPath('.../cache/downloads/3f2a.../dataset_550e8400.json')
    """
    from aion_pandas.client import resolve_client
    from aion_pandas.client.downloads import cache_path_for_url

    api = resolve_client(client)
    cached = cache_path_for_url(Path(api.cache_dir), url)
    return cached if cached.is_file() else api.download_url(url, on_progress=on_progress)
