"""YOLO and Pascal VOC zips: our readers and writers against their peers, in one run.

Data: a fixed-seed canonical frame (S = 10,000 images / 100,000 boxes, L = 100,000 / 1,000,000),
20 categories (unicode names among them), ~5% images without a box, the service's extras
(image_url, item_id, description, tags, score), written once with our writers. Every method runs
in its own subprocess (so its peak RSS is its own), three times; the table shows the median.
Imports happen before the timings, as in bench_readers.py.

Our YOLO writer stores the label files (deflating 100,000 small members costs more to undo than
the parse); the rows marked "labels deflated" read a copy with every member deflated, as a zip
made by hand would be.

Ours is timed on the path a user calls, ``aion.read_export(path)`` (the format sniffed), on the
zip and on the same zip unpacked into a folder.

Peers: reading every member of the zip with ``zipfile`` and doing nothing else (the floor);
``numpy.loadtxt`` file by file for YOLO; ``xml.etree.ElementTree`` file by file for VOC. Both
peers build the same frame as ours with pandas: one row per box with the manifest's image columns,
pixel boxes, and a row for each image without a box (the folder peer only parses the label files). Writers are timed without loading the frame;
their peak RSS includes the frame itself.

    .venv/bin/python bench/bench_readers_zip.py            # S
    .venv/bin/python bench/bench_readers_zip.py --size L   # L (heavy: run alone)
    .venv/bin/python bench/bench_readers_zip.py --size L --dir /tmp/bench-zip  # data kept, reused
"""
from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile

import numpy as np
import pandas as pd

SIZES = {"S": (10_000, 100_000), "L": (100_000, 1_000_000)}
NAMES = [f"class_{i:02d}" for i in range(16)] + ["café", "自転車", "traffic light", "a&b <c>"]


