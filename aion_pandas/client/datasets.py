"""``client.datasets``: create, list, get, wait, export, statistics, download (written once for both clients).

Each method returns the record (:class:`~aion_pandas.client.Client`) or an awaitable of it
(:class:`~aion_pandas.client.AsyncClient`). Keyword names are the spec's (``dataset_id=``).

>>> ds = client.datasets.create(batch_id=batch_id, name="Q1 safety")            # doctest: +SKIP
>>> ds = client.datasets.wait(ds.id)                                             # doctest: +SKIP
>>> path = client.datasets.download(client.datasets.export(dataset_id=ds.id, format="coco"))  # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import quote

from ..config import EXPORT_TIMEOUT
from ..records import Dataset, ExportResult, Statistics
from .core import Call
from .downloads import download_plan

if TYPE_CHECKING:
    from .core import BaseClient


def dataset_id_of(value: "str | Dataset | ExportResult") -> str:
    """The id of a dataset given as an id, a :class:`Dataset` or an :class:`ExportResult`.

    >>> dataset_id_of("d1")
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
    """The Datasets API resource (the spec's five routes), hung on a client."""

    def __init__(self, client: "BaseClient") -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<Datasets of {self._client!r}>"

    def create(self, batch_id: str, name: str, description: str | None = None,
               format_config: dict[str, Any] | None = None) -> Dataset:
        """Create a dataset from a completed batch; it starts ``pending`` (see :meth:`wait`).

        >>> client.datasets.create(batch_id="550e8400-...", name="Safety Q1")  # doctest: +SKIP
        """
        body: dict[str, Any] = {"batch_id": batch_id, "name": name}
        if description is not None:
            body["description"] = description
        if format_config is not None:
            body["format_config"] = dict(format_config)
        return self._client._run(Call("POST", "datasets", json=body, parse=Dataset.from_api))

    def list(self, status: str | None = None, limit: int = 100, offset: int = 0):
        """One page of datasets (newest first); ``.auto_paging_iter()`` walks every page.

        >>> [d.name for d in client.datasets.list(status="ready").auto_paging_iter()]  # doctest: +SKIP
        """
        call = Call("GET", "datasets", params={"status": status, "limit": limit, "offset": offset})
        fetch: Callable[[int], Any] = lambda next_offset: self.list(status=status, limit=limit, offset=next_offset)
        return self._client._run(self._client._page_plan(call, "datasets", Dataset.from_api, fetch, limit, offset))

    def _get_call(self, dataset_id_: "str | Dataset") -> Call:
        return Call("GET", f"datasets/{_seg(dataset_id_of(dataset_id_))}", parse=Dataset.from_api)

    def get(self, dataset_id: "str | Dataset") -> Dataset:
        """One dataset by id (``NotFoundError`` when unknown to this key).

        >>> client.datasets.get(dataset_id="660f9500-...").status  # doctest: +SKIP
        'ready'
        """
        return self._client._run(self._get_call(dataset_id))

    def wait(self, dataset_id: "str | Dataset", timeout: float | None = None, poll_interval: float | None = None,
             on_progress: Callable[[Dataset], Any] | None = None) -> Dataset:
        """Poll until the dataset is ``ready`` or ``failed``; returns the final record (check ``.status``).

        Polls start at 0.25 s and double up to ``poll_interval`` (default ``AIONVISION_POLLING_INTERVAL``,
        2 s); ``TimeoutError`` after ``timeout`` (default ``AIONVISION_POLLING_TIMEOUT``, 300 s).
        ``on_progress`` gets every record polled.

        >>> client.datasets.wait(ds.id, timeout=60).status  # doctest: +SKIP
        'ready'
        """
        plan = self._client._poll_plan(self._get_call(dataset_id), lambda d: d.is_done,
                                       f"dataset {dataset_id_of(dataset_id)}", timeout, poll_interval, on_progress)
        return self._client._run(plan)

    def export(self, dataset_id: "str | Dataset", format: str, options: dict[str, Any] | None = None,  # noqa: A002
               include_failed_items: bool = False) -> ExportResult:
        """Export to ``csv``, ``coco``, ``yolo`` or ``pascal_voc``; the result's URL needs no key.

        The POST is synchronous: it waits at least 300 s (or the client's longer ``timeout``), and one
        that timed out is never sent again by the client (the service may still be writing it).

        >>> client.datasets.export(dataset_id=ds.id, format="coco").download_url  # doctest: +SKIP
        """
        body = {"format": format, "options": dict(options or {}), "include_failed_items": bool(include_failed_items)}
        timeout = max(self._client.settings.timeout, EXPORT_TIMEOUT)
        return self._client._run(Call("POST", f"datasets/{_seg(dataset_id_of(dataset_id))}/export", json=body,
                                      parse=ExportResult.from_api, timeout=timeout))

    def statistics(self, days: int = 30) -> Statistics:
        """Aggregated dataset and export statistics over the last ``days`` days (1-365).

        >>> client.datasets.statistics(days=7).by_format  # doctest: +SKIP
        """
        return self._client._run(Call("GET", "datasets/statistics/summary", params={"days": int(days)},
                                      parse=Statistics.from_api))

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
        return self._client._run(download_plan(self._client, export.download_url, target,
                                               expected_size=export.file_size_bytes, progress=progress,
                                               desc=export.file_name, skip_if_complete=dest is None))
