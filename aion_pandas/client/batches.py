"""``client.batches``: list, get and read the results of processing batches.

>>> [b.name for b in client.batches.list(status="completed")]   # doctest: +SKIP
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from ..records import Batch, BatchItem, Page

if TYPE_CHECKING:
    from . import Client


class Batches:
    """Batches whose results datasets are made from (``GET /batches``, ``/batch/{id}``, ``/batch/{id}/results``)."""

    def __init__(self, client: "Client") -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<Batches of {self._client!r}>"

    def list(self, status: str | None = None, limit: int = 100, offset: int = 0) -> Page[Batch]:
        """One page of batches, newest first; ``.auto_paging_iter()`` walks every page.

        >>> client.batches.list(status="completed").total_count  # doctest: +SKIP
        """
        data = self._client._http.request_json("GET", "batches",
                                                params={"status": status, "limit": limit, "offset": offset})
        return Page(items=[Batch.from_api(b) for b in data.get("batches") or []],
                    total_count=int(data.get("total_count") or 0), limit=int(data.get("limit") or limit),
                    offset=int(data.get("offset") or 0), has_more=bool(data.get("has_more")),
                    fetch=lambda next_offset: self.list(status=status, limit=limit, offset=next_offset))

    def get(self, batch_id: str) -> Batch:
        """One batch's status and counts.

        >>> client.batches.get("550e8400-...").status  # doctest: +SKIP
        'completed'
        """
        return Batch.from_api(self._client._http.request_json("GET", f"batch/{quote(batch_id, safe='')}"))

    def results(self, batch_id: str, limit: int = 100, offset: int = 0) -> Page[BatchItem]:
        """One page of per-item results, in item order.

        >>> items = list(client.batches.results(batch_id).auto_paging_iter())  # doctest: +SKIP
        """
        data = self._client._http.request_json("GET", f"batch/{quote(batch_id, safe='')}/results",
                                                params={"limit": limit, "offset": offset})
        return Page(items=[BatchItem.from_api(i) for i in data.get("results") or []],
                    total_count=int(data.get("total_count") or 0), limit=int(data.get("limit") or limit),
                    offset=int(data.get("offset") or 0), has_more=bool(data.get("has_more")),
                    fetch=lambda next_offset: self.results(batch_id, limit=limit, offset=next_offset))
