"""``aion.read_export``: any export into the canonical frame, a signed ``download_url`` included.

A URL is fetched by the client (retries, size check, resumable download) into its cache, then read
from there like any file: :mod:`aion_pandas.formats` itself knows no HTTP.

>>> import aion_pandas as aion
>>> frame = aion.read_export(export.download_url)          # doctest: +SKIP
>>> frame = aion.read_export("my_voc_dataset/")             # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pandas as pd

from aion_pandas import formats

if TYPE_CHECKING:
    from aion_pandas.client import Client


def read_export(source: Any, format: str | None = None, *, client: "Client | None" = None,
                **options: Any) -> pd.DataFrame:
    """Read an export (a path to a file, zip or folder; bytes; a binary file; or an http(s)
    ``download_url``) into a canonical frame; see :func:`aion_pandas.formats.read_export`.

    A URL is downloaded with ``client`` (default: the client of ``aion.connect()``) into its
    cache, once: reading the same export again reads the cached file.

    >>> frame = read_export("https://example.org/exports/e1/dataset.json?signature=...")  # doctest: +SKIP
    """
    if formats.is_url(source):
        path = download_export(str(source), client=client)
        frame = formats.read_export(path, format, **options)
        frame.attrs["source"] = str(source).split("?", 1)[0]  # the signature stays out
        return frame
    return formats.read_export(source, format, **options)


def download_export(url: str, *, client: "Client | None" = None) -> Path:
    """The local path of the export at ``url``, downloaded into the client's cache if not there.

    >>> download_export(export.download_url)       # doctest: +SKIP
    PosixPath('.../cache/downloads/3f2a.../dataset_550e8400.json')
    """
    from aion_pandas.client import resolve_client

    api = resolve_client(client)
    parts = urlsplit(url)
    key = hashlib.sha1(f"{parts.netloc}{parts.path}".encode()).hexdigest()[:20]
    name = os.path.basename(unquote(parts.path).replace("\\", "/"))
    name = name if name not in ("", ".", "..") else "export"
    dest = Path(api.cache_dir) / "downloads" / key / name
    if dest.is_file():
        return dest
    return api.download_file(url, dest, progress=False)
