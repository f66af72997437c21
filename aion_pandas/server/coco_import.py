"""Import any COCO detection set (annotations JSON + image folder) as a completed batch.

The file is read by :func:`aion_pandas.formats.read_coco` (its rules and errors); this module turns
the canonical frame into batch items, straight into a data dir's store or through a running
service's ``POST /batches``.

>>> items_from_coco({"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}],
...                  "annotations": [{"image_id": 1, "category_id": 7, "bbox": [0, 0, 2, 2]}],
...                  "categories": [{"id": 7, "name": "dog"}]})[0].detections
[('dog', 1.0, 0.0, 0.0, 2.0, 2.0)]
"""
from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aion_pandas.formats.coco import parse_coco, read_coco

from .store import NewItem


def items_from_coco(doc: dict[str, Any] | bytes) -> list[NewItem]:
    """One completed item per COCO image (in ``images`` order) with its boxes as detections."""
    return items_from_frame(parse_coco(doc))


def items_from_frame(frame: pd.DataFrame) -> list[NewItem]:
    """One completed item per image of a canonical frame (rows grouped by image, as readers give
    them). Boxes without area (w or h of 0) are left out: nothing to detect; a box is clipped at
    the image's top-left corner; a box without a score gets confidence 1.0."""
    image_id = frame["image_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, image_id[1:] != image_id[:-1]]).tolist() + [len(frame)]
    x, y, w, h = (frame[c].to_numpy(np.float64) for c in ("x", "y", "w", "h"))
    score = np.nan_to_num(frame["score"].to_numpy(np.float64), nan=1.0)
    labels = frame["category"].astype(object).to_numpy()
    detected = (w > 0) & (h > 0)
    names = frame["file_name"].to_numpy(dtype=object)
    sizes = [frame[c].astype(object).where(frame[c].notna(), None).to_numpy() for c in ("width", "height")]
    tags = frame["tags"].to_numpy() if "tags" in frame.columns else None
    description = frame["description"].astype(object).where(frame["description"].notna(), None).to_numpy() \
        if "description" in frame.columns else None
    items = []
    for first, end in zip(starts[:-1], starts[1:]):
        boxes = [(str(labels[r]), float(score[r]), max(float(x[r]), 0.0), max(float(y[r]), 0.0),
                  float(w[r]), float(h[r])) for r in range(first, end) if detected[r]]
        items.append(NewItem(str(names[first]).replace("\\", "/"), "completed",
                             width=sizes[0][first], height=sizes[1][first], detections=boxes,
                             tags=list(tags[first]) if tags is not None else [],
                             description=description[first] if description is not None else None))
    return items


def import_coco(coco: Path, images: Path, *, name: str | None = None, data_dir: Path | None = None,
                base_url: str | None = None, api_key: str | None = None) -> dict[str, Any]:
    """Import ``coco`` with images under ``images``; returns the batch as the API shows it."""
    items = items_from_frame(read_coco(Path(coco)))
    name = name or Path(coco).stem
    images = Path(images)
    if base_url:
        return _via_api(items, images, name, base_url, api_key or os.environ.get("AIONVISION_API_KEY"))
    return _into_store(items, images, name, data_dir, api_key)


def _into_store(items: list[NewItem], images: Path, name: str, data_dir: Path | None,
                api_key: str | None) -> dict[str, Any]:
    from ..embedded import default_data_dir
    from .auth import tenant_id
    from .images import save_image
    from .routes.batches import batch_public
    from .settings import Settings, load_or_create_api_key
    from .store import Store

    data_dir = Path(data_dir or default_data_dir())
    key = api_key or load_or_create_api_key(data_dir)[0]
    settings = Settings(data_dir=data_dir, api_keys=(key,))
    store, tenant = Store(settings.database, migrate=True), tenant_id(key)
    from .images import sniff_size

    for item in items:
        path = images / item.file_name
        if path.is_file():
            item.file_id = save_image(store, settings.files_dir, tenant, item.file_name, source=path)
            if item.width is None or item.height is None:
                item.width, item.height = sniff_size(path)
        if item.detections and (item.width is None or item.height is None):
            raise ValueError(f"{item.file_name}: no width/height in the COCO file and no readable image")
    batch_id = store.import_batch(tenant, name, items)
    return batch_public(store.get_batch(tenant, batch_id)).model_dump(mode="json")


def _via_api(items: list[NewItem], images: Path, name: str, base_url: str, api_key: str | None
             ) -> dict[str, Any]:
    import requests

    if not api_key:
        raise ValueError("--base-url needs --api-key (or AIONVISION_API_KEY)")
    body = {"name": name, "items": []}
    for item in items:
        path = images / item.file_name
        entry: dict[str, Any] = {"file_name": item.file_name, "output_data": {
            "width": item.width, "height": item.height, "tags": item.tags,
            "detections": [{"label": lab, "confidence": min(max(c, 0.0), 1.0),
                            "bbox": {"x": x, "y": y, "width": w, "height": h}}
                           for lab, c, x, y, w, h in item.detections]}}
        if path.is_file():
            entry["image_base64"] = base64.b64encode(path.read_bytes()).decode("ascii")
        body["items"].append(entry)
    resp = requests.post(f"{base_url.rstrip('/')}/batches", json=body, timeout=600,
                         headers={"Authorization": f"Bearer {api_key}"})
    if resp.status_code != 201:
        try:
            message = resp.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = resp.text[:500]
        raise ValueError(f"POST /batches answered {resp.status_code}: {message}")
    return resp.json()
