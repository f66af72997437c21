"""``AsyncClient``: the plans of :mod:`aion_pandas.client.core` run with ``httpx.AsyncClient`` and
``asyncio.sleep``. Every resource method returns an awaitable; pages walk with ``async for``.

>>> async def main():                                                        # doctest: +SKIP
...     async with aion.AsyncClient(api_key="aion_...", base_url="https://api.aionvision.tech/api/v2") as client:
...         export = await client.datasets.export(dataset_id="550e8400-...", format="coco")
...         async for d in (await client.datasets.list(status="ready")).auto_paging_iter():
...             print(d.name)
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from ..records import AsyncPage
from .core import BaseClient, Call, Close, Drain, Plan, Read, Send, Sleep
from .downloads import ProgressHook, cache_path_for_url, download_plan


class AsyncClient(BaseClient):
    """The asynchronous client: the same resources, records, retries and errors as :class:`Client`.

    Cancelling a call (``task.cancel()``, a timeout around it) stops it at once: the request in
    flight is dropped and no further request is sent. Works with notebook top-level ``await``.

    >>> AsyncClient(api_key="aion_0123456789abcdefWXYZ", base_url="https://api.aionvision.tech/api/v2")
    AsyncClient(base_url='https://api.aionvision.tech/api/v2', api_key='aion_…WXYZ')
    """

    _page_class = AsyncPage

    def __init__(self, api_key: Any = None, base_url: str | None = None, **kw: Any) -> None:
        super().__init__(api_key, base_url, **kw)
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The connection pool (made on first use, again after :meth:`aclose`)."""
        if self._http is None:
            self._http = httpx.AsyncClient(limits=httpx.Limits(max_connections=None, max_keepalive_connections=16))
        return self._http

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections (they reopen on demand)."""
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    # ------------------------------------------------------------------ the driver
    async def _run(self, plan: "Plan | Call") -> Any:
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
                    value = await self._step(step)
                except httpx.RequestError as exc:
                    error = exc
        finally:
            plan.close()

    async def _step(self, step: Any) -> Any:
        if isinstance(step, Send):
            return await self.http.send(step.request, stream=True)
        if isinstance(step, Read):
            return await step.response.aread()
        if isinstance(step, Drain):
            try:
                async for chunk in step.response.aiter_raw():
                    step.sink(chunk)
            finally:
                await step.response.aclose()
            return None
        if isinstance(step, Close):
            return await step.response.aclose()
        if isinstance(step, Sleep):
            return await asyncio.sleep(step.seconds)
        raise TypeError(f"not a step: {step!r}")

    # ------------------------------------------------------------------ bytes and files
    async def get_bytes(self, url: str) -> bytes:
        """The bytes at ``url`` (an image URL of the service, sent with the key, or a signed URL)."""
        return await self._run(Call("GET", url, raw=True, follow_redirects=True))

    async def download_file(self, url: str, dest: str | Path, expected_size: int | None = None,
                            progress: bool = False, skip_if_complete: bool = False,
                            on_progress: ProgressHook | None = None) -> Path:
        """Stream ``url`` to ``dest`` (temp name, renamed when complete; resumes with HTTP Range)."""
        return await self._run(download_plan(self, url, dest, expected_size=expected_size, progress=progress,
                                             skip_if_complete=skip_if_complete, on_progress=on_progress))

    async def download_url(self, url: str, expected_size: int | None = None, progress: bool = False,
                           on_progress: ProgressHook | None = None) -> Path:
        """Download ``url`` into the cache; returns the path (see :meth:`Client.download_url`)."""
        return await self.download_file(url, cache_path_for_url(self.cache_dir, url), expected_size=expected_size,
                                        progress=progress, skip_if_complete=expected_size is not None,
                                        on_progress=on_progress)
