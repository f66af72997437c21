"""Typed records of the Datasets API: what the client returns instead of raw JSON.

Timestamps are aware UTC ``datetime`` objects; counts are ``int``. ``from_api`` builds a record from
the service's JSON and tolerates extra fields (the hosted API may add some).

>>> d = Dataset.from_api({"id": "d1", "name": "Q1", "batch_id": "b1", "status": "ready",
...                       "created_at": "2025-01-15T10:30:00Z", "total_items": 500,
...                       "successful_items": 487, "export_count": 0, "latest_export": None})
>>> d.created_at.isoformat(), d.successful_items
('2025-01-15T10:30:00+00:00', 487)
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Generic, Iterator, TypeVar

import pandas as pd

DATASET_STATUSES: tuple[str, ...] = ("pending", "processing", "ready", "failed")
FORMATS: tuple[str, ...] = ("csv", "coco", "yolo", "pascal_voc")

T = TypeVar("T")


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (naive values are taken as UTC).

    >>> parse_time("2025-01-15T10:30:00Z")
    datetime.datetime(2025, 1, 15, 10, 30, tzinfo=datetime.timezone.utc)
    >>> parse_time(None) is None
    True
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        when = value
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def safe_segment(name: str, fallback: str | None = None) -> str:
    """``name`` as one safe path segment: no separators, no control characters, not ``.``/``..``.

    >>> safe_segment("a/../b"), safe_segment(".."), safe_segment("ok.json")
    ('a_.._b', 'unnamed', 'ok.json')
    """
    cleaned = "".join("_" if ch in '/\\:*?"<>|' or ord(ch) < 32 else ch for ch in str(name)).strip()
    if cleaned.strip(".") == "":
        return fallback or "unnamed"
    return cleaned[:200]


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


@dataclass(frozen=True)
class LatestExport:
    """The most recent export of a dataset (``Dataset.latest_export``)."""
    export_id: str
    format: str
    created_at: datetime | None

    @classmethod
    def from_api(cls, data: dict[str, Any] | None) -> "LatestExport | None":
        if not data:
            return None
        return cls(str(data["export_id"]), str(data["format"]), parse_time(data.get("created_at")))


@dataclass(frozen=True)
class Dataset:
    """One dataset (``GET /datasets/{id}``). ``status``: pending, processing, ready or failed."""
    id: str
    name: str
    batch_id: str
    status: str
    created_at: datetime | None
    updated_at: datetime | None = None
    description: str | None = None
    batch_status: str | None = None
    total_items: int = 0
    successful_items: int = 0
    export_count: int = 0
    supported_formats: tuple[str, ...] = FORMATS
    latest_export: LatestExport | None = None
    format_config: dict[str, Any] = field(default_factory=dict, compare=False)
    failure_reason: str | None = None

    @property
    def is_done(self) -> bool:
        """True once the dataset is ``ready`` or ``failed`` (it will not change by itself)."""
        return self.status in ("ready", "failed")

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Dataset":
        return cls(
            id=str(data["id"]), name=str(data.get("name") or ""), batch_id=str(data.get("batch_id") or ""),
            status=str(data["status"]), created_at=parse_time(data.get("created_at")),
            updated_at=parse_time(data.get("updated_at")), description=data.get("description"),
            batch_status=data.get("batch_status"), total_items=_int(data.get("total_items")),
            successful_items=_int(data.get("successful_items")), export_count=_int(data.get("export_count")),
            supported_formats=tuple(data.get("supported_formats") or FORMATS),
            latest_export=LatestExport.from_api(data.get("latest_export")),
            format_config=dict(data.get("format_config") or {}), failure_reason=data.get("failure_reason"))


@dataclass(frozen=True)
class ExportResult:
    """An export (``POST /datasets/{id}/export``): ``download_url`` is signed and needs no key."""
    export_id: str
    dataset_id: str
    format: str
    status: str
    record_count: int
    download_url: str
    file_size_bytes: int
    content_type: str
    exported_at: datetime | None
    expires_at: datetime | None = None

    @property
    def file_name(self) -> str:
        """The file name at the end of ``download_url``: no folders, no query, safe on any OS.

        >>> ExportResult("e1", "d1", "coco", "completed", 1, "https://h/exports/e1/..%5C..%5Cx.json?sig=1",
        ...              1, "application/json", None).file_name
        'x.json'
        """
        from urllib.parse import unquote, urlsplit
        name = unquote(urlsplit(self.download_url).path).replace("\\", "/").rsplit("/", 1)[-1]
        return safe_segment(name, fallback=f"{safe_segment(self.export_id)}.{self.format}")

    @property
    def cache_folder(self) -> str:
        """A folder name for this export (its id, made safe)."""
        return safe_segment(self.export_id)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "ExportResult":
        return cls(
            export_id=str(data["export_id"]), dataset_id=str(data.get("dataset_id") or ""),
            format=str(data["format"]), status=str(data.get("status") or "completed"),
            record_count=_int(data.get("record_count")), download_url=str(data["download_url"]),
            file_size_bytes=_int(data.get("file_size_bytes")), content_type=str(data.get("content_type") or ""),
            exported_at=parse_time(data.get("exported_at")), expires_at=parse_time(data.get("expires_at")))


@dataclass(frozen=True)
class Batch:
    """A processing batch (``GET /batch/{id}``); datasets are created from completed ones."""
    batch_id: str
    status: str
    name: str | None = None
    total_items: int = 0
    successful_items: int = 0
    failed_items: int = 0
    pending_items: int = 0
    progress_percent: float = 0.0
    created_at: datetime | None = None
    completed_at: datetime | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Batch":
        return cls(
            batch_id=str(data["batch_id"]), status=str(data["status"]), name=data.get("name"),
            total_items=_int(data.get("total_items")), successful_items=_int(data.get("successful_items")),
            failed_items=_int(data.get("failed_items")), pending_items=_int(data.get("pending_items")),
            progress_percent=float(data.get("progress_percent") or 0.0),
            created_at=parse_time(data.get("created_at")), completed_at=parse_time(data.get("completed_at")))


@dataclass(frozen=True)
class BatchItem:
    """One item of a batch's results: the image (``file_id``) and what processing found in it."""
    item_id: str
    item_index: int
    status: str
    file_name: str = ""
    file_id: str | None = None
    output_data: dict[str, Any] | None = field(default=None, compare=False)
    error_message: str | None = None
    processed_at: datetime | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "BatchItem":
        return cls(
            item_id=str(data["item_id"]), item_index=_int(data.get("item_index")), status=str(data["status"]),
            file_name=str(data.get("file_name") or ""), file_id=data.get("file_id"),
            output_data=data.get("output_data"), error_message=data.get("error_message"),
            processed_at=parse_time(data.get("processed_at")))


