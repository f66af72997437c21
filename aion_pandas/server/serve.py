"""Run the service with uvicorn on a socket bound first, then record ``server.json`` once listening.

Binding first lets ``--port 0`` pick a free port whose number the demo seed and ``server.json`` know.

>>> url_host("0.0.0.0"), url_host("::1")
('127.0.0.1', '[::1]')
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import warnings
from pathlib import Path
from typing import Any, Callable

import uvicorn

from .app import create_app
from .demo import seed_demo
from .exporter import run_export
from .settings import API_PREFIX, Settings

log = logging.getLogger("aion_pandas.server")


def url_host(host: str) -> str:
    """The host to put in URLs for a bind address."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def write_server_json(data_dir: Path, info: dict[str, Any]) -> None:
    path = Path(data_dir) / "server.json"
    tmp = path.with_name(f".server.json.{os.getpid()}")
    tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _remove_server_json(data_dir: Path) -> None:
    path = Path(data_dir) / "server.json"
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _use_system_allocator() -> None:
    """Arrow's default pool keeps freed memory for reuse; the system pool lets exports give it back."""
    try:
        import pyarrow

        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
    except ImportError:
        pass


def _exit_cleanly(signum: int, frame: Any) -> None:
    raise SystemExit(0)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self._on_ready()


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8765, *, demo: bool = False,
          log_level: str = "info", on_ready: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Serve until interrupted (SIGINT/SIGTERM); seeds the demo first when ``demo`` is true."""
    # exports drop what a format cannot carry (e.g. VOC has no score) by design: no warning per export
    warnings.filterwarnings("ignore", category=UserWarning, message=".* cannot carry")
    _use_system_allocator()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    port = sock.getsockname()[1]
    root = f"http://{url_host(host)}:{port}"
    app = create_app(settings)
    if demo:
        state = app.state

        def export(tenant: str, dataset: dict[str, Any], fmt: str) -> None:
            try:
                run_export(state.store, state.storage, settings, state.signer, tenant, dataset, fmt, {}, False,
                           settings.public_url or root)
            except Exception as exc:  # a broken writer must not keep the service from starting
                log.warning("demo export %s failed: %s: %s", fmt, type(exc).__name__, exc)

        seed_demo(state.store, settings, settings.public_url or root, export=export)
    info = {"base_url": root + API_PREFIX, "pid": os.getpid(), "host": host, "port": port}

    def ready() -> None:
        write_server_json(settings.data_dir, info)
        if on_ready:
            on_ready(info)

    config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=5, access_log=log_level == "debug")
    # uvicorn re-raises the signal that stopped it after shutting down; exit cleanly so `finally` runs
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        _Server(config, ready).run(sockets=[sock])
    finally:
        _remove_server_json(settings.data_dir)
        sock.close()
