"""Deterministic demo data: generated scenes whose true object boxes are the batch's detections.

``seed_demo`` fills an empty store for the first key's tenant with three completed batches (a few
hundred images of varying sizes, some failed items), one batch still processing and a few datasets
with exports; every further key's tenant gets one small batch and dataset of its own.

The park batch carries four deliberate annotation mistakes for ``frame.aion.check()`` to find
(:data:`PROBLEMS`, planted by :func:`plant_problems`; the pixels stay as drawn); the other batches
are clean.

>>> img, boxes = draw_scene(random.Random(1), 320, 240, "street")
>>> img.size, all(0 <= x and x + w <= 320 for _, x, _, w, _ in boxes)
((320, 240), True)
"""
from __future__ import annotations

import io
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from PIL import Image, ImageDraw

from .auth import tenant_id
from .images import save_image
from .settings import Settings
from .store import NewItem, Store, iso

DEMO_NAMESPACE = uuid.UUID("6f1c9d2e-5a4b-4c3d-9e8f-a0b1c2d3e4f5")
SIZES = [(640, 480), (480, 360), (800, 600), (320, 240), (512, 512), (640, 360), (400, 300)]
SCENES = {"street": ((150, 160, 170), (90, 90, 95)), "park": ((150, 200, 240), (90, 160, 80)),
          "warehouse": ((200, 190, 170), (120, 110, 100)), "beach": ((130, 190, 235), (230, 210, 160))}
COLOURS = {"person": (220, 60, 60), "car": (40, 90, 200), "dog": (140, 90, 40), "bicycle": (30, 30, 30),
           "cat": (240, 150, 40), "bus": (240, 200, 30), "bird": (60, 60, 160), "traffic light": (20, 120, 60)}
# label -> (typical width/height ratio, relative size)
SHAPES = {"person": (0.4, 0.45), "car": (2.0, 0.35), "dog": (1.4, 0.25), "bicycle": (1.6, 0.3),
          "cat": (1.2, 0.18), "bus": (2.6, 0.45), "bird": (1.3, 0.1), "traffic light": (0.35, 0.3)}
SCENE_LABELS = {"street": ["person", "car", "bicycle", "bus", "traffic light", "dog"],
                "park": ["person", "dog", "bicycle", "bird", "cat"],
                "warehouse": ["person", "car", "cat"],
                "beach": ["person", "dog", "bird"]}
ERRORS = ["image could not be decoded", "processing timed out after 30 s", "unsupported colour profile"]
#: the batch whose annotations carry the deliberate mistakes, and the kinds ``check`` reports for them
PROBLEM_BATCH = "park-scenes"
PROBLEMS = ("exact_duplicate", "near_duplicate", "partly_outside", "too_small")