@dataclass
class Page(Generic[T]):
    """One page of a list call; ``auto_paging_iter()`` walks this page and every later one.

    >>> page = Page(items=[1, 2], total_count=3, limit=2, offset=0, has_more=True,
    ...             fetch=lambda offset: Page([3], 3, 2, offset, False))
    >>> list(page), list(page.auto_paging_iter())
    ([1, 2], [1, 2, 3])
    """
    items: list[T]
    total_count: int
    limit: int
    offset: int
    has_more: bool
    fetch: Callable[[int], "Page[T]"] | None = field(default=None, repr=False, compare=False)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]

    def next_page(self) -> "Page[T] | None":
        """The following page, or None when this is the last one."""
        if not self.has_more or self.fetch is None or not self.items:
            return None
        return self.fetch(self.offset + len(self.items))

    def iter_pages(self) -> Iterator["Page[T]"]:
        """This page, then every following page."""
        page: Page[T] | None = self
        while page is not None:
            yield page
            page = page.next_page()

    def auto_paging_iter(self) -> Iterator[T]:
        """Every item of this page and all later pages (fetched as needed)."""
        for page in self.iter_pages():
            yield from page.items


def _bytes_to_mb(value: int) -> float:
    return value / 1_000_000


@dataclass(eq=False)
class Statistics:
    """``GET /datasets/statistics/summary`` as numbers and DataFrames; ``.plot()`` draws them.

    ``by_status``: index ``status`` (all four), column ``count``. ``by_format``: index ``format``,
    columns ``count``, ``total_size`` (bytes), ``total_size_mb``, ``avg_export_time_seconds``.
    ``popular_formats``: columns ``format``, ``usage_count``, most used first.
    """
    total_datasets: int
    total_items: int
    avg_items_per_dataset: float
    total_exports: int
    total_data_volume: int
    since: datetime | None
    until: datetime | None
    by_status: pd.DataFrame = field(repr=False)
    by_format: pd.DataFrame = field(repr=False)
    popular_formats: pd.DataFrame = field(repr=False)
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def days(self) -> int | None:
        """Length of the period in whole days."""
        if self.since is None or self.until is None:
            return None
        return round((self.until - self.since).total_seconds() / 86400)

    @property
    def period_label(self) -> str:
        """E.g. ``'2025-01-07 – 2025-02-07 (31 days)'``."""
        if self.since is None or self.until is None:
            return "all time"
        return f"{self.since:%Y-%m-%d} – {self.until:%Y-%m-%d} ({self.days} days)"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Statistics":
        ds = data.get("dataset_statistics") or {}
        ex = data.get("export_statistics") or {}
        period = data.get("period") or {}
        counts = {str(k): int(v) for k, v in (ds.get("by_status") or {}).items()}
        statuses = [*DATASET_STATUSES, *sorted(set(counts) - set(DATASET_STATUSES))]
        by_status = pd.DataFrame(
            {"count": pd.array([counts.get(s, 0) for s in statuses], dtype="Int64")},
            index=pd.CategoricalIndex(statuses, categories=statuses, ordered=True, name="status"))
        formats_raw = ex.get("by_format") or {}
        formats = [*FORMATS, *sorted(set(formats_raw) - set(FORMATS))]
        rows = [formats_raw.get(f) or {} for f in formats]
        by_format = pd.DataFrame(
            {"count": pd.array([_int(r.get("count")) for r in rows], dtype="Int64"),
             "total_size": pd.array([_int(r.get("total_size")) for r in rows], dtype="Int64"),
             "total_size_mb": pd.array([_bytes_to_mb(_int(r.get("total_size"))) for r in rows], dtype="Float64"),
             "avg_export_time_seconds": pd.array([float(r.get("avg_export_time_seconds") or 0.0) for r in rows],
                                                 dtype="Float64")},
            index=pd.CategoricalIndex(formats, categories=formats, name="format"))
        popular = data.get("popular_formats") or []
        popular_formats = pd.DataFrame(
            {"format": pd.array([str(p["format"]) for p in popular], dtype="string"),
             "usage_count": pd.array([_int(p.get("usage_count")) for p in popular], dtype="Int64")})
        return cls(
            total_datasets=_int(ds.get("total_datasets")), total_items=_int(ds.get("total_items")),
            avg_items_per_dataset=float(ds.get("avg_items_per_dataset") or 0.0),
            total_exports=_int(ex.get("total_exports")), total_data_volume=_int(ex.get("total_data_volume")),
            since=parse_time(period.get("since")), until=parse_time(period.get("until")),
            by_status=by_status, by_format=by_format, popular_formats=popular_formats, raw=data)

    def plot(self, **kwargs: Any):
        """One matplotlib Figure: datasets by status, exports per format (count, MB), avg export time.

        >>> fig = aion.statistics(days=30).plot()  # doctest: +SKIP
        """
        from .plots import plot_statistics
        return plot_statistics(self, **kwargs)

    def _repr_html_(self) -> str:
        head = (f"<b>Dataset statistics</b>, {html.escape(self.period_label)}: "
                f"{self.total_datasets} datasets, {self.total_items} items "
                f"(avg {self.avg_items_per_dataset:.1f}), {self.total_exports} exports, "
                f"{_bytes_to_mb(self.total_data_volume):.2f} MB")
        tables = "".join(
            f"<div style='display:inline-block;vertical-align:top;margin-right:1.5em'>"
            f"<i>{title}</i>{frame.to_html(float_format=lambda v: f'{v:.3f}')}</div>"
            for title, frame in (("by status", self.by_status), ("by format", self.by_format),
                                 ("popular formats", self.popular_formats)))
        return f"<div class='aion-statistics'><p>{head}</p>{tables}</div>"
