"""The team deployment of deploy/compose.yaml, from real processes: API replicas and workers on one
PostgreSQL database and one S3 store (the test session's), each replica on its own port and data dir.
"""
from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

SECRET = "aion-tests-shared-signing-secret-0123456789"


@dataclass
class Replica:
    """One ``serve`` process. ``base_url`` ends in /api/v2."""
    base_url: str
    api_key: str = field(repr=False)
    other_api_key: str = field(repr=False)
    data_dir: Path
    process: subprocess.Popen = field(repr=False)

    @property
    def root_url(self) -> str:
        return self.base_url.rsplit("/api/", 1)[0]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class Deployment:
    """Replicas (RunningService each) and worker processes sharing ``database_url`` and ``storage``."""
    database_url: str
    storage: str
    endpoint: str
    keys: tuple[str, ...]
    root: Path
    replicas: list[Replica] = field(default_factory=list)
    workers: list[subprocess.Popen] = field(default_factory=list)
    _turn: itertools.count = field(default_factory=itertools.count)

    def args(self, lease: float) -> tuple[str, ...]:
        return ("--database-url", self.database_url, "--storage", self.storage, "--s3-endpoint-url", self.endpoint,
                "--signing-secret", SECRET, "--lease-seconds", str(lease))

    def add_replica(self, *, workers: int = 0, lease: float = 3.0, extra: tuple[str, ...] = ()) -> Replica:
        from aion_pandas.embedded import start_server_process

        data_dir = self.root / f"replica-{len(self.replicas)}"
        proc, info = start_server_process(data_dir, api_keys=self.keys, detached=False, timeout=120,
                                          extra_args=(*self.args(lease), "--workers", str(workers), *extra))
        running = Replica(info["base_url"], self.keys[0], self.keys[-1], data_dir, proc)
        self.replicas.append(running)
        return running

    def add_worker(self, lease: float = 3.0) -> subprocess.Popen:
        log = self.root / f"worker-{len(self.workers)}.log"
        env = {k: v for k, v in os.environ.items() if k != "AION_PANDAS_DATABASE_URL"}
        env["AION_PANDAS_DATABASE_URL"] = self.database_url  # from the environment, as compose passes it
        with open(log, "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "aion_pandas", "worker", "--lease-seconds", str(lease),
                                     "--poll-seconds", "0.1"], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        while "aion-pandas worker:" not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        self.workers.append(proc)
        return proc

    def next(self) -> Replica:
        """The next replica, round robin (what the load balancer does)."""
        return self.replicas[next(self._turn) % len(self.replicas)]

    def rows(self, sql: str, **params: object) -> list[dict]:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return [dict(r) for r in conn.execute(text(sql), params).mappings()]
        finally:
            engine.dispose()

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for running in self.replicas:
            running.stop()
