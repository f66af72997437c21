"""``Client``: the plans of :mod:`aion_pandas.client.core` run with ``httpx.Client`` and ``time.sleep``.

>>> Client(api_key="aion_0123456789abcdefWXYZ", base_url="https://api.aionvision.tech/api/v2")
Client(base_url='https://api.aionvision.tech/api/v2', api_key='aion_…WXYZ')
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from ..records import Page
from .core import BaseClient, Call, Close, Drain, Plan, Read, Send, Sleep
from .downloads import ProgressHook, cache_path_for_url, download_plan


class Client(BaseClient):
    """A connection to one Datasets API service (hosted or local) with one key; safe to share between threads.

    ``client.datasets`` and ``client.batches`` are the resources; ``get_bytes(url)`` fetches an image
    (``image_url`` of an export, ``stored_image_url`` of a batch item) or any URL of the service. Use as a
    context manager to close its connections.
    """

    _page_class = Page

    def __init__(self, api_key: Any = None, base_url: str | None = None, **kw: Any) -> None:
        super().__init__(api_key, base_url, **kw)
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def http(self) -> httpx.Client:
        """The connection pool (made on first use, again after :meth:`close`)."""
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(limits=httpx.Limits(max_connections=None, max_keepalive_connections=16))
            return self._http

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections (the client can still be used: they reopen on demand)."""
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    # ------------------------------------------------------------------ the driver
    def _run(self, plan: "Plan | Call") -> Any:
        if isinstance(plan, Call):
            plan = self._call_plan(plan)
        value: Any = None
        error: BaseException | None = None
        try:
            while True:
                try:
                    step = plan.throw(error) if error is not None else plan.send(value)
                except StopIteration as stop:
                    return stop.value
                value, error = None, None
                try:
                    value = self._step(step)
                except httpx.RequestError as exc:
                    error = exc
        finally:
            plan.close()

    def _step(self, step: Any) -> Any:
        if isinstance(step, Send):
            return self.http.send(step.request, stream=True)
        if isinstance(step, Read):
            return step.response.read()
        if isinstance(step, Drain):
            try:
                for chunk in step.response.iter_raw():
                    step.sink(chunk)
            finally:
                step.response.close()
            return None
        if isinstance(step, Close):
            return step.response.close()
        if isinstance(step, Sleep):
            return time.sleep(step.seconds)
        raise TypeError(f"not a step: {step!r}")

    # ------------------------------------------------------------------ bytes and files
    def get_bytes(self, url: str) -> bytes:
        """The bytes at ``url``: an image URL of the service (sent with the key) or a signed URL.

        >>> client.get_bytes(frame["image_url"].iloc[0])[:4]  # doctest: +SKIP
        b'\\x89PNG'
        """
        return self._run(Call("GET", url, raw=True, follow_redirects=True))

    def download_file(self, url: str, dest: str | Path, expected_size: int | None = None,
                      progress: bool = True, skip_if_complete: bool = False,
                      on_progress: ProgressHook | None = None) -> Path:
        """Stream ``url`` to ``dest`` (temp name, renamed when complete; resumes with HTTP Range)."""
        return self._run(download_plan(self, url, dest, expected_size=expected_size, progress=progress,
                                       skip_if_complete=skip_if_complete, on_progress=on_progress))

    def download_url(self, url: str, expected_size: int | None = None, progress: bool = False,
                     on_progress: ProgressHook | None = None) -> Path:
        """Download ``url`` (e.g. an export's signed ``download_url``) into the cache; returns the path.

        A file already there with ``expected_size`` bytes is not fetched again.

        >>> path = client.download_url(export.download_url, expected_size=export.file_size_bytes)  # doctest: +SKIP
        """
        return self.download_file(url, cache_path_for_url(self.cache_dir, url), expected_size=expected_size,
                                  progress=progress, skip_if_complete=expected_size is not None,
                                  on_progress=on_progress)
