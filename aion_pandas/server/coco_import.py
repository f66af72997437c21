"""Import any COCO detection set (annotations JSON + image folder) as a completed batch.

Straight into a data dir's store, or through a running service's ``POST /batches``.

>>> items_from_coco({"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}],
...                  "annotations": [{"image_id": 1, "category_id": 7, "bbox": [0, 0, 2, 2]}],
...                  "categories": [{"id": 7, "name": "dog"}]})[0].detections
[('dog', 1.0, 0.0, 0.0, 2.0, 2.0)]
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from .store import NewItem


def items_from_coco(doc: dict[str, Any]) -> list[NewItem]:
    """One completed item per COCO image (in ``images`` order) with its boxes as detections."""
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise ValueError("not a COCO detection file: no 'images' list")
    names = {c["id"]: str(c["name"]) for c in doc.get("categories", [])}
    boxes: dict[Any, list] = {}
    for n, ann in enumerate(doc.get("annotations", [])):
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4):
            raise ValueError(f"annotations[{n}]: bbox must be [x, y, width, height]")
        if ann.get("category_id") not in names:
            raise ValueError(f"annotations[{n}]: unknown category_id {ann.get('category_id')!r}")
        x, y, w, h = (float(v) for v in bbox)
        if w <= 0 or h <= 0:
            continue  # degenerate box: nothing to detect
        boxes.setdefault(ann.get("image_id"), []).append(
            (names[ann["category_id"]], float(ann.get("score", 1.0)), max(x, 0.0), max(y, 0.0), w, h))
    items = []
    for n, img in enumerate(doc["images"]):
        if "file_name" not in img:
            raise ValueError(f"images[{n}]: no file_name")
        items.append(NewItem(str(img["file_name"]).replace("\\", "/"), "completed", width=img.get("width"),
                             height=img.get("height"), detections=boxes.get(img.get("id"), []),
                             tags=[], description=None))
    return items


def import_coco(coco: Path, images: Path, *, name: str | None = None, data_dir: Path | None = None,
                base_url: str | None = None, api_key: str | None = None) -> dict[str, Any]:
    """Import ``coco`` with images under ``images``; returns the batch as the API shows it."""
    doc = json.loads(Path(coco).read_text(encoding="utf-8"))
    items = items_from_coco(doc)
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
    store, tenant = Store(settings.db_path), tenant_id(key)
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
