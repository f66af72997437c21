"""YOLO (YOLOv5 / Ultralytics) detection zips <-> the canonical annotation frame.

Work in progress: the signatures are final, the bodies land next.
"""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pandas as pd

Source = str | Path | bytes | BinaryIO


def read_yolo(source: Source, *, class_names: list[str] | None = None) -> pd.DataFrame:
    """Read a YOLO zip (``labels/*.txt`` + ``data.yaml``/``classes.txt`` + ``manifest.csv``) into a frame.

    >>> frame = read_yolo("export.zip")  # doctest: +SKIP
    """
    raise NotImplementedError("read_yolo is being written (B2)")


def write_yolo(frame: pd.DataFrame, dest: str | Path | BinaryIO) -> None:
    """Write a canonical frame as a YOLO zip: one ``labels/<stem>.txt`` per image, ``data.yaml``,
    ``classes.txt`` and ``manifest.csv``.

    >>> write_yolo(frame, "export.zip")  # doctest: +SKIP
    """
    raise NotImplementedError("write_yolo is being written (B2)")
