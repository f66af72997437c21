"""What the browser tests share (the panel's and the FiftyOne App's): headless Chromium, servers on free
ports, clicks on the grid.

The datasets grid (ipydatagrid) draws on a canvas: a row is clicked at its offset from the grid's box,
computed from the grid's header and row heights (:mod:`aion_pandas.widgets.grid`).
"""
from __future__ import annotations

import os
import signal
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from aion_pandas.widgets.grid import HEADER_HEIGHT, ROW_HEIGHT
from service_backends import free_port, missing  # noqa: F401  (free_port: for the browser tests)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium() -> None:
    """Fail (under CI) or skip (elsewhere) a browser test when Debian's Chromium is not installed."""
    if not os.path.exists(CHROMIUM):
        missing("Debian's chromium", "apt-get install chromium")


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Poll a path nobody serves (a 404 means up) until the server answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url + "/__ping__", timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not come up in {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    """End a server started with ``start_new_session=True`` and everything it started (its kernels)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextmanager
def notebook_server(module_args: list[str], *, port: int, env: dict, cwd: Path, log_path: Path) -> Iterator[str]:
    """``python -m <module_args>`` (JupyterLab or Voilà) on ``port``; yields its URL once it answers,
    then stops it and everything it started, and prints the end of its log for a failing test."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", *module_args], cwd=cwd, env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_up(url, proc)
            yield url
        finally:
            stop(proc)
    print(log_path.read_text(errors="replace")[-3000:])


def click_grid_row(page, grid_selector: str, row: int, *, shift: bool = False, column_x: int = 60) -> None:
    """Click visible ``row`` (0 = first body row) of the grid under ``grid_selector``; ``shift`` extends
    the selection to it."""
    grid = page.locator(f"{grid_selector} .lm-DataGrid").first
    grid.click(position={"x": column_x, "y": HEADER_HEIGHT + row * ROW_HEIGHT + ROW_HEIGHT / 2},
               modifiers=["Shift"] if shift else None)


def open_chromium(pw, profile: str, viewport: dict):
    """A persistent headless Chromium context that reaches loopback only."""
    context = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                    args=CHROMIUM_ARGS, viewport=viewport)
    context.route("**/*", lambda route: route.continue_()
                  if route.request.url.startswith(("http://127.0.0.1", "http://localhost", "blob:", "data:"))
                  else route.abort())
    return context
