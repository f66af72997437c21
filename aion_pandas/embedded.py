"""The embedded local service: reuse the one recorded in ``server.json`` or start it in the background.

>>> default_data_dir().name  # doctest: +SKIP
'aion-pandas'
>>> service = ensure_local_service()  # doctest: +SKIP
>>> service.base_url  # doctest: +SKIP
'http://127.0.0.1:41234/api/v2'
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .errors import AionError

KEYS_ENV = "AION_PANDAS_SERVER_API_KEYS"  # newline-separated keys for `serve` (instead of --api-key)


@dataclass(frozen=True)
class LocalService:
    """A running local service. ``api_key`` never appears in the repr."""
    base_url: str
    api_key: str = field(repr=False)
    data_dir: Path
    pid: int
    started: bool

    @property
    def root_url(self) -> str:
        return self.base_url.rsplit("/api/", 1)[0]

    def __repr__(self) -> str:
        return (f"LocalService(base_url={self.base_url!r}, api_key='aion_***', data_dir={str(self.data_dir)!r},"
                f" pid={self.pid}, started={self.started})")


def default_data_dir() -> Path:
    """``$AION_PANDAS_HOME``, else ``~/.local/share/aion-pandas``."""
    home = os.environ.get("AION_PANDAS_HOME")
    return Path(home).expanduser() if home else Path.home() / ".local" / "share" / "aion-pandas"


def read_server_json(data_dir: Path) -> dict | None:
    """The ``server.json`` of a data dir, or None when missing or unreadable."""
    try:
        info = json.loads((Path(data_dir) / "server.json").read_text(encoding="utf-8"))
        return info if isinstance(info, dict) and "base_url" in info else None
    except (OSError, ValueError):
        return None


def is_healthy(base_url: str, timeout: float = 2.0) -> bool:
    """True when ``GET {root}/healthz`` answers ``{"status": "ok"}``."""
    root = base_url.rsplit("/api/", 1)[0]
    try:
        with urllib.request.urlopen(f"{root}/healthz", timeout=timeout) as resp:  # noqa: S310 (loopback)
            return resp.status == 200 and json.loads(resp.read()).get("status") == "ok"
    except (OSError, ValueError):
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _start_lock(data_dir: Path) -> Iterator[None]:
    with open(data_dir / ".start.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def start_server_process(data_dir: Path, *, host: str = "127.0.0.1", port: int = 0, demo: bool = False,
                         api_keys: tuple[str, ...] = (), extra_args: tuple[str, ...] = (),
                         detached: bool = True, timeout: float = 60.0) -> tuple[subprocess.Popen, dict]:
    """Start ``python -m aion_pandas serve`` and wait until it is healthy; returns (process, server.json).

    Output goes to ``data_dir/server.log``. Raises AionError (with the log's tail) when it fails to start.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "server.json").unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "aion_pandas", "serve", "--host", host, "--port", str(port),
           "--data-dir", str(data_dir), *(["--demo"] if demo else []), *extra_args]
    env = {**os.environ}
    if api_keys:  # through the environment, so keys never show in a process list
        env[KEYS_ENV] = "\n".join(api_keys)
    log_path = data_dir / "server.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=detached, close_fds=True, env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        info = read_server_json(data_dir)
        if info and info.get("pid") == proc.pid and is_healthy(info["base_url"]):
            return proc, info
        time.sleep(0.05)
    if proc.poll() is None:
        proc.terminate()
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
    raise AionError(f"the local service did not start (see {log_path}):\n{tail}")


def ensure_local_service(data_dir: Path | str | None = None, demo: bool = True) -> LocalService:
    """A healthy local service for ``data_dir``: the one in server.json, else a newly started one.

    The key is the one in ``data_dir/api_key`` (made on first use, mode 0600).
    """
    from .server.settings import load_or_create_api_key

    data_dir = Path(data_dir or default_data_dir()).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with _start_lock(data_dir):
        key, _ = load_or_create_api_key(data_dir)
        info = read_server_json(data_dir)
        if info and _pid_alive(int(info.get("pid", -1))) and is_healthy(info["base_url"]):
            return LocalService(info["base_url"], key, data_dir, int(info["pid"]), started=False)
        proc, info = start_server_process(data_dir, demo=demo)
        return LocalService(info["base_url"], key, data_dir, proc.pid, started=True)


def stop_local_service(service: LocalService, timeout: float = 15.0) -> bool:
    """Stop a local service (SIGTERM) and wait until it is gone; False when it was not running."""
    import signal

    if not _pid_alive(service.pid):
        return False
    os.kill(service.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(service.pid) and time.monotonic() < deadline:
        try:  # reap it when it is our child
            os.waitpid(service.pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return True