def make_frame(n_images: int, n_boxes: int, seed: int = 7) -> pd.DataFrame:
    """A canonical frame like the service's exporter builds (fixed seed)."""
    rng = np.random.default_rng(seed)
    labelled = rng.random(n_images) > 0.05
    owners = np.flatnonzero(labelled)
    box_image = np.sort(rng.choice(owners, n_boxes))
    empty = np.flatnonzero(~labelled)
    width = rng.integers(320, 1920, n_images)
    height = rng.integers(240, 1080, n_images)
    bw = width[box_image] * rng.uniform(0.02, 0.5, n_boxes)
    bh = height[box_image] * rng.uniform(0.02, 0.5, n_boxes)
    bx = rng.uniform(0, 1, n_boxes) * (width[box_image] - bw)
    by = rng.uniform(0, 1, n_boxes) * (height[box_image] - bh)
    image = np.concatenate([box_image, empty])
    n_empty = len(empty)
    codes = np.concatenate([rng.integers(0, len(NAMES), n_boxes), np.full(n_empty, -1)])
    names = sorted(NAMES)
    ids = np.array([3 * i + 2 for i in range(len(names))])  # not contiguous
    nan = np.full(n_empty, np.nan)
    file_names = np.array([f"batch{i % 3}/img_{i:06d}.jpg" for i in range(n_images)], dtype=object)
    frame = pd.DataFrame({
        "dataset_id": "ds_bench",
        "image_id": image + 1,
        "file_name": file_names[image],
        "width": width[image], "height": height[image],
        "category": pd.Categorical.from_codes(codes, categories=names),
        "category_id": pd.array(np.where(codes >= 0, ids[codes], 0), dtype="Int64"),
        "x": np.concatenate([bx, nan]), "y": np.concatenate([by, nan]),
        "w": np.concatenate([bw, nan]), "h": np.concatenate([bh, nan]),
        "score": np.concatenate([rng.uniform(0.25, 1, n_boxes), nan]),
        "image_url": np.array([f"http://127.0.0.1:8765/api/v2/user-files/f{i}/download"
                               for i in range(n_images)], dtype=object)[image],
        "item_id": np.array([f"item_{i}" for i in range(n_images)], dtype=object)[image],
        "item_status": "completed", "description": "a generated scene",
    })
    frame.loc[codes < 0, "category_id"] = pd.NA
    frame["tags"] = pd.Series([["generated", "bench"]] * len(frame), dtype=object)
    return frame.sort_values("image_id", kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# methods (each returns the number of boxes it read)


def floor_read_members(path: str) -> int:
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            archive.read(info)
    return 0


def aion_read_export(path: str) -> int:
    """Ours, on the path a user calls: the format sniffed from the names in the zip or folder."""
    import aion_pandas as aion
    return int(aion.read_export(path)["x"].notna().sum())


def _manifest_images(archive: zipfile.ZipFile) -> pd.DataFrame:
    manifest = pd.read_csv(io.BytesIO(archive.read("manifest.csv")), keep_default_na=False,
                           na_values=[""], dtype={"file_name": "string", "image_url": "string",
                                                  "item_id": "string", "description": "string",
                                                  "dataset_id": "string", "item_status": "string"})
    manifest["tags"] = [json.loads(t) for t in manifest["tags"]]
    return manifest.set_index("label_file")


def _frame(images: pd.DataFrame, files: list[str], counts: np.ndarray, boxes: dict) -> pd.DataFrame:
    """The peers' frame: one row per box with its image's manifest columns, plus image-only rows."""
    image_rows = images.loc[files]
    frame = image_rows.iloc[np.repeat(np.arange(len(files)), counts)].reset_index(drop=True)
    for name, values in boxes.items():
        frame[name] = values
    empty = image_rows.iloc[np.flatnonzero(counts == 0)].reset_index(drop=True)
    return pd.concat([frame, empty], ignore_index=True).sort_values("image_id", kind="stable")


def numpy_loadtxt_yolo(path: str) -> int:
    """Peer: each label file with numpy.loadtxt, then the same frame (manifest columns, pixels)."""
    arrays, files, counts = [], [], []
    with zipfile.ZipFile(path) as archive:
        images = _manifest_images(archive)
        names = archive.read("classes.txt").decode().splitlines()
        for info in archive.infolist():
            if info.filename.startswith("labels/"):
                rows = np.loadtxt(io.BytesIO(archive.read(info)), ndmin=2)
                arrays.append(rows[:, :6] if rows.shape[1] >= 6 else
                              np.column_stack([rows, np.full(len(rows), np.nan)]))
                files.append(info.filename)
                counts.append(len(rows))
    values = np.concatenate([a for a in arrays if len(a)])
    counts = np.array(counts)
    width = np.repeat(images.loc[files, "width"].to_numpy(dtype=float), counts)
    height = np.repeat(images.loc[files, "height"].to_numpy(dtype=float), counts)
    boxes = {"category": pd.Categorical.from_codes(values[:, 0].astype(int), categories=names),
             "x": (values[:, 1] - values[:, 3] / 2) * width, "y": (values[:, 2] - values[:, 4] / 2) * height,
             "w": values[:, 3] * width, "h": values[:, 4] * height, "score": values[:, 5]}
    return int(_frame(images, files, counts, boxes)["x"].notna().sum())


def numpy_loadtxt_yolo_folder(path: str) -> int:
    """Peer: each label file of the unpacked folder with numpy.loadtxt (no frame built)."""
    boxes = 0
    for folder, _, names in os.walk(os.path.join(path, "labels")):
        for name in names:
            boxes += len(np.loadtxt(os.path.join(folder, name), ndmin=2))
    return boxes


def etree_voc(path: str) -> int:
    """Peer: each annotation file with xml.etree, then the same frame (manifest columns)."""
    import xml.etree.ElementTree as ET
    rows, files, counts = [], [], []
    with zipfile.ZipFile(path) as archive:
        images = _manifest_images(archive)
        for info in archive.infolist():
            if not info.filename.endswith(".xml"):
                continue
            root = ET.fromstring(archive.read(info))
            n = 0
            for obj in root.iter("object"):
                box = obj.find("bndbox")
                x1, y1, x2, y2 = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
                rows.append((obj.findtext("name"), x1, y1, x2 - x1, y2 - y1,
                             obj.findtext("difficult") == "1", obj.findtext("truncated") == "1"))
                n += 1
            files.append(info.filename)
            counts.append(n)
    names, x, y, w, h, difficult, truncated = zip(*rows)
    boxes = {"category": pd.Categorical(names), "x": np.array(x), "y": np.array(y),
             "w": np.array(w), "h": np.array(h), "difficult": np.array(difficult),
             "truncated": np.array(truncated)}
    return int(_frame(images, files, np.array(counts), boxes)["x"].notna().sum())


def aion_write_yolo(path: str) -> int:
    return _write("yolo", path)


def aion_write_voc(path: str) -> int:
    return _write("voc", path)


def _write(fmt: str, path: str) -> int:
    from aion_pandas.formats.voc import write_voc
    from aion_pandas.formats.yolo import write_yolo
    frame = pd.read_pickle(path)
    _FRAME_RSS.append(_rss())
    out = path + f".{fmt}.out.zip"
    start = time.perf_counter()
    (write_yolo if fmt == "yolo" else write_voc)(frame, out)
    _WRITE_SECONDS.append(time.perf_counter() - start)
    os.unlink(out)
    return int(frame["x"].notna().sum())


_WRITE_SECONDS: list[float] = []
_FRAME_RSS: list[int] = []
METHODS = {
    "yolo": [("zipfile: read members only (floor)", floor_read_members, "yolo.zip"),
             ("aion read_export", aion_read_export, "yolo.zip"),
             ("numpy.loadtxt per file", numpy_loadtxt_yolo, "yolo.zip"),
             ("zipfile floor, labels deflated", floor_read_members, "yolo_deflated.zip"),
             ("aion read_export, labels deflated", aion_read_export, "yolo_deflated.zip"),
             ("aion read_export, folder", aion_read_export, "yolo_folder"),
             ("numpy.loadtxt per file, folder", numpy_loadtxt_yolo_folder, "yolo_folder"),
             ("aion write_yolo (frame -> zip)", aion_write_yolo, "frame.pkl")],
    "voc": [("zipfile: read members only (floor)", floor_read_members, "voc.zip"),
            ("aion read_export", aion_read_export, "voc.zip"),
            ("xml.etree per file", etree_voc, "voc.zip"),
            ("aion write_voc (frame -> zip)", aion_write_voc, "frame.pkl")],
}


def _deflated_copy(src: str, dest: str) -> None:
    """The same YOLO zip with every member deflated (what zipping the folder by hand gives)."""
    with zipfile.ZipFile(src) as source, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            out.writestr(info.filename, source.read(info))


def _peak_rss() -> int:
    """This process's peak RSS in bytes: VmHWM (ru_maxrss would count the parent's RSS at fork)."""
    return _status("VmHWM:") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _rss() -> int:
    return _status("VmRSS:")


def _status(key: str) -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# what each method imports, done before its timings (as bench_readers.py does): a read is timed,
# not the import of its library (aion_pandas.formats.yolo: ~0.06 s after pandas; yaml, which it
# imports on first use for data.yaml, ~0.01 s)
_IMPORTS = {aion_read_export: ("aion_pandas.reading", "aion_pandas.formats.yolo",
                               "aion_pandas.formats.voc", "yaml", "PIL.Image"),
            etree_voc: ("xml.etree.ElementTree",),
            aion_write_yolo: ("aion_pandas.formats.yolo", "yaml"),
            aion_write_voc: ("aion_pandas.formats.voc",)}


def _child(fmt: str, index: int, path: str, repeat: int) -> None:
    """Run one method ``repeat`` times in this process; print median seconds, boxes, peak RSS."""
    import importlib

    warnings.simplefilter("ignore")
    _, func, _ = METHODS[fmt][index]
    for module in _IMPORTS.get(func, ()):
        importlib.import_module(module)
    times, boxes = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        boxes = func(path)
        times.append(time.perf_counter() - start)
    if _WRITE_SECONDS:  # a writer: time the write only, not loading the pickled frame
        times = _WRITE_SECONDS
    peak = _peak_rss()
    print(json.dumps({"seconds": statistics.median(times), "boxes": boxes, "peak": peak,
                      "frame": max(_FRAME_RSS, default=0)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="S")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default="yolo,voc")
    parser.add_argument("--pause", type=float, default=3.0, help="seconds to wait before each method")
    parser.add_argument("--only", default="", help="run only the methods whose label has this text")
    parser.add_argument("--dir", default=None, help="keep the generated files here (reused when there)")
    parser.add_argument("--child", nargs=3, metavar=("FMT", "INDEX", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), args.child[2], args.repeat)
        return
    from aion_pandas.formats.voc import write_voc
    from aion_pandas.formats.yolo import write_yolo
    n_images, n_boxes = SIZES[args.size]
    with tempfile.TemporaryDirectory(prefix="bench-zip-") as tmp:
        warnings.simplefilter("ignore")
        if args.dir:
            tmp = os.path.join(args.dir, args.size)
            os.makedirs(tmp, exist_ok=True)
        files = {"frame.pkl": os.path.join(tmp, "frame.pkl"), "yolo.zip": os.path.join(tmp, "y.zip"),
                 "voc.zip": os.path.join(tmp, "v.zip"),
                 "yolo_deflated.zip": os.path.join(tmp, "yd.zip"),
                 "yolo_folder": os.path.join(tmp, "yolo_folder")}
        if not all(os.path.exists(p) for p in files.values()):  # made once per --dir and size
            frame = make_frame(n_images, n_boxes)
            frame.to_pickle(files["frame.pkl"])
            write_yolo(frame, files["yolo.zip"])
            _deflated_copy(files["yolo.zip"], files["yolo_deflated.zip"])
            with zipfile.ZipFile(files["yolo.zip"]) as archive:
                archive.extractall(files["yolo_folder"])  # our own zip
            write_voc(frame, files["voc.zip"])
            del frame
            os.sync()  # no writeback of the new files during the timings
        deflated = os.path.getsize(files["yolo_deflated.zip"]) / 2**20 \
            if os.path.exists(files["yolo_deflated.zip"]) else float("nan")
        print(f"size {args.size}: {n_images:,} images, {n_boxes:,} boxes; YOLO zip "
              f"{os.path.getsize(files['yolo.zip']) / 2**20:.1f} MiB (labels stored; "
              f"{deflated:.1f} MiB deflated), VOC zip "
              f"{os.path.getsize(files['voc.zip']) / 2**20:.1f} MiB; median of {args.repeat}")
        print(f"| {'method':<36} | {'format':<6} | size | {'median s':>8} | {'boxes/s':>11} | "
              f"{'peak RSS':>9} |")
        print(f"|{'-' * 38}|{'-' * 8}|------|{'-' * 10}|{'-' * 13}|{'-' * 11}|")
        seconds: dict[tuple[str, str], float] = {}
        for fmt in args.formats.split(","):
            for index, (label, _, key) in enumerate(METHODS[fmt]):
                if args.only not in label:
                    continue
                time.sleep(args.pause)  # let the VM settle after the last (maybe large) process
                out = subprocess.run([sys.executable, __file__, "--repeat", str(args.repeat),
                                      "--child", fmt, str(index), files[key]],
                                     capture_output=True, text=True, check=False)
                if out.returncode:
                    print(f"| {label:<36} | {fmt:<6} | {args.size:<4} | failed: "
                          f"{out.stderr.strip().splitlines()[-1][:60]}")
                    continue
                result = json.loads(out.stdout.strip().splitlines()[-1])
                seconds[(fmt, label)] = result["seconds"]
                rate = f"{n_boxes / result['seconds']:,.0f}"
                note = f" process with the frame loaded: {result['frame'] / 2**20:.0f} MiB" \
                    if result["frame"] else ""
                print(f"| {label:<36} | {fmt:<6} | {args.size:<4} | {result['seconds']:>8.2f} | "
                      f"{rate:>11} | {result['peak'] / 2**20:>6.0f} MiB |{note}", flush=True)
        _ratios(seconds)


def _ratios(seconds: dict[tuple[str, str], float]) -> None:
    """How we compare with each peer in this run (the issue's targets in brackets; "the time
    of" a floor is ours divided by it, "faster than" a peer is its time divided by ours)."""
    pairs = [("yolo", "aion read_export", "numpy.loadtxt per file", "faster than", ">= 5x"),
             ("yolo", "aion read_export", "zipfile: read members only (floor)", "the time of", ""),
             ("yolo", "aion read_export, labels deflated", "numpy.loadtxt per file", "faster than", ""),
             ("yolo", "aion read_export, folder", "numpy.loadtxt per file, folder", "faster than", ">= 3x"),
             ("yolo", "aion read_export, folder", "aion read_export", "the time of", "<= 2x"),
             ("voc", "aion read_export", "xml.etree per file", "faster than", ">= 2x"),
             ("voc", "aion read_export", "zipfile: read members only (floor)", "the time of", "")]
    lines = []
    for fmt, ours, peer, relation, target in pairs:
        if (fmt, ours) in seconds and (fmt, peer) in seconds:
            a, b = seconds[(fmt, ours)], seconds[(fmt, peer)]
            ratio = b / a if relation == "faster than" else a / b
            lines.append(f"{ours} is {ratio:.2f}x {relation} {peer}" + (f" [{target}]" if target else ""))
    if lines:
        print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
