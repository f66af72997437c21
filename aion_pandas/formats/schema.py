"""The canonical annotation frame: what every reader returns and every writer accepts.

One row per box; an image with no box is one row whose box columns are null, so no image is lost.
Boxes are absolute pixels from the top-left corner: ``x, y, w, h`` (float64).

>>> frame = empty_frame()
>>> list(frame.columns[:6])
['dataset_id', 'image_id', 'file_name', 'width', 'height', 'category']

Core columns (always present, in this order, with these dtypes):

============  ==========  ==============================================================
column        dtype       meaning
============  ==========  ==============================================================
dataset_id    string      the service's dataset id, ``<NA>`` for files from elsewhere
image_id      int64       the image's id: COCO ``images[].id``; the manifest's id in our
                          YOLO/VOC/CSV exports; else 1-based in sorted file-name order
file_name     string      the image's file name as the export names it (``/`` separators)
width         Int64       image width in pixels (``<NA>`` when the file does not say)
height        Int64       image height in pixels
category      category    the box's class name (``NaN`` on an image-only row)
category_id   Int64       the class id as in the file (COCO ids; YOLO 0-based indices)
x, y, w, h    float64     the box in pixels, top-left origin (``NaN`` on an image-only row)
score         float64     detection confidence (``NaN`` when the format has none)
============  ==========  ==============================================================

Extras (present when the format carries them; writers keep what their format can):
``iscrowd`` (boolean), ``area`` (float64), ``difficult`` (boolean), ``truncated`` (boolean),
``description`` (string), ``tags`` (object: a list of str per row), ``image_url`` (string, where
the pixels can be fetched), ``item_id`` (string, the batch item), ``item_status`` (string,
``completed`` or ``failed``).

``frame.attrs`` holds ``{"format": "coco", "source": "<path or url>"}`` after a read.
"""
from __future__ import annotations

import pandas as pd

CORE_COLUMNS: dict[str, str] = {
    "dataset_id": "string",
    "image_id": "int64",
    "file_name": "string",
    "width": "Int64",
    "height": "Int64",
    "category": "category",
    "category_id": "Int64",
    "x": "float64",
    "y": "float64",
    "w": "float64",
    "h": "float64",
    "score": "float64",
}

EXTRA_COLUMNS: dict[str, str] = {
    "iscrowd": "boolean",
    "area": "float64",
    "difficult": "boolean",
    "truncated": "boolean",
    "description": "string",
    "tags": "object",
    "image_url": "string",
    "item_id": "string",
    "item_status": "string",
}

BOX_COLUMNS: tuple[str, ...] = ("x", "y", "w", "h")


def empty_frame(extras: tuple[str, ...] = ()) -> pd.DataFrame:
    """A canonical frame with no rows, the core columns and the named extras, with their dtypes.

    >>> empty_frame(("iscrowd",)).dtypes["iscrowd"]
    BooleanDtype
    """
    columns = {**CORE_COLUMNS, **{name: EXTRA_COLUMNS[name] for name in extras}}
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})
