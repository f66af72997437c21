"""``client.datasets``: create, list, get, wait, export, statistics, download.

>>> client = aion.connect()                                          # doctest: +SKIP
>>> ds = client.datasets.create(batch_id, "Q1 safety")               # doctest: +SKIP
>>> ds = client.datasets.wait(ds.id)                                 # doctest: +SKIP
>>> path = client.datasets.download(client.datasets.export(ds.id, "coco"))  # doctest: +SKIP
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..errors import TimeoutError
from ..records import Dataset, ExportResult, Page, Statistics

if TYPE_CHECKING:
    from . import Client


def dataset_id(value: "str | Dataset | ExportResult") -> str:
    """The id of a dataset given as an id, a :class:`Dataset` or an :class:`ExportResult`.

    >>> dataset_id("d1")
    'd1'
    """
    if isinstance(value, Dataset):
        return value.id
    if isinstance(value, ExportResult):
        return value.dataset_id
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected a dataset id (str) or a Dataset record, got {value!r}")
    return value


def _seg(value: str) -> str:
    return quote(value, safe="")


class Datasets:
    """The Datasets API resource (the spec's five routes), hung on a :class:`~aion_pandas.client.Client`."""

    def __init__(self, client: "Client") -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<Datasets of {self._client!r}>"

    def create(self, batch_id: str, name: str, description: str | None = None,
               format_config: dict[str, Any] | None = None) -> Dataset:
        """Create a dataset from a completed batch; it starts ``pending`` (see :meth:`wait`).

        >>> client.datasets.create("550e8400-...", "Safety Q1")  # doctest: +SKIP
        """
        body: dict[str, Any] = {"batch_id": batch_id, "name": name}
        if description is not None:
            body["description"] = description
        if format_config is not None:
            body["format_config"] = dict(format_config)
        return Dataset.from_api(self._client._http.request_json("POST", "datasets", json=body))

    def list(self, status: str | None = None, limit: int = 100, offset: int = 0) -> Page[Dataset]:
        """One page of datasets (newest first); ``.auto_paging_iter()`` walks every page.

        >>> [d.name for d in client.datasets.list(status="ready").auto_paging_iter()]  # doctest: +SKIP
        """
        data = self._client._http.request_json(
            "GET", "datasets", params={"status": status, "limit": limit, "offset": offset})
        return Page(items=[Dataset.from_api(d) for d in data.get("datasets") or []],
                    total_count=int(data.get("total_count") or 0), limit=int(data.get("limit") or limit),
                    offset=int(data.get("offset") or 0), has_more=bool(data.get("has_more")),
                    fetch=lambda next_offset: self.list(status=status, limit=limit, offset=next_offset))

    def get(self, id: "str | Dataset") -> Dataset:  # noqa: A002 (the spec's name)
        """One dataset by id (``NotFoundError`` when unknown to this key).

        >>> client.datasets.get("660f9500-...").status  # doctest: +SKIP
        'ready'
        """
        return Dataset.from_api(self._client._http.request_json("GET", f"datasets/{_seg(dataset_id(id))}"))

    def wait(self, id: "str | Dataset", timeout: float = 300.0, poll_interval: float = 0.2,  # noqa: A002
             max_interval: float = 5.0) -> Dataset:
        """Poll until the dataset is ``ready`` or ``failed`` (interval doubling up to ``max_interval``).

        Returns the final record (check ``.status``); raises ``TimeoutError`` after ``timeout`` seconds.

        >>> client.datasets.wait(ds.id, timeout=60).status  # doctest: +SKIP
        'ready'
        """
        deadline = time.monotonic() + timeout
        interval = poll_interval
        while True:
            dataset = self.get(id)
            if dataset.is_done:
                return dataset
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"dataset {dataset.id} still {dataset.status!r} after {timeout:g} s",
                                   method="GET", url=self._client._http.url(f"datasets/{_seg(dataset.id)}"))
            time.sleep(min(interval, left))
            interval = min(max_interval, interval * 2)

    def export(self, id: "str | Dataset", format: str, options: dict[str, Any] | None = None,  # noqa: A002
               include_failed_items: bool = False) -> ExportResult:
        """Export to ``csv``, ``coco``, ``yolo`` or ``pascal_voc``; the result's URL needs no key.

        >>> client.datasets.export(ds.id, "coco").download_url  # doctest: +SKIP
        """
        body = {"format": format, "options": dict(options or {}), "include_failed_items": bool(include_failed_items)}
        data = self._client._http.request_json("POST", f"datasets/{_seg(dataset_id(id))}/export", json=body)
        return ExportResult.from_api(data)

    def statistics(self, days: int = 30) -> Statistics:
        """Aggregated dataset and export statistics over the last ``days`` days (1-365).

        >>> client.datasets.statistics(days=7).by_format  # doctest: +SKIP
        """
        data = self._client._http.request_json("GET", "datasets/statistics/summary", params={"days": int(days)})
        return Statistics.from_api(data)

    def download(self, export: ExportResult, dest: str | Path | None = None, progress: bool = True) -> Path:
        """Download an export's file; returns its path.

        ``dest``: a folder (the export's file name is kept), a file path, or None for the cache
        (``<cache dir>/exports/<export_id>/<file name>``), where a file already of
        ``file_size_bytes`` bytes is not fetched again (elsewhere the file is replaced whole).

        >>> client.datasets.download(client.datasets.export(ds.id, "yolo"), dest="exports/")  # doctest: +SKIP
        """
        if not isinstance(export, ExportResult):
            raise TypeError(f"download() takes the ExportResult of export(), got {type(export).__name__}")
        if dest is None:
            target = self._client.cache_dir / "exports" / export.cache_folder / export.file_name
        else:
            target = Path(dest).expanduser()
            if target.is_dir() or str(dest).endswith(("/", "\\")):
                target = target / export.file_name
        return self._client._http.download(export.download_url, target, expected_size=export.file_size_bytes,
                                           progress=progress, desc=export.file_name,
                                           skip_if_complete=dest is None)
