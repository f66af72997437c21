"""Benchmark of the team deployment against one machine, both in the same run, printed as tables.

1. A 1,000,000-box dataset (100,000 images x 10) exported in each format over HTTP by one ``serve``
   process on SQLite + folder, then on PostgreSQL + S3 (a throwaway cluster and ``weed server -s3``, as
   the tests start them): median seconds of ``--repeat`` runs, the ratio, and the server's peak RSS.
2. Throughput: exports per minute of a 10,000-box dataset from 8 concurrent clients for ``--seconds``,
   on PostgreSQL + S3 with 1 replica, then 2 replicas (clients round robin over the replicas), and the
   cores each part kept busy meanwhile: the replicas, PostgreSQL and the store (on the same two cores), this
   process's client threads, and the whole machine (other jobs included).

    flock /tmp/bench.lock .venv/bin/python bench/bench_scale.py [--images 100000] [--repeat 3] [--seconds 40]
"""
from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests
from _peak_rss import PeakRss  # bench/ is the script's folder, first on sys.path
from bench_service import FORMATS, KEY, make_items

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from service_backends import S3_ENV, PostgresCluster, WeedServer, s3_client  # noqa: E402

from aion_pandas.embedded import start_server_process  # noqa: E402
from aion_pandas.server.auth import tenant_id  # noqa: E402
from aion_pandas.server.store import Store  # noqa: E402

AUTH = {"Authorization": f"Bearer {KEY}"}


class Backends:
    """SQLite + folder, and PostgreSQL + S3: the ``serve`` options and the store of each, per name."""

    def __init__(self, root: Path) -> None:
        import os

        os.environ.update(S3_ENV)
        self.root, self.pg, self.weed = root, PostgresCluster(), WeedServer(root / "weed")
        s3_client(self.weed.endpoint).create_bucket(Bucket="bench")

    def setup(self, kind: str, name: str) -> tuple[tuple[str, ...], Store]:
        """The ``serve`` options of ``name`` (a data dir under the root, its own database) and its store."""
        if kind == "sqlite":
            return (), Store(self.root / name / "aion.sqlite3", migrate=True)
        url = self.pg.create(name)
        return (("--database-url", url, "--storage", f"s3://bench/{name}", "--s3-endpoint-url", self.weed.endpoint),
                Store(url, migrate=True))

    def close(self) -> None:
        self.weed.kill()
        self.pg.stop()


def _serve(data_dir: Path, args: tuple[str, ...]):  # type: ignore[no-untyped-def]
    proc, info = start_server_process(data_dir, api_keys=(KEY,), detached=False, extra_args=args, timeout=120)
    return proc, info["base_url"]


def _cpu_seconds(procs: list[psutil.Process], descendants: bool = True) -> float:
    """User + system CPU seconds of processes (with their live and ended descendants, unless not asked)."""
    total = 0.0
    for proc in procs:
        for p in [proc, *(proc.children(recursive=True) if descendants else [])]:
            try:
                t = p.cpu_times()
                total += t.user + t.system + (t.children_user + t.children_system if descendants else 0)
            except psutil.NoSuchProcess:
                pass
    return total


def _ready_dataset(base: str, batch_id: str) -> str:
    did = requests.post(f"{base}/datasets", json={"batch_id": batch_id, "name": "bench"}, headers=AUTH,
                        timeout=60).json()["id"]
    while requests.get(f"{base}/datasets/{did}", headers=AUTH, timeout=60).json()["status"] not in ("ready", "failed"):
        time.sleep(0.05)
    return did


