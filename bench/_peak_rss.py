"""A process's peak RSS, sampled by a thread while a block runs (the benches' memory figures).

>>> with PeakRss() as rss:              # doctest: +SKIP
...     work()
>>> rss.peak                            # doctest: +SKIP
"""
from __future__ import annotations

import threading
import time

import psutil


class PeakRss:
    """Samples a process's RSS (this one by default) every ``interval`` seconds while open."""

    def __init__(self, pid: int | None = None, interval: float = 0.01) -> None:
        self.proc, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self.interval = interval

    def __enter__(self) -> "PeakRss":
        self.peak = self.proc.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
