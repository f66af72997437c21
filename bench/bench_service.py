"""Benchmark of the service: 100,000 images / 1,000,000 boxes, creation-to-ready and each format's export.

The batch is imported straight into a fresh data dir's store (``Store.import_batch``, the same call
``aion-pandas import-batch --data-dir`` uses; each item has a file id, so exports carry image URLs, but no
image bytes are stored); then a real
``python -m aion_pandas serve`` process is started on that dir and everything after goes over HTTP:
``POST /datasets`` until ``ready``, then ``POST /datasets/{id}/export`` per format (median of 3 runs),
while a sampler thread records the server process's peak RSS. Peers, run in the same process on the
same data: building the canonical frame alone (SQLite -> frame), pandas ``DataFrame.to_csv`` of it,
and a stdlib COCO document built as one dict per box and ``json.dump``-ed.

    .venv/bin/python bench/bench_service.py [--images 100000] [--boxes-per-image 10] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psutil
from _peak_rss import PeakRss  # bench/ is the script's folder, first on sys.path
import requests

from aion_pandas.embedded import start_server_process
from aion_pandas.server.auth import tenant_id
from aion_pandas.server.store import NewItem, Store

KEY = "aion_bench_key_000000000000000000"
LABELS = ["person", "car", "dog", "bicycle", "cat", "bus", "truck", "bird", "boat", "chair",
          "bottle", "cup", "horse", "sheep", "cow", "traffic light", "bench", "umbrella", "kite", "train"]
FORMATS = ["csv", "coco", "yolo", "pascal_voc"]


def make_items(n_images: int, per_image: int, seed: int = 0) -> list[NewItem]:
    rng = np.random.default_rng(seed)
    sizes = np.array([(640, 480), (800, 600), (1280, 720), (1920, 1080), (512, 512)])
    dims = sizes[rng.integers(0, len(sizes), n_images)]
    n_boxes = n_images * per_image
    img_w = np.repeat(dims[:, 0], per_image).astype(float)
    img_h = np.repeat(dims[:, 1], per_image).astype(float)
    w = np.maximum(2.0, np.round(rng.uniform(0.02, 0.4, n_boxes) * img_w, 1))
    h = np.maximum(2.0, np.round(rng.uniform(0.02, 0.4, n_boxes) * img_h, 1))
    x = np.round(rng.uniform(0, 1, n_boxes) * (img_w - w), 1)
    y = np.round(rng.uniform(0, 1, n_boxes) * (img_h - h), 1)
    conf = np.round(rng.uniform(0.3, 1.0, n_boxes), 3)
    labels = np.array(LABELS, dtype=object)[rng.integers(0, len(LABELS), n_boxes)]
    rows = list(zip(labels.tolist(), conf.tolist(), x.tolist(), y.tolist(), w.tolist(), h.tolist()))
    items = []
    for i in range(n_images):
        items.append(NewItem(f"images/{i:06d}.jpg", "completed", file_id=str(uuid.UUID(int=i + 1)),
                             description=f"a generated bench image, number {i}", tags=["bench"],
                             detections=rows[i * per_image:(i + 1) * per_image],
                             width=int(dims[i, 0]), height=int(dims[i, 1])))
    return items


def _row(name: str, seconds: float, boxes: int, rss: float | None, size: int | None) -> str:
    rss_s = f"{rss / 2**20:8.0f}" if rss is not None else "       -"
    size_s = f"{size / 2**20:9.1f}" if size is not None else "        -"
    return f"| {name:<36} | {seconds:8.2f} | {boxes / seconds:12,.0f} | {rss_s} | {size_s} |"


def peers(data_dir: Path, dataset_id: str, repeat: int) -> list[str]:
    """The same work done by other means in this process, for scale."""
    from aion_pandas.server.exporter import build_frame

    store = Store(data_dir / "aion.sqlite3", migrate=True)
    dataset = store.get_dataset(tenant_id(KEY), dataset_id)
    lines, me = [], psutil.Process()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        frame, _ = build_frame(store, dataset, False, "http://127.0.0.1")
        times.append(time.perf_counter() - t)
    n = int(frame["x"].notna().sum())
    lines.append(_row("peer: SQLite -> canonical frame", statistics.median(times), n, me.memory_info().rss, None))
    out = Path(tempfile.mkdtemp()) / "peer.csv"
    t = time.perf_counter()
    frame.drop(columns=["tags"]).to_csv(out, index=False)
    lines.append(_row("peer: pandas DataFrame.to_csv", time.perf_counter() - t, n, me.memory_info().rss,
                      out.stat().st_size))
    t = time.perf_counter()
    cols = {c: frame[c].tolist() for c in ("image_id", "category", "x", "y", "w", "h", "score")}
    anns = [{"id": i + 1, "image_id": cols["image_id"][i], "category": cols["category"][i],
             "bbox": [cols["x"][i], cols["y"][i], cols["w"][i], cols["h"][i]], "score": cols["score"][i],
             "area": cols["w"][i] * cols["h"][i], "iscrowd": 0} for i in range(len(frame))]
    with open(out.with_suffix(".json"), "w") as fh:
        json.dump({"annotations": anns}, fh)
    lines.append(_row("peer: stdlib dict per box + json", time.perf_counter() - t, n, me.memory_info().rss,
                      out.with_suffix(".json").stat().st_size))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--boxes-per-image", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (~2 GB at L)")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="aion-bench-"))
    try:
        run(args, data_dir)
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


def run(args: argparse.Namespace, data_dir: Path) -> None:
    """Import, create, export each format over HTTP (and the peers); print the table."""
    n_boxes = args.images * args.boxes_per_image

    t = time.perf_counter()
    items = make_items(args.images, args.boxes_per_image)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    store = Store(data_dir / "aion.sqlite3", migrate=True)
    batch_id = store.import_batch(tenant_id(KEY), "bench", items)
    import_s = time.perf_counter() - t
    del items, store

    proc, info = start_server_process(data_dir, api_keys=(KEY,), detached=False)
    base, auth = info["base_url"], {"Authorization": f"Bearer {KEY}"}
    lines = [f"service bench: {args.images:,} images, {n_boxes:,} boxes; data dir {data_dir}"
             + ("" if args.keep else " (removed at exit; --keep keeps it)"),
             f"generate {gen_s:.1f} s; import into SQLite {import_s:.1f} s "
             f"({n_boxes / import_s:,.0f} boxes/s, bench process)", "",
             "| step (server process unless peer)    | median s |      boxes/s | peak MiB | file MiB |",
             "|--------------------------------------|----------|--------------|----------|----------|"]
    try:
        with PeakRss(proc.pid, interval=0.02) as rss:
            t = time.perf_counter()
            dataset = requests.post(f"{base}/datasets", json={"batch_id": batch_id, "name": "bench"},
                                    headers=auth, timeout=60).json()
            while requests.get(f"{base}/datasets/{dataset['id']}", headers=auth, timeout=60).json()["status"] \
                    not in ("ready", "failed"):
                time.sleep(0.02)
            ready_s = time.perf_counter() - t
        lines.append(_row("create dataset -> ready", ready_s, n_boxes, rss.peak, None))
        for fmt in FORMATS:
            times, peaks, size = [], [], 0
            for _ in range(args.repeat):
                with PeakRss(proc.pid, interval=0.02) as rss:
                    t = time.perf_counter()
                    resp = requests.post(f"{base}/datasets/{dataset['id']}/export", json={"format": fmt},
                                         headers=auth, timeout=600)
                    times.append(time.perf_counter() - t)
                resp.raise_for_status()
                peaks.append(rss.peak)
                size = resp.json()["file_size_bytes"]
            lines.append(_row(f"export {fmt} (HTTP round trip)", statistics.median(times), n_boxes, max(peaks), size))
        lines.append(f"| {'server peak RSS over the run (VmHWM)':<36} | {'':8} | {'':12} | "
                     f"{_vmhwm(proc.pid) / 2**20:8.0f} | {'':8} |")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if not args.no_peers:
        lines += peers(data_dir, dataset["id"], args.repeat)
    print("\n".join(lines))


def _vmhwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


if __name__ == "__main__":
    main()