def _draw_object(draw: ImageDraw.ImageDraw, label: str, x: int, y: int, w: int, h: int) -> None:
    c, x1, y1 = COLOURS[label], x + w - 1, y + h - 1
    if label == "person":
        draw.ellipse([x + w // 4, y, x1 - w // 4, y + h // 4], fill=c)
        draw.rectangle([x, y + h // 4, x1, y1], fill=c)
    elif label in ("car", "bus"):
        draw.rounded_rectangle([x, y, x1, y1 - h // 5], radius=max(1, h // 6), fill=c)
        r = max(2, h // 5)
        for cx in (x + w // 4, x1 - w // 4):
            draw.ellipse([cx - r, y1 - 2 * r, cx + r, y1], fill=(20, 20, 20))
        draw.rectangle([x + w // 8, y + h // 8, x1 - w // 8, y + h // 3], fill=(200, 230, 250))
    elif label == "bicycle":
        r = h // 2
        draw.ellipse([x, y1 - 2 * r, x + 2 * r, y1], outline=c, width=max(2, h // 12))
        draw.ellipse([x1 - 2 * r, y1 - 2 * r, x1, y1], outline=c, width=max(2, h // 12))
        draw.line([x + r, y1 - r, x + w // 2, y, x1 - r, y1 - r], fill=c, width=max(2, h // 12))
    elif label == "traffic light":
        draw.rectangle([x, y, x1, y1], fill=c)
        for i, lamp in enumerate(((230, 40, 40), (240, 200, 40), (40, 220, 80))):
            cy = y + h * (2 * i + 1) // 6
            r = max(1, min(w, h // 3) // 3)
            draw.ellipse([x + w // 2 - r, cy - r, x + w // 2 + r, cy + r], fill=lamp)
    else:  # dog, cat, bird: a body and a head
        draw.ellipse([x, y + h // 4, x + (3 * w) // 4, y1], fill=c)
        draw.ellipse([x + w // 2, y, x1, y + h // 2], fill=c)


def draw_scene(rng: random.Random, width: int, height: int, scene: str
               ) -> tuple[Image.Image, list[tuple[str, int, int, int, int]]]:
    """One image and its true boxes (label, x, y, w, h), objects drawn back to front."""
    sky, ground = SCENES[scene]
    img = Image.new("RGB", (width, height), sky)
    draw = ImageDraw.Draw(img)
    horizon = int(height * rng.uniform(0.35, 0.55))
    draw.rectangle([0, horizon, width, height], fill=ground)
    boxes = []
    for _ in range(rng.choice([0, 1, 2, 2, 3, 3, 4, 5, 6])):
        label = rng.choice(SCENE_LABELS[scene])
        ratio, rel = SHAPES[label]
        h = max(12, int(height * rel * rng.uniform(0.6, 1.3)))
        w = max(12, int(h * ratio * rng.uniform(0.85, 1.15)))
        w, h = min(w, width - 2), min(h, height - 2)
        x = rng.randint(0, width - w)
        y = rng.randint(max(0, min(horizon - h // 2, height - h)), height - h)
        _draw_object(draw, label, x, y, w, h)
        boxes.append((label, x, y, w, h))
    return img, boxes


def _items(store: Store, settings: Settings, tenant: str, rng: random.Random, scene: str, count: int,
           failed: int, prefix: str) -> list[NewItem]:
    failed_at = set(rng.sample(range(count), failed))
    items = []
    for i in range(count):
        width, height = rng.choice(SIZES)
        img, boxes = draw_scene(rng, width, height, scene)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85)
        name = f"{prefix}/{scene}_{i:04d}.jpg"
        file_id = save_image(store, settings.files_dir, tenant, name, data=buf.getvalue(),
                             content_type="image/jpeg")
        if i in failed_at:
            items.append(NewItem(name, "failed", width=width, height=height, file_id=file_id,
                                 error_message=rng.choice(ERRORS)))
            continue
        labels = sorted({b[0] for b in boxes})
        counts = ", ".join(f"{sum(b[0] == lab for b in boxes)} {lab}" for lab in labels) or "nothing"
        items.append(NewItem(name, "completed", width=width, height=height, file_id=file_id,
                             description=f"A {scene} scene with {counts}.", tags=[scene, *labels],
                             detections=[(lab, round(rng.uniform(0.55, 0.99), 3), float(x), float(y),
                                          float(w), float(h)) for lab, x, y, w, h in boxes]))
    return items


def plant_problems(items: list[NewItem]) -> list[str]:
    """Four mistakes as real annotations have them, each in its own completed item (the first that
    allows it; box counts stay the same): a box annotated twice (the second box of a class in an
    image becomes an exact copy of the first), a near copy (shifted right by 3% of its width: an IoU
    over 0.9), a box reaching 15 px past the image's right edge, and a 1 x 1 px box (a stray click).
    Returns the file names, in :data:`PROBLEMS` order.
    """
    done = [it for it in items if it.status == "completed" and it.detections]

    def repeated(item: NewItem) -> tuple[int, int] | None:
        for i, first in enumerate(item.detections):  # a class seen twice, its first box 60+ px wide
            for j in range(i + 1, len(item.detections)):
                if item.detections[j][0] == first[0] and first[4] >= 60:
                    return i, j
        return None

    twice = [it for it in done if repeated(it)][:2]
    for item, shift in zip(twice, (0.0, 0.03)):
        i, j = repeated(item)  # type: ignore[misc]
        lab, _, x, y, w, h = item.detections[i]
        item.detections[j] = (lab, item.detections[j][1], x + round(shift * w), y, w, h)
    edge, tiny = [it for it in done if it not in twice][:2]
    lab, score, x, y, w, h = edge.detections[0]
    edge.detections[0] = (lab, score, float(edge.width - w + 15), y, w, h)  # type: ignore[operator]
    lab, score, x, y, w, h = tiny.detections[-1]
    tiny.detections[-1] = (lab, score, x, y, 1.0, 1.0)
    return [it.file_name for it in (*twice, edge, tiny)]


def _batch(store: Store, settings: Settings, tenant: str, seed: int, scene: str, count: int, failed: int,
           name: str, days_ago: int, status: str = "completed") -> str:
    rng = random.Random(seed)
    items = _items(store, settings, tenant, rng, scene, count, failed, name)
    if name == PROBLEM_BATCH:
        plant_problems(items)
    if status == "processing":  # the tail of a running batch is still waiting for the processor
        for item in items[count // 3:]:
            item.status, item.description, item.tags, item.detections, item.error_message = (
                "pending", None, [], [], None)
    created = iso(datetime.now(timezone.utc) - timedelta(days=days_ago, hours=seed % 7))
    return store.import_batch(tenant, name, items, status=status, created_at=created,
                              batch_id=str(uuid.uuid5(DEMO_NAMESPACE, f"{tenant}:{name}")))


def seed_demo(store: Store, settings: Settings, base_url: str,
              export: Callable[[str, dict[str, Any], str], Any] | None = None) -> bool:
    """Seed the demo once per data dir (False when already seeded). ``export(tenant, dataset, fmt)``
    makes the demo exports (skipped when None)."""
    if store.get_meta("demo_seeded"):
        return False
    from .worker import process_one

    first, *others = [tenant_id(k) for k in settings.api_keys]
    plan = [  # seed, scene, images, failed, name, days ago, formats exported
        (11, "street", 120, 6, "street-scenes", 21, ["csv", "coco", "coco", "yolo"]),
        (12, "park", 100, 4, "park-scenes", 12, ["coco", "pascal_voc"]),
        (13, "warehouse", 80, 3, "warehouse-safety", 4, ["csv", "yolo", "pascal_voc", "coco"]),
    ]
    made = []
    for seed, scene, n, failed, name, days, formats in plan:
        bid = _batch(store, settings, first, seed, scene, n, failed, name, days)
        made.append((first, bid, f"{name.replace('-', ' ').title()} dataset", days, formats))
    running = _batch(store, settings, first, 14, "beach", 24, 1, "beach-live", 0, status="processing")
    made.append((first, running, "Beach (batch still running)", 0, []))
    for k, tenant in enumerate(others):
        bid = _batch(store, settings, tenant, 100 + k, "park", 12, 1, "sample-batch", 2)
        made.append((tenant, bid, "Sample dataset", 2, ["coco"]))
    for tenant, bid, title, days, formats in made:
        batch = store.get_batch(tenant, bid)
        created = iso(datetime.now(timezone.utc) - timedelta(days=max(days - 1, 0)))
        did = store.create_dataset(tenant, batch, title, f"Demo: generated {batch['name']} images",
                                   {"csv_delimiter": ",", "include_timestamps": True}, created_at=created)
        while process_one(store):
            pass
        dataset = store.get_dataset(tenant, did)
        for fmt in formats if export is not None and dataset["status"] == "ready" else []:
            export(tenant, dataset, fmt)
    store.set_meta("demo_seeded", iso(datetime.now(timezone.utc)))
    return True
