"""Benchmark: ``aion.to_fiftyone`` against FiftyOne's own COCO importer on the same files.

Data (made once under ``bench/data/fiftyone-S``, fixed seed): S = 10,000 small generated PNG images
(varying sizes) and 100,000 boxes in ~20 categories with ids that are not contiguous, some images with
no box, a COCO ``labels.json``. Peers, in the same run, on the same image files:

- ``fo.Dataset.from_dir(dataset_type=fo.types.COCODetectionDataset, data_path=..., labels_path=...)``
- ``to_fiftyone(labels.json, images_dir=data)`` (the default bulk path)
- ``to_fiftyone(labels_urls.json)``: the same labels with each image's ``coco_url``; every image is
  already in the image cache (hard links to the same files), so nothing is fetched
- ``to_fiftyone(..., method="objects")``: ``fo.Detection`` objects through ``add_samples``

Run: ``.venv/bin/python bench/bench_fiftyone.py [--runs 3] [--slow-runs 1] [--size S|XS]``. Prints one table row
per method: median seconds over the runs, samples and detections loaded, boxes/s.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
SIZES = {"S": (10_000, 100_000), "XS": (1_000, 10_000)}


def _env() -> None:
    sandbox = tempfile.mkdtemp(prefix="bench-fiftyone-")
    os.environ.setdefault("FIFTYONE_DATABASE_DIR", os.path.join(sandbox, "db"))
    os.environ["FIFTYONE_DO_NOT_TRACK"] = "true"
    os.environ["FIFTYONE_DATABASE_VALIDATION"] = "false"
    os.environ["FIFTYONE_SHOW_PROGRESS_BARS"] = "false"
    os.environ["TQDM_DISABLE"] = "1"


def make_data(size: str) -> Path:
    """Generate (once) the image files and the two COCO files for ``size``; return the folder."""
    n_images, n_boxes = SIZES[size]
    folder = ROOT / "data" / f"fiftyone-{size}"
    if (folder / "done").exists():
        return folder
    from PIL import Image

    rng = np.random.default_rng(1234)
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "data").mkdir(parents=True)
    widths = rng.integers(48, 160, n_images)
    heights = rng.integers(32, 120, n_images)
    names = [f"img_{i:05d}_é.png" if i % 97 == 0 else f"img_{i:05d}.png" for i in range(n_images)]
    palette = [Image.new("RGB", (int(w), int(h)), tuple(int(c) for c in rng.integers(0, 255, 3)))
               for w, h in zip(widths[:1], heights[:1])]
    for i, name in enumerate(names):
        im = palette[0].resize((int(widths[i]), int(heights[i])))
        im.save(folder / "data" / name)
    cat_ids = sorted(rng.choice(np.arange(1, 90), 20, replace=False).tolist())
    categories = [{"id": c, "name": f"class_{c:02d}", "supercategory": "thing"} for c in cat_ids]
    with_boxes = np.sort(rng.choice(n_images, int(n_images * 0.97), replace=False))
    img = np.sort(rng.choice(with_boxes, n_boxes))
    w = widths[img] * rng.uniform(0.05, 0.5, n_boxes)
    h = heights[img] * rng.uniform(0.05, 0.5, n_boxes)
    x = (widths[img] - w) * rng.random(n_boxes)
    y = (heights[img] - h) * rng.random(n_boxes)
    cats = rng.choice(cat_ids, n_boxes)
    crowd = rng.random(n_boxes) < 0.02
    anns = [{"id": k + 1, "image_id": int(img[k]) + 1, "category_id": int(cats[k]),
             "bbox": [round(float(x[k]), 2), round(float(y[k]), 2), round(float(w[k]), 2),
                      round(float(h[k]), 2)], "area": round(float(w[k] * h[k]), 2),
             "iscrowd": int(crowd[k])} for k in range(n_boxes)]
    images = [{"id": i + 1, "file_name": names[i], "width": int(widths[i]), "height": int(heights[i])}
              for i in range(n_images)]
    doc = {"info": {"description": f"bench {size}"}, "images": images, "annotations": anns,
           "categories": categories}
    (folder / "labels.json").write_text(json.dumps(doc))
    base = "http://127.0.0.1:9/api/v2/user-files"
    for i, image in enumerate(images):
        image["coco_url"] = f"{base}/file{i:05d}/download"
    (folder / "labels_urls.json").write_text(json.dumps(doc))
    (folder / "done").write_text("ok\n")
    return folder


def _fill_cache(folder: Path, cache: Path) -> None:
    """Hard-link every image into the cache where to_fiftyone will look for its URL."""
    from aion_pandas.image_cache import _cache_path

    doc = json.loads((folder / "labels_urls.json").read_text())
    for image in doc["images"]:
        dest = _cache_path(cache, image["coco_url"], image["file_name"])
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.link(folder / "data" / image["file_name"], dest)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", choices=sorted(SIZES), default="S")
    parser.add_argument("--slow-runs", type=int, default=1,
                        help="runs of the slow peers (from_dir, the objects path); 0 skips them")
    args = parser.parse_args()
    _env()
    folder = make_data(args.size)
    cache = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    _fill_cache(folder, cache)

    import fiftyone as fo
    from aion_pandas.fiftyone import to_fiftyone

    data, labels, labels_urls = str(folder / "data"), str(folder / "labels.json"), \
        str(folder / "labels_urls.json")
    methods = {
        "fo.Dataset.from_dir(COCODetectionDataset)": lambda: fo.Dataset.from_dir(
            dataset_type=fo.types.COCODetectionDataset, data_path=data, labels_path=labels,
            label_types="detections", label_field="ground_truth", progress=False),
        "aion.to_fiftyone(labels.json, images_dir=data)": lambda: to_fiftyone(
            labels, images_dir=data, progress=False),
        "aion.to_fiftyone(labels_urls.json) [cached]": lambda: to_fiftyone(
            labels_urls, cache_dir=cache, progress=False),
        "aion.to_fiftyone(..., method='objects')": lambda: to_fiftyone(
            labels, images_dir=data, method="objects", progress=False),
    }
    runs = {name: args.runs if name.startswith("aion.") else args.slow_runs for name in methods}
    runs["aion.to_fiftyone(..., method='objects')"] = args.slow_runs
    fo.Dataset().delete()  # start the database before anything is timed
    n_images, n_boxes = SIZES[args.size]
    print(f"# to_fiftyone vs FiftyOne's COCO importer, size {args.size} ({n_images:,} images, "
          f"{n_boxes:,} boxes), fiftyone {fo.__version__}, medians of the runs shown")
    print(f"{'method':50s} {'runs':>4s} {'median s':>9s} {'samples':>8s} {'detections':>10s} "
          f"{'boxes/s':>9s}")
    for name, run in methods.items():
        times: list[float] = []
        counts = (0, 0)
        for _ in range(runs[name]):
            start = time.perf_counter()
            dataset = run()
            times.append(time.perf_counter() - start)
            counts = (len(dataset), dataset.count("ground_truth.detections"))
            dataset.delete()
        if not times:
            continue
        median = statistics.median(times)
        print(f"{name:50s} {len(times):4d} {median:9.2f} {counts[0]:8,d} {counts[1]:10,d} "
              f"{counts[1] / median:9,.0f}", flush=True)
    shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
