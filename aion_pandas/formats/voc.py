"""Pascal VOC detection zips <-> the canonical annotation frame.

Pixel convention (default ``one_based=False``): corners are continuous pixel coordinates from the
top-left, ``xmin = x``, ``xmax = x + w``, as FiftyOne and supervision read them. ``one_based=True``
follows the VOC devkit (``xmin = x + 1``, ``xmax = x + w``, inclusive pixel indices).

Work in progress: the signatures are final, the bodies land next.
"""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pandas as pd

Source = str | Path | bytes | BinaryIO


def read_voc(source: Source, *, one_based: bool = False) -> pd.DataFrame:
    """Read a VOC zip (``Annotations/*.xml`` + ``manifest.csv``) into a canonical frame.

    >>> frame = read_voc("export.zip")  # doctest: +SKIP
    """
    raise NotImplementedError("read_voc is being written (B2)")


def write_voc(frame: pd.DataFrame, dest: str | Path | BinaryIO, *, one_based: bool = False) -> None:
    """Write a canonical frame as a VOC zip: one ``Annotations/<stem>.xml`` per image and ``manifest.csv``.

    >>> write_voc(frame, "export.zip")  # doctest: +SKIP
    """
    raise NotImplementedError("write_voc is being written (B2)")