def big_exports(backends: Backends, images: int, repeat: int) -> list[str]:
    """Table 1: each format's export of a 1M-box dataset on both backends."""
    results: dict[str, dict[str, tuple[float, int, int]]] = {}
    for kind in ("sqlite", "postgres-s3"):
        name = f"big_{kind.replace('-', '_')}"
        args, store = backends.setup(kind, name)
        t = time.perf_counter()
        batch_id = store.import_batch(tenant_id(KEY), "bench", make_items(images, 10))
        import_s = time.perf_counter() - t
        store.close()
        proc, base = _serve(backends.root / name, args)
        try:
            did = _ready_dataset(base, batch_id)
            results[kind] = {"import": (import_s, 0, 0)}
            for fmt in FORMATS:
                times, peak, size = [], 0, 0
                for _ in range(repeat):
                    with PeakRss(proc.pid, interval=0.02) as rss:
                        t = time.perf_counter()
                        resp = requests.post(f"{base}/datasets/{did}/export", json={"format": fmt}, headers=AUTH,
                                             timeout=900)
                        times.append(time.perf_counter() - t)
                    resp.raise_for_status()
                    peak, size = max(peak, rss.peak), resp.json()["file_size_bytes"]
                fetched = requests.get(resp.json()["download_url"], timeout=600).content
                assert len(fetched) == size, (fmt, kind, len(fetched), size)
                results[kind][fmt] = (statistics.median(times), peak, size)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    n = images * 10
    lines = [f"1. export of {n:,} boxes ({images:,} images), one serve process, median of {repeat}", "",
             "| format     | SQLite+folder s | PostgreSQL+S3 s | ratio | peak MiB SQLite | peak MiB PG+S3 | file MiB |",
             "|------------|-----------------|-----------------|-------|-----------------|----------------|----------|"]
    for fmt in FORMATS:
        (a, pa, size), (b, pb, _) = results["sqlite"][fmt], results["postgres-s3"][fmt]
        lines.append(f"| {fmt:<10} | {a:15.2f} | {b:15.2f} | {b / a:5.2f} | {pa / 2**20:15.0f} | {pb / 2**20:14.0f} |"
                     f" {size / 2**20:8.1f} |")
    lines.append(f"(import into the store, bench process: SQLite {results['sqlite']['import'][0]:.1f} s, "
                 f"PostgreSQL {results['postgres-s3']['import'][0]:.1f} s)")
    return lines


def throughput(backends: Backends, seconds: float, clients: int = 8) -> list[str]:
    """Table 2: exports per minute of a 10k-box dataset, 1 replica vs 2, on PostgreSQL + S3."""
    rows = []
    for n_replicas in (1, 2):
        args, store = backends.setup("postgres-s3", f"tp_{n_replicas}")
        batch_id = store.import_batch(tenant_id(KEY), "tp", make_items(1000, 10))
        store.close()
        servers = [_serve(backends.root / f"tp{n_replicas}-{i}", (*args, "--signing-secret", "bench-secret"))
                   for i in range(n_replicas)]
        try:
            did = _ready_dataset(servers[0][1], batch_id)
            turn, done, failed, stop = itertools.count(), [], [], threading.Event()

            def client(k: int) -> None:
                with requests.Session() as session:
                    while not stop.is_set():
                        i = next(turn)
                        base = servers[i % n_replicas][1]  # each replica gets every format in turn
                        fmt = FORMATS[(i // n_replicas) % len(FORMATS)]
                        resp = session.post(f"{base}/datasets/{did}/export", json={"format": fmt}, headers=AUTH,
                                            timeout=300)
                        (done if resp.status_code == 200 else failed).append(time.perf_counter())

            postmaster = int((backends.pg.dir / "db" / "postmaster.pid").read_text().split()[0])
            parts = {"replicas": ([psutil.Process(p.pid) for p, _ in servers], True),
                     "store": ([psutil.Process(postmaster), psutil.Process(backends.weed.process.pid)], True),
                     "bench": ([psutil.Process()], False)}  # weed is this process's child: not counted here

            def cpu() -> dict[str, float]:
                times = {name: _cpu_seconds(procs, deep) for name, (procs, deep) in parts.items()}
                machine = psutil.cpu_times()
                return {**times, "machine": machine.user + machine.nice + machine.system + machine.irq + machine.softirq}

            threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
            cpu_before, start = cpu(), time.perf_counter()
            for th in threads:
                th.start()
            time.sleep(seconds)
            stop.set()
            for th in threads:
                th.join()
            elapsed, cpu_after = time.perf_counter() - start, cpu()
            cores = {name: (cpu_after[name] - cpu_before[name]) / elapsed for name in cpu_before}
            counted = [t for t in done if t - start <= seconds]
            rows.append((n_replicas, len(counted) * 60.0 / seconds, len(failed), cores))
        finally:
            for proc, _ in servers:
                proc.terminate()
            for proc, _ in servers:
                proc.wait(timeout=60)
    base = rows[0][1]
    lines = [f"2. exports per minute, 10,000-box dataset (1,000 images), {clients} concurrent clients, "
             f"{seconds:.0f} s each, PostgreSQL + S3", "",
             "| replicas | exports/min | vs 1 replica | failed | cores: replicas | PG + store | clients | machine |",
             "|----------|-------------|--------------|--------|-----------------|------------|---------|---------|"]
    lines += [f"| {n:8d} | {rate:11.1f} | {rate / base:12.2f} | {bad:6d} | {c['replicas']:15.2f} | {c['store']:10.2f} |"
              f" {c['bench']:7.2f} | {c['machine']:7.2f} |" for n, rate, bad, c in rows]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="aion-bench-scale-"))
    backends = Backends(root)
    try:
        lines = [] if args.skip_big else big_exports(backends, args.images, args.repeat) + [""]
        lines += throughput(backends, args.seconds)
        print("\n".join(lines))
    finally:
        backends.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
