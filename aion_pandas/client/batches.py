"""``client.batches``: the hosted batch routes (status, results, cancel, wait) and this project's list.

``get``, ``results``, ``cancel`` and ``wait`` are the hosted API's (``/batch/{batch_id}``...); ``list``
calls ``GET /batches``, an extension of this project's service: elsewhere it raises
:class:`~aion_pandas.errors.ExtensionMissingError` (a ``NotFoundError``) saying so.

>>> batch = client.batches.wait(batch_id, timeout=600)                        # doctest: +SKIP
>>> items = list(client.batches.results(batch_id).auto_paging_iter())        # doctest: +SKIP
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote

from ..errors import APIError, ExtensionMissingError
from ..records import Batch, BatchItem
from .core import Call, Plan

if TYPE_CHECKING:
    from .core import BaseClient


def _seg(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected a batch id (str), got {value!r}")
    return quote(value, safe="")


class Batches:
    """Batches whose results datasets are made from, hung on a client."""

    def __init__(self, client: "BaseClient") -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<Batches of {self._client!r}>"

    def _list_plan(self, status: str | None, limit: int, offset: int) -> Plan:
        call = Call("GET", "batches", params={"status": status, "limit": limit, "offset": offset})
        fetch: Callable[[int], Any] = lambda next_offset: self.list(status=status, limit=limit, offset=next_offset)
        try:
            return (yield from self._client._page_plan(call, "batches", Batch.from_api, fetch, limit, offset))
        except APIError as exc:
            if exc.status in (404, 405):
                raise ExtensionMissingError(
                    "this server has no GET /batches (an extension of aion-pandas' own service; the hosted "
                    "API lists no batches): use a batch id, e.g. client.batches.get(batch_id)",
                    status=exc.status, code=exc.code, details=exc.details, request_id=exc.request_id,
                    method="GET", url=self._client.url("batches")) from None
            raise

    def list(self, status: str | None = None, limit: int = 100, offset: int = 0):
        """One page of batches, newest first (this project's service only; see the module doc).

        >>> client.batches.list(status="completed").total_count  # doctest: +SKIP
        """
        return self._client._run(self._list_plan(status, limit, offset))

    def _get_call(self, batch_id: str) -> Call:
        return Call("GET", f"batch/{_seg(batch_id)}", parse=Batch.from_api)

    def get(self, batch_id: str) -> Batch:
        """One batch's status, progress and counts (``BatchStatusResponse``).

        >>> client.batches.get("550e8400-...").progress_percentage  # doctest: +SKIP
        100.0
        """
        return self._client._run(self._get_call(batch_id))

    def results(self, batch_id: str, include_failed: bool = True, limit: int = 100, offset: int = 0):
        """One page of per-item results in item order (``limit`` 1-500); ``.auto_paging_iter()`` walks all.

        >>> [i.stored_image_url for i in client.batches.results(batch_id).auto_paging_iter()]  # doctest: +SKIP
        """
        call = Call("GET", f"batch/{_seg(batch_id)}/results",
                    params={"include_failed": include_failed, "limit": limit, "offset": offset})
        fetch: Callable[[int], Any] = lambda next_offset: self.results(
            batch_id, include_failed=include_failed, limit=limit, offset=next_offset)
        return self._client._run(self._client._page_plan(call, "results", BatchItem.from_api, fetch, limit, offset))

    def cancel(self, batch_id: str) -> None:
        """Cancel a pending or processing batch (``DELETE /batch/{batch_id}``, 204).

        >>> client.batches.cancel(batch_id)  # doctest: +SKIP
        """
        return self._client._run(Call("DELETE", f"batch/{_seg(batch_id)}"))

    def wait(self, batch_id: str, timeout: float | None = None, poll_interval: float | None = None,
             on_progress: Callable[[Batch], Any] | None = None) -> Batch:
        """Poll until the batch is completed, failed, cancelled or partially completed; returns it.

        ``on_progress`` gets every :class:`~aion_pandas.records.Batch` polled (e.g. to print
        ``progress_percentage``); ``TimeoutError`` after ``timeout`` (default ``AIONVISION_POLLING_TIMEOUT``).

        >>> client.batches.wait(batch_id, on_progress=lambda b: print(b.progress_percentage))  # doctest: +SKIP
        """
        return self._client._run(self._client._poll_plan(self._get_call(batch_id), lambda b: b.is_done,
                                                         f"batch {batch_id}", timeout, poll_interval, on_progress))
