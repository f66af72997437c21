"""Small canonical frames made by code, and comparisons, shared by the format tests.

``sample_frame`` has what users trip on: category ids that are not contiguous and start at 0, a
category without boxes, an image without boxes, a crowd box, scores, unicode and nested file names,
and every per-image extra our exports carry.
"""
from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from aion_pandas.formats.lossy import LossyConversionWarning
from aion_pandas.formats.schema import categorical, validate_frame


def make_frame(*, with_scores: bool = True) -> pd.DataFrame:
    names = ["cat", "chien", "自転車", "root"]           # 'root' has no box
    ids = {"cat": 0, "chien": 7, "自転車": 42, "root": 99}
    rows = [
        # image_id, file_name, width, height, category, x, y, w, h, score, iscrowd
        (1, "train/été/a.jpg", 640, 480, "cat", 10.5, 20.25, 100.0, 50.0, 0.91, False),
        (1, "train/été/a.jpg", 640, 480, "自転車", 0.0, 0.0, 640.0, 480.0, 0.5, True),
        (2, "val/b 2.png", 320, 200, None, None, None, None, None, None, None),
        (3, "測試/c.jpg", 1000, 750, "chien", 333.33, 250.0, 66.67, 125.5, 0.25, False),
        (3, "測試/c.jpg", 1000, 750, "chien", 1.0, 2.0, 3.0, 4.0, 0.75, False),
        (3, "測試/c.jpg", 1000, 750, "cat", 900.0, 700.0, 100.0, 50.0, 0.125, False),
    ]
    cols = list(zip(*rows))
    codes = np.array([names.index(c) if c else -1 for c in cols[4]])
    frame = pd.DataFrame({
        "dataset_id": ["ds_1"] * len(rows),
        "image_id": cols[0], "file_name": cols[1], "width": cols[2], "height": cols[3],
        "category": categorical(codes, names),
        "category_id": [ids[c] if c else None for c in cols[4]],
        "x": cols[5], "y": cols[6], "w": cols[7], "h": cols[8],
        "score": cols[9] if with_scores else [None] * len(rows),
        "iscrowd": cols[10],
        "description": ["two things", "two things", None, "three, \"quoted\"", "three, \"quoted\"",
                        "three, \"quoted\""],
        "tags": [["a", "b"], ["a", "b"], [], ["ünï"], ["ünï"], ["ünï"]],
        "image_url": [f"http://127.0.0.1:1/api/v2/user-files/f{i}/download" for i in cols[0]],
        "item_id": [f"item_{i}" for i in cols[0]],
        "item_status": ["completed", "completed", "failed", "completed", "completed", "completed"],
    })
    frame = validate_frame(frame)
    frame.attrs["category_ids"] = ids
    return frame


def boxes_by_image(frame: pd.DataFrame, digits: int = 6) -> dict[str, list[tuple]]:
    """file name -> sorted (category, x, y, w, h) of its boxes; every image is a key."""
    out: dict[str, list[tuple]] = {str(n): [] for n in frame["file_name"].unique()}
    boxes = frame[frame["x"].notna()]
    for name, cat, x, y, w, h in zip(boxes["file_name"], boxes["category"].astype(str), boxes["x"],
                                     boxes["y"], boxes["w"], boxes["h"]):
        out[str(name)].append((cat, *(round(float(v), digits) for v in (x, y, w, h))))
    return {k: sorted(v) for k, v in out.items()}


def write_quietly(writer, frame: pd.DataFrame, **options) -> bytes:
    """The bytes ``writer`` (``write_yolo``, ``write_voc``, ...) makes of ``frame``, lossy warnings silenced."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)
        writer(frame, buf, **options)
    return buf.getvalue()


def zip_bytes(members, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of ``members`` (a dict or (name, data) pairs; duplicate names allowed, for the safety tests)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(buf, "w", method) as archive:
            for name, data in members.items() if isinstance(members, dict) else members:
                archive.writestr(name, data)
    return buf.getvalue()


def write_png(path: Path, width: int, height: int) -> None:
    """A gray PNG of the given size at ``path`` (folders made)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), "gray").save(path)


def fiftyone_export(fo, folder: Path, sizes: dict, boxes: dict, dataset_type, **export_options) -> Path:
    """FiftyOne exports gray PNGs (``sizes``: name -> (w, h)) with ``boxes`` (name -> [(label, rel. box)])
    as field ``gt`` to ``folder/out`` with its own exporter; returns that folder."""
    dataset = fo.Dataset()
    try:
        for name, (width, height) in sizes.items():
            write_png(folder / "src" / name, width, height)
            dets = [fo.Detection(label=label, bounding_box=box) for label, box in boxes[name]]
            dataset.add_sample(fo.Sample(filepath=str(folder / "src" / name), gt=fo.Detections(detections=dets)))
        dataset.compute_metadata()
        dataset.export(export_dir=str(folder / "out"), dataset_type=dataset_type, label_field="gt",
                       **export_options)
    finally:
        dataset.delete()
    return folder / "out"
