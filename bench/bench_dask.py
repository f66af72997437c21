"""Benchmark of ``load(engine="dask")`` on a 2-worker LocalCluster against ``load()`` in pandas.

N datasets of 100,000 boxes each (10,000 images x 10 boxes) are imported straight into a fresh data
dir's store (``Store.import_batch``, as bench_service.py does), a real ``python -m aion_pandas serve``
is started on it and the datasets are created over HTTP. Then, per run, a fresh "notebook" process
(its own cache, so every run exports and downloads anew) does the same work both ways, in the same
run, alternating: boxes per class of every dataset,

- pandas: ``ready.aion.load(fmt)`` then ``groupby("category").size()``;
- dask: ``ready.aion.load(fmt, engine="dask").groupby("category").size().compute()`` on a
  ``LocalCluster(n_workers=2, threads_per_worker=1)`` started (and its workers' imports done) before
  the clock, as in a notebook that already has one; its start is shown.

Wall time and the notebook process's peak RSS (sampled every 10 ms; also above its baseline after
imports) are the medians of ``--repeat`` runs; the workers' peak RSS is shown for the dask rows.
CPU s is the user + system time of the service, the notebook and its workers during a run, and
cores busy that over the wall time: on 2 cores, a path already near 2 cores busy cannot get faster
without doing less work. The lines after the table say how fast the dask path's work could be
done on this machine at best: its CPU seconds spread over every core the bench may use.
The machine is shared: run it under ``flock /tmp/bench.lock``.

    flock /tmp/bench.lock .venv/bin/python bench/bench_dask.py [--datasets 12 24] [--repeat 3] [--format coco]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from _peak_rss import PeakRss  # bench/ is the script's folder, first on sys.path

KEY = "aion_bench_dask_key_0000000000000000"


# --------------------------------------------------------------------------------------------
# the notebook process (a child of the bench)


def _cpu_seconds(proc: psutil.Process) -> float:
    """User + system CPU seconds of a process and its live descendants (a cluster's workers)."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def child(engine: str, base_url: str, fmt: str, n: int, cache: str) -> dict:
    import dask.dataframe  # noqa: F401  (both engines import the same, so baselines compare)
    import distributed

    import aion_pandas as aion
    from aion_pandas.client import Client

    api = Client(os.environ.pop("AION_BENCH_KEY"), base_url, cache_dir=cache)
    ready = aion.datasets(client=api)
    ready = ready[ready["status"] == "ready"].head(n)
    assert len(ready) == n, f"the service has {len(ready)} ready datasets, not {n}"
    cluster = client = None
    started = 0.0
    if engine == "dask":
        t = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
        client.run(__import__, "aion_pandas.dask_frames")  # the workers' imports, as on a warm cluster
        started = time.perf_counter() - t
    baseline = psutil.Process().memory_info().rss
    cpu_before = _cpu_seconds(psutil.Process())
    exported = None
    with PeakRss() as rss:
        t = time.perf_counter()
        if engine == "pandas":
            frame = ready.aion.load(fmt, progress=False)
            counts = frame.groupby("category", observed=True).size()
            rows = len(frame)
            del frame
        else:
            lazy = ready.aion.load(fmt, engine="dask", progress=False)
            exported = time.perf_counter() - t
            counts = lazy.groupby("category", observed=True).size().compute()
            rows = None
        wall = time.perf_counter() - t
    workers = None
    cpu = _cpu_seconds(psutil.Process())  # the notebook and its cluster's worker processes
    if client is not None:
        workers = max(client.run(lambda: __import__("psutil").Process().memory_info().rss).values())
        client.close()
        cluster.close()
    return {"wall": wall, "peak": rss.peak, "baseline": baseline, "boxes": int(counts.sum()), "rows": rows,
            "cluster_start": started, "worker_rss": workers,
            "exported": exported, "cpu": cpu - cpu_before}


# --------------------------------------------------------------------------------------------
# the bench


def seed(data_dir: Path, n: int) -> None:
    """N batches of 10,000 images x 10 boxes imported into the store (as bench_service.py does)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_service import make_items

    from aion_pandas.server.auth import tenant_id
    from aion_pandas.server.store import Store

    store = Store(data_dir / "aion.sqlite3", migrate=True)
    for k in range(n):
        store.import_batch(tenant_id(KEY), f"bench {k}", make_items(10_000, 10, seed=k))


def create(base: str, n: int) -> None:
    import requests

    auth = {"Authorization": f"Bearer {KEY}"}
    batches = requests.get(f"{base}/batches", headers=auth, params={"limit": 100}, timeout=60).json()
    ids = [b.get("batch_id") or b.get("id") for b in batches.get("batches", batches.get("items", []))]
    for k, batch_id in enumerate(sorted(ids)[:n]):
        requests.post(f"{base}/datasets", json={"batch_id": batch_id, "name": f"bench {k}"}, headers=auth,
                      timeout=60).raise_for_status()
    while True:
        page = requests.get(f"{base}/datasets", headers=auth, params={"limit": 100}, timeout=60).json()
        if sum(d["status"] == "ready" for d in page["datasets"]) >= n:
            return
        time.sleep(0.2)


def run_child(engine: str, base: str, fmt: str, n: int, server: psutil.Process) -> dict:
    """One notebook run; ``cpu`` adds the service's CPU seconds spent meanwhile (its exports)."""
    served = _cpu_seconds(server)
    cache = tempfile.mkdtemp(prefix="aion-bench-cache-")
    env = {**os.environ, "AION_BENCH_KEY": KEY, "TQDM_DISABLE": "1"}
    try:
        out = subprocess.run([sys.executable, __file__, "--child", engine, "--base-url", base, "--format", fmt,
                              "--n", str(n), "--cache", cache], env=env, capture_output=True, text=True,
                             timeout=1800)
        if out.returncode != 0:
            raise RuntimeError(f"{engine} run failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["cpu"] += _cpu_seconds(server) - served
        return result
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=int, nargs="+", default=[12, 24])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--format", default="coco")
    parser.add_argument("--child", choices=["pandas", "dask"])
    parser.add_argument("--base-url")
    parser.add_argument("--n", type=int)
    parser.add_argument("--cache")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.base_url, args.format, args.n, args.cache)))
        return

    from aion_pandas.embedded import start_server_process

    most = max(args.datasets)
    cores = len(os.sched_getaffinity(0))  # the cores this bench may use
    data_dir = Path(tempfile.mkdtemp(prefix="aion-bench-dask-"))
    try:
        t = time.perf_counter()
        seed(data_dir, most)
        proc, info = start_server_process(data_dir, api_keys=(KEY,), detached=False, timeout=120)
        try:
            create(info["base_url"], most)
            print(f"dask bench: {most} datasets of 100,000 boxes seeded and ready in "
                  f"{time.perf_counter() - t:.0f} s; format {args.format}; medians of {args.repeat} runs; "
                  f"{cores} cores")
            lines = ["", "| datasets | engine | wall s | vs pandas | peak MiB | above baseline MiB | vs pandas "
                         "| workers' peak MiB | cluster start s | of which exports s | CPU s | cores busy |",
                     "|---|---|---|---|---|---|---|---|---|---|---|---|"]
            server = psutil.Process(proc.pid)
            floors = []
            for n in args.datasets:
                runs: dict[str, list[dict]] = {"pandas": [], "dask": []}
                for _ in range(args.repeat):
                    for engine in ("pandas", "dask"):
                        runs[engine].append(run_child(engine, info["base_url"], args.format, n, server))
                assert {r["boxes"] for rs in runs.values() for r in rs} == {n * 100_000}, runs
                med = {e: {k: statistics.median(r[k] for r in rs) for k in ("wall", "peak", "baseline", "cpu")}
                       for e, rs in runs.items()}
                p = med["pandas"]
                for engine in ("pandas", "dask"):
                    m = med[engine]
                    above, p_above = m["peak"] - m["baseline"], p["peak"] - p["baseline"]
                    dask_only = "- | - | - |"
                    if engine == "dask":
                        workers, start, exported = (statistics.median(r[k] for r in runs[engine])
                                                    for k in ("worker_rss", "cluster_start", "exported"))
                        dask_only = f"{workers / 2**20:.0f} | {start:.1f} | {exported:.2f} |"
                    lines.append(f"| {n} | {engine} | {m['wall']:.2f} | {m['wall'] / p['wall']:.2f}x | "
                                 f"{m['peak'] / 2**20:.0f} | {above / 2**20:.0f} | {above / p_above:.2f}x | "
                                 f"{dask_only} {m['cpu']:.1f} | {m['cpu'] / m['wall']:.2f} |")
                least = med["dask"]["cpu"] / cores  # every core busy: no schedule of this work does better
                floors.append(f"{n} datasets: the dask path's {med['dask']['cpu']:.2f} CPU s on {cores} cores "
                              f"take at least {least:.2f} s, {least / p['wall']:.2f}x of pandas' wall time")
            print("\n".join(lines + ["", *floors]))
            print("\ntargets: dask wall <= 0.75x pandas; notebook peak above baseline <= 0.25x pandas; "
                  "from 12 to 24 datasets the dask notebook stays flat while pandas doubles")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
