"""Benchmark: ``frame.aion.check()`` against a plain pandas ``groupby().apply()`` duplicate check.

Generates (fixed seed) a canonical frame of S = 10,000 images / 100,000 boxes or L = 100,000 /
1,000,000 boxes over 20 classes (one declared with no box), ~10% images without boxes, clustered
objects (so same-class boxes overlap as in real scenes), and planted problems: exact and near
duplicates, boxes past the edge, tiny and degenerate boxes, scores out of range, crowd boxes, images
of unknown size. Then, in one process, 3 rounds round robin, median:

- ``check()``: every check, the duplicate search (exact and IoU near duplicates) included;
- ``check()`` duplicate search alone (``aion_pandas.analysis.checks.duplicates``);
- the peer: ``groupby(["dataset_id", "image_id", "category"]).apply(...)`` with, per group, exact
  copies by ``duplicated`` and a numpy IoU matrix: the usual way to write it in pandas.

Both duplicate searches must report the same rows, or the script fails.

    .venv/bin/python bench/bench_check.py            # S
    .venv/bin/python bench/bench_check.py --size L   # L (the peer takes a minute a round)
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aion_pandas  # noqa: E402,F401  (registers df.aion)
from aion_pandas.analysis._frame import columns  # noqa: E402
from aion_pandas.analysis.checks import duplicates  # noqa: E402
from aion_pandas.formats.schema import categorical  # noqa: E402

SIZES = {"S": (10_000, 100_000), "L": (100_000, 1_000_000)}
NAMES = [f"class_{k:02d}" for k in range(19)] + ["declared, no box"]
IOU = 0.9  # check's default


def generate(n_images: int, n_boxes: int, seed: int = 0) -> pd.DataFrame:
    """A canonical frame with planted problems (numpy only, deterministic)."""
    rng = np.random.default_rng(seed)
    counts = np.zeros(n_images, dtype=np.int64)
    nonempty = rng.random(n_images) >= 0.1
    counts[nonempty] = rng.multinomial(n_boxes, np.full(nonempty.sum(), 1 / nonempty.sum()))
    sizes = np.array([(640, 480), (1280, 720), (800, 600), (1024, 768), (333, 500)])
    wh = sizes[rng.integers(0, len(sizes), n_images)].astype(float)
    rows_img = np.sort(np.concatenate([np.repeat(np.arange(n_images), counts), np.flatnonzero(counts == 0)]),
                       kind="stable")
    is_box = ~np.isin(rows_img, np.flatnonzero(counts == 0))
    n = len(rows_img)
    W, H = wh[rows_img, 0], wh[rows_img, 1]
    w = np.round(W * rng.uniform(0.03, 0.3, n), 1)
    h = np.round(H * rng.uniform(0.03, 0.3, n), 1)
    x = np.round(rng.random(n) * (W - w), 1)
    y = np.round(rng.random(n) * (H - h), 1)
    code = rng.integers(0, len(NAMES) - 1, n)
    score = np.round(rng.uniform(0.3, 1.0, n), 3)
    boxes = np.flatnonzero(is_box)
    plant = rng.permutation(boxes)
    k = max(1, len(boxes) // 1000)  # each kind of problem on ~0.1% of boxes
    exact, near, past, tiny, flat, bad_score = (plant[i * k:(i + 1) * k] for i in range(6))
    for dup, shift in ((exact, 0.0), (near, 0.02)):  # copy the box before (same image when it is)
        src = dup - 1
        ok = (src >= 0) & (rows_img[np.maximum(src, 0)] == rows_img[dup]) & is_box[np.maximum(src, 0)]
        dup, src = dup[ok], src[ok]
        code[dup] = code[src]
        w[dup], h[dup] = w[src], h[src]
        x[dup], y[dup] = x[src] + shift * w[src], y[src]
    x[past] = W[past] - w[past] / 2
    w[tiny], h[tiny] = 1.0, 1.0
    h[flat] = 0.0
    score[bad_score] = 1.5
    for arr in (x, y, w, h, score):
        arr[~is_box] = np.nan
    code[~is_box] = -1
    crowd = pd.array(np.isin(np.arange(n), plant[6 * k:7 * k]), dtype="boolean")
    width = pd.array(wh[rows_img, 0].astype(np.int64), dtype="Int64")
    height = pd.array(wh[rows_img, 1].astype(np.int64), dtype="Int64")
    unknown = np.isin(rows_img, rng.choice(n_images, max(1, n_images // 1000), replace=False))
    width[unknown] = pd.NA
    height[unknown] = pd.NA
    frame = pd.DataFrame({
        "dataset_id": pd.array(["ds_bench"] * n, dtype="string"), "image_id": rows_img + 1,
        "file_name": pd.array([f"img_{i:07d}.jpg" for i in (rows_img + 1).tolist()], dtype="string"),
        "width": width, "height": height, "category": categorical(code, NAMES),
        "x": x, "y": y, "w": w, "h": h, "score": score, "iscrowd": crowd,
    })
    frame.attrs["source"] = f"bench {n_images:,} images"
    return frame


def peer_duplicates(frame: pd.DataFrame, iou: float = IOU) -> tuple[set[int], set[int]]:
    """Exact and near duplicates with ``groupby().apply()``: rows (labels) of the later box of a pair."""
    def one(group: pd.DataFrame) -> tuple[list[int], list[int]]:
        if len(group) == 1:
            return [], []
        b = group.to_numpy()
        same = (b[:, None, :] == b[None, :, :]).all(axis=2)
        repeat = np.triu(same, 1).any(axis=0)  # identical to an earlier row
        x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
        iw = np.clip(np.minimum(x1[:, None], x1[None, :]) - np.maximum(x0[:, None], x0[None, :]), 0, None)
        ih = np.clip(np.minimum(y1[:, None], y1[None, :]) - np.maximum(y0[:, None], y0[None, :]), 0, None)
        inter = iw * ih
        area = b[:, 2] * b[:, 3]
        with np.errstate(invalid="ignore", divide="ignore"):
            m = inter / (area[:, None] + area[None, :] - inter)
        candidate = ~repeat & (area > 0)
        m[~(candidate[:, None] & candidate[None, :])] = 0
        near = (np.triu(m, 1) >= iou).any(axis=0)
        return group.index[repeat].tolist(), group.index[near].tolist()

    boxes = frame[frame["x"].notna()]
    found = boxes.groupby(["dataset_id", "image_id", "category"], observed=True, sort=False)[
        ["x", "y", "w", "h"]].apply(one)
    return ({r for exact, _ in found for r in exact}, {r for _, near in found for r in near})


def ours_duplicates(frame: pd.DataFrame) -> tuple[set[int], set[int]]:
    exact, _, near, _, _ = duplicates(columns(frame, "bench"), IOU)
    return set(frame.index[exact]), set(frame.index[near])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="S")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n_images, n_boxes = SIZES[args.size]
    frame = generate(n_images, n_boxes)
    n_box = int(frame["x"].notna().sum())
    print(f"{args.size}: {n_images:,} images, {n_box:,} boxes, {len(frame):,} rows; iou={IOU}")
    methods = {
        "frame.aion.check() (all checks)": lambda: frame.aion.check(iou=IOU),
        "check's duplicate search alone": lambda: ours_duplicates(frame),
        "pandas groupby().apply() duplicates (peer)": lambda: peer_duplicates(frame),
    }
    times: dict[str, list[float]] = {name: [] for name in methods}
    answers: dict[str, object] = {}
    for _ in range(args.rounds):  # round robin: a busy moment of the shared machine hits every method
        for name, run in methods.items():
            start = time.perf_counter()
            answers[name] = run()
            times[name].append(time.perf_counter() - start)
    ours, peer = answers["check's duplicate search alone"], answers["pandas groupby().apply() duplicates (peer)"]
    found = answers["frame.aion.check() (all checks)"]
    assert ours == peer, "the duplicate searches disagree"
    by_kind = found["kind"].value_counts(sort=False)
    assert by_kind["exact_duplicate"] == len(peer[0]) and by_kind["near_duplicate"] == len(peer[1])
    peer_median = statistics.median(times["pandas groupby().apply() duplicates (peer)"])
    print(f"\n{'method':<46}{'median s':>10}{'min s':>9}{'max s':>9}{'peer / it':>11}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<46}{med:>10.2f}{min(ts):>9.2f}{max(ts):>9.2f}{peer_median / med:>10.1f}x")
    print("\nfindings:", ", ".join(f"{k} {v:,}" for k, v in by_kind.items() if v))


if __name__ == "__main__":
    main()
