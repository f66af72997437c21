"""Benchmark: COCO and CSV exports into the canonical frame, against the tools people use today.

Generates (fixed seed) a dataset of S = 10,000 images / 100,000 boxes or L = 100,000 / 1,000,000 with
~20 categories whose ids are not contiguous (one has no box), ~10% images without boxes, ~1% crowd
boxes and unicode, nested file names; writes it with our writers, then reads it with every method,
each run in its own subprocess (so peak RSS is that method's alone), 3 rounds run round robin (a busy
moment of the shared machine hits every method alike), median.

    .venv/bin/python bench/bench_readers.py            # S
    .venv/bin/python bench/bench_readers.py --size L   # L (heavy: never beside another heavy job)

Peers: ``pycocotools.coco.COCO`` + pandas building the same frame (images joined to annotations,
empty images kept, category names), ``supervision.DetectionDataset.from_coco``; for CSV
``pandas.read_csv`` with its default C engine and with ``engine="pyarrow"`` (our reader uses Arrow's
CSV engine too, then builds the canonical dtypes: categorical, Int64, JSON tags).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {"S": (10_000, 100_000), "L": (100_000, 1_000_000)}
NAMES = ["person", "vélo", "自転車", "кошка", "dog", "car", "traffic light", "bird", "chaise",
         "bottle", "cup", "laptop", "phone", "book", "clock", "vase", "Straße-sign", "kite", "boat",
         "train", "root (no boxes)"]


def generate(n_images: int, n_boxes: int, seed: int = 0):  # -> pd.DataFrame
    """The canonical frame of a synthetic dataset (numpy only, deterministic)."""
    import numpy as np
    import pandas as pd

    from aion_pandas.formats.schema import categorical, validate_frame

    rng = np.random.default_rng(seed)
    cat_ids = np.sort(rng.choice(np.arange(0, 300), size=len(NAMES), replace=False))
    counts = np.zeros(n_images, dtype=np.int64)
    nonempty = rng.random(n_images) >= 0.1
    counts[nonempty] = rng.multinomial(n_boxes, np.full(nonempty.sum(), 1 / nonempty.sum()))
    sizes = np.array([(640, 480), (1280, 720), (800, 600), (1024, 768), (333, 500)])
    wh = sizes[rng.integers(0, len(sizes), n_images)]
    folders = np.array(["train", "val/nuit", "données/été", "測試"], dtype=object)
    names = pd.Series(folders[np.arange(n_images) % 4]) + "/img_" + \
        pd.Series(np.arange(1, n_images + 1)).astype(str).str.zfill(7) + ".jpg"
    rows_img = np.concatenate([np.repeat(np.arange(n_images), counts),
                               np.flatnonzero(counts == 0)])
    rows_img.sort(kind="stable")
    is_box = np.ones(len(rows_img), dtype=bool)
    first_empty = np.zeros(len(rows_img), dtype=bool)
    is_box[np.isin(rows_img, np.flatnonzero(counts == 0))] = False
    del first_empty
    n = len(rows_img)
    W, H = wh[rows_img, 0].astype(float), wh[rows_img, 1].astype(float)
    x = np.round(rng.random(n) * W * 0.8, 2)
    y = np.round(rng.random(n) * H * 0.8, 2)
    w = np.round(1 + rng.random(n) * (W - x - 1), 2)
    h = np.round(1 + rng.random(n) * (H - y - 1), 2)
    code = rng.integers(0, len(NAMES) - 1, n)  # the last category never gets a box
    for arr in (x, y, w, h):
        arr[~is_box] = np.nan
    code[~is_box] = -1
    crowd = pd.array(rng.random(n) < 0.01, dtype="boolean")
    crowd[~is_box] = pd.NA
    cid = pd.array(np.where(is_box, cat_ids[np.maximum(code, 0)], 0), dtype="Int64")
    cid[~is_box] = pd.NA
    frame = pd.DataFrame({
        "image_id": rows_img + 1, "file_name": pd.array(names.to_numpy()[rows_img], dtype="string"),
        "width": pd.array(wh[rows_img, 0], dtype="Int64"), "height": pd.array(wh[rows_img, 1], dtype="Int64"),
        "category": categorical(code, NAMES), "category_id": cid,
        "x": x, "y": y, "w": w, "h": h, "iscrowd": crowd,
    })
    frame = validate_frame(frame)
    frame.attrs["category_ids"] = dict(zip(NAMES, cat_ids.tolist()))
    return frame


# ---------------------------------------------------------------- methods (run in a child process)

def _coco_aion(path: str):
    from aion_pandas.formats import read_coco
    return read_coco(path)


def _coco_read_export(path: str):
    import aion_pandas as aion
    return aion.read_export(path)


def _coco_pycocotools_pandas(path: str):
    import contextlib
    import io

    import numpy as np
    import pandas as pd
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(path)
    images = pd.DataFrame(coco.dataset["images"])[["id", "file_name", "width", "height"]]
    anns = pd.DataFrame(coco.dataset["annotations"])
    boxes = np.array(anns["bbox"].tolist(), dtype=float).reshape(-1, 4)
    anns = anns.drop(columns=["bbox"]).assign(x=boxes[:, 0], y=boxes[:, 1], w=boxes[:, 2], h=boxes[:, 3])
    cats = {c["id"]: c["name"] for c in coco.dataset["categories"]}
    frame = images.rename(columns={"id": "image_id"}).merge(
        anns.rename(columns={"id": "annotation_id"}), on="image_id", how="left")
    frame["category"] = pd.Categorical(frame["category_id"].map(cats), categories=list(cats.values()))
    frame["iscrowd"] = frame["iscrowd"].astype("boolean")
    return frame


def _coco_supervision(path: str):
    import supervision as sv
    return sv.DetectionDataset.from_coco(images_directory_path=str(Path(path).parent / "images"),
                                         annotations_path=path)


def _csv_aion(path: str):
    from aion_pandas.formats import read_csv
    return read_csv(path)


def _csv_read_export(path: str):
    import aion_pandas as aion
    return aion.read_export(path)


def _csv_pandas(path: str):
    import pandas as pd
    return pd.read_csv(path)


def _csv_pandas_pyarrow(path: str):
    import pandas as pd
    return pd.read_csv(path, engine="pyarrow")


def _write_coco(path: str):
    from aion_pandas.formats import write_coco
    return _timed_write(write_coco, path, ".json")


def _write_csv(path: str):
    from aion_pandas.formats import write_csv
    return _timed_write(write_csv, path, ".csv")


def _timed_write(writer, path: str, suffix: str):
    """Generate the frame (not timed), then time the writer; returns (rows, seconds, peak MiB
    sampled during the write, frame included)."""
    import threading
    import warnings

    n_images, n_boxes = SIZES[os.environ.get("BENCH_READERS_SIZE", "S")]
    frame = generate(n_images, n_boxes)
    peak, stop = [0], threading.Event()

    def sample() -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not stop.is_set():
            with open("/proc/self/statm") as fh:
                peak[0] = max(peak[0], int(fh.read().split()[1]) * page)
            stop.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        writer(frame, str(Path(path).with_name("written" + suffix)))
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    return len(frame), seconds, peak[0] / 2**20


METHODS = {
    "coco: aion_pandas.read_coco": ("coco", _coco_aion, "aion_pandas.formats.coco"),
    "coco: aion.read_export (sniffed)": ("coco", _coco_read_export, "aion_pandas.formats.coco"),
    "coco: pycocotools COCO + pandas": ("coco", _coco_pycocotools_pandas, "pycocotools.coco"),
    "coco: supervision from_coco": ("coco", _coco_supervision, "supervision"),
    "csv: aion_pandas.read_csv": ("csv", _csv_aion, "aion_pandas.formats.csv"),
    "csv: aion.read_export (sniffed)": ("csv", _csv_read_export, "aion_pandas.formats.csv"),
    "csv: pandas.read_csv (C engine)": ("csv", _csv_pandas, "pandas"),
    "csv: pandas.read_csv (pyarrow engine)": ("csv", _csv_pandas_pyarrow, "pyarrow.csv"),
    "write: aion_pandas.write_coco": ("coco", _write_coco, "aion_pandas.formats.coco"),
    "write: aion_pandas.write_csv": ("csv", _write_csv, "aion_pandas.formats.csv"),
}


def _child(method: str, path: str) -> None:
    import importlib

    import pandas  # noqa: F401  (imports are not timed: every method pays them alike)

    _, fn, module = METHODS[method]
    importlib.import_module(module)
    if method.startswith("write"):
        rows, seconds, peak_mib = fn(path)
        print(json.dumps({"seconds": seconds, "peak_mib": peak_mib, "rows": rows}))
        return
    start = time.perf_counter()
    result = fn(path)
    seconds = time.perf_counter() - start
    peak_kib = _peak_kib()
    print(json.dumps({"seconds": seconds, "peak_mib": peak_kib / 1024, "rows": len(result)}))


def _peak_kib() -> int:
    """This process's peak RSS: VmHWM (ru_maxrss keeps the parent's peak across fork and exec, so
    every child would report at least what the parent held when it generated the data)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run(method: str, path: Path, size: str) -> dict:
    env = {**os.environ, "TQDM_DISABLE": "1", "BENCH_READERS_SIZE": size}
    out = subprocess.run([sys.executable, __file__, "--child", method, str(path)], check=True,
                         capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="S")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="", help="run only methods whose name matches this regex")
    parser.add_argument("--dir", default=None, help="keep the generated files here")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds to wait after each run")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return

    n_images, n_boxes = SIZES[args.size]
    workdir = Path(args.dir or tempfile.mkdtemp(prefix=f"bench-readers-{args.size}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "images").mkdir(exist_ok=True)
    files = {"coco": workdir / "instances.json", "csv": workdir / "export.csv"}
    if not all(p.exists() for p in files.values()):
        import warnings

        from aion_pandas.formats import write_coco, write_csv
        frame = generate(n_images, n_boxes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for fmt, writer in (("coco", write_coco), ("csv", write_csv)):
                start = time.perf_counter()
                writer(frame, files[fmt])
                print(f"wrote {fmt:4} {files[fmt].stat().st_size / 2**20:7.1f} MiB in "
                      f"{time.perf_counter() - start:5.2f} s  ({files[fmt]})")
        del frame
        os.sync()  # no writeback of the new files during the timings

    print(f"\nsize {args.size}: {n_images:,} images / {n_boxes:,} boxes; median of {args.runs} runs, "
          "each in its own process\n")
    print("(write rows: peak RSS sampled during the write, the frame included)\n")
    print(f"| {'method':40} | size | median s | boxes/s    | peak RSS MiB |")
    print(f"|{'-' * 42}|------|----------|------------|--------------|")
    chosen = [m for m in METHODS if not args.only or re.search(args.only, m)]
    absent = [m for m in chosen if importlib.util.find_spec(METHODS[m][2].split(".")[0]) is None]
    if absent:  # a peer from the bench extra (pip install -e ".[bench]") that is not installed
        print(f"not installed, left out: {', '.join(absent)}\n")
        chosen = [m for m in chosen if m not in absent]
    runs: dict[str, list[dict]] = {m: [] for m in chosen}
    # Round robin within each group of rivals (coco readers, csv readers, writers), so a busy moment
    # of the machine hits each of them alike; each round starts one method later (so the run right
    # after the data's generation is not always the same method's), and a pause after every run.
    # Memory a large process frees (supervision holds ~1 GB) goes back to this VM's host about 2 s later
    # and is slow to touch again (the README's Benchmarks section says why): measured, read_csv took 0.95 s straight after supervision, 0.70 s ten
    # seconds later and 0.39 s after a run of its own size. Grouping keeps a method from always
    # following the heaviest peer of another format, and the light csv group runs before the heavy
    # coco group (after it, every csv reader ran 10-100% slower).
    groups: dict[str, list[str]] = {"csv": [], "coco": [], "write": []}
    for method in chosen:
        groups.setdefault(method.split(":", 1)[0], []).append(method)
    for group in (g for g in groups.values() if g):
        for round_ in range(args.runs):
            for method in group[round_ % len(group):] + group[:round_ % len(group)]:
                runs[method].append(_run(method, files[METHODS[method][0]], args.size))
                time.sleep(args.pause)
    for method in chosen:
        median = statistics.median(r["seconds"] for r in runs[method])
        peak = max(r["peak_mib"] for r in runs[method])
        print(f"| {method:40} | {args.size:4} | {median:8.2f} | {n_boxes / median:10,.0f} | {peak:12,.0f} |",
              flush=True)
    _ratios(runs)


def _ratios(runs: dict[str, list[dict]]) -> None:
    """How we compare with each peer in this run (the issue's targets in brackets)."""
    med = {m: statistics.median(r["seconds"] for r in v) for m, v in runs.items()}
    peak = {m: max(r["peak_mib"] for r in v) for m, v in runs.items()}
    lines = []
    for ours in ("coco: aion_pandas.read_coco", "coco: aion.read_export (sniffed)"):
        for peer, target in (("coco: pycocotools COCO + pandas", ">= 5x"), ("coco: supervision from_coco", "")):
            if ours in med and peer in med:
                lines.append(f"{ours[6:]} is {med[peer] / med[ours]:.1f}x faster than {peer[6:]}"
                             + (f" [{target}]" if target else ""))
        if ours in peak and "coco: pycocotools COCO + pandas" in peak:
            lines.append(f"{ours[6:]} peak RSS is {peak[ours] / peak['coco: pycocotools COCO + pandas']:.0%}"
                         " of pycocotools + pandas [<= 50%]")
    for ours in ("csv: aion_pandas.read_csv", "csv: aion.read_export (sniffed)"):
        for peer in ("csv: pandas.read_csv (C engine)", "csv: pandas.read_csv (pyarrow engine)"):
            if ours in med and peer in med:
                target = " [<= 1.5x]" if "C engine" in peer else ""
                lines.append(f"{ours[5:]} takes {med[ours] / med[peer]:.2f}x the time of {peer[5:]}{target}")
    if lines:
        print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
