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

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .pages import AsyncPage, Page, paging  # noqa: F401  (records of the API, re-exported)

DATASET_STATUSES: tuple[str, ...] = ("pending", "processing", "ready", "failed")
FORMATS: tuple[str, ...] = ("csv", "coco", "yolo", "pascal_voc")


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


BATCH_STATUSES: tuple[str, ...] = ("pending", "processing", "completed", "failed", "cancelled",
                                   "partially_completed")
#: a batch in one of these will not change by itself
BATCH_DONE: frozenset[str] = frozenset({"completed", "failed", "cancelled", "partially_completed"})


def _opt_int(value: Any) -> int | None:
    return int(value) if value is not None else None


@dataclass(frozen=True)
class Batch:
    """A processing batch (``GET /batch/{id}``, the hosted ``BatchStatusResponse``).

    ``status``: pending, processing, completed, failed, cancelled or partially_completed;
    ``progress_percentage`` 0-100; ``success_rate`` 0-1. ``name`` only comes from this project's service.

    >>> b = Batch.from_api({"batch_id": "b1", "status": "processing", "total_items": 4, "processed_items": 1,
    ...                     "successful_items": 1, "failed_items": 0, "success_rate": 1.0,
    ...                     "created_at": "2025-01-15T10:30:00Z", "progress_percentage": 25.0})
    >>> b.progress_percentage, b.pending_items, b.is_done
    (25.0, 3, False)
    """
    batch_id: str
    status: str
    total_items: int = 0
    processed_items: int = 0
    successful_items: int = 0
    failed_items: int = 0
    success_rate: float = 0.0
    progress_percentage: float = 0.0
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    estimated_completion_time: datetime | None = None
    avg_processing_time_ms: int | None = None
    name: str | None = None

    @property
    def pending_items(self) -> int:
        """Items not processed yet."""
        return max(self.total_items - self.processed_items, 0)

    @property
    def is_done(self) -> bool:
        """True once the batch is completed, failed, cancelled or partially completed."""
        return self.status in BATCH_DONE

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Batch":
        ok, failed = _int(data.get("successful_items")), _int(data.get("failed_items"))
        processed = data.get("processed_items")
        return cls(
            batch_id=str(data["batch_id"]), status=str(data["status"]), total_items=_int(data.get("total_items")),
            processed_items=int(processed) if processed is not None else ok + failed, successful_items=ok,
            failed_items=failed, success_rate=float(data.get("success_rate") or 0.0),
            progress_percentage=float(data.get("progress_percentage") or 0.0),
            created_at=parse_time(data.get("created_at")), started_at=parse_time(data.get("started_at")),
            completed_at=parse_time(data.get("completed_at")),
            estimated_completion_time=parse_time(data.get("estimated_completion_time")),
            avg_processing_time_ms=_opt_int(data.get("avg_processing_time_ms")), name=data.get("name"))


@dataclass(frozen=True)
class BatchItem:
    """One item of a batch's results (the hosted ``BatchItemResult``).

    ``status`` is the hosted one (``success``/``failed``; this project's service said ``completed``
    before); ``succeeded`` reads both. ``stored_image_url`` fetches the image (with the key);
    ``output_data`` is the free result object (this project's service puts ``detections`` in it).

    >>> item = BatchItem.from_api({"item_id": "i1", "item_index": 0, "status": "success",
    ...                            "stored_image_url": "https://h/api/v2/data/batch-images/i1"})
    >>> item.succeeded, item.stored_image_url
    (True, 'https://h/api/v2/data/batch-images/i1')
    """
    item_id: str
    item_index: int
    status: str
    input_data: dict[str, Any] | None = field(default=None, compare=False)
    output_data: dict[str, Any] | None = field(default=None, compare=False)
    error_message: str | None = None
    processing_time_ms: int | None = None
    stored_image_url: str | None = None
    file_name: str = ""
    file_id: str | None = None
    processed_at: datetime | None = None

    @property
    def succeeded(self) -> bool:
        """True when the item was processed without error (``success`` or ``completed``)."""
        return self.status in ("success", "completed")

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "BatchItem":
        given = data.get("input_data") if isinstance(data.get("input_data"), dict) else None
        inputs = given or {}
        return cls(
            item_id=str(data["item_id"]), item_index=_int(data.get("item_index")), status=str(data["status"]),
            input_data=given, output_data=data.get("output_data"), error_message=data.get("error_message"),
            processing_time_ms=_opt_int(data.get("processing_time_ms")),
            stored_image_url=data.get("stored_image_url"),
            file_name=str(data.get("file_name") or inputs.get("file_name") or ""),
            file_id=data.get("file_id") or inputs.get("file_id"), processed_at=parse_time(data.get("processed_at")))


def _bytes_to_mb(value: int) -> float:
    return value / 1_000_000


@dataclass(frozen=True)
class FormatStatistics:
    """Exports of one format in the period: how many, their bytes, the average export time."""
    count: int = 0
    total_size: int = 0
    avg_export_time_seconds: float = 0.0

    @property
    def total_size_mb(self) -> float:
        return _bytes_to_mb(self.total_size)


@dataclass(frozen=True)
class PopularFormat:
    format: str
    usage_count: int


@dataclass(frozen=True, eq=False)
class Statistics:
    """``GET /datasets/statistics/summary`` as a plain record; ``.by_status`` and ``.by_format`` are
    DataFrames (built by :mod:`aion_pandas.frames` on first use) and ``.plot()`` draws them.

    ``status_counts``: datasets per status (all four); ``formats``: :class:`FormatStatistics` per
    format (all four, then any other); ``popular``: most used formats first.

    >>> s = Statistics.from_api({"dataset_statistics": {"total_datasets": 2, "by_status": {"ready": 2}},
    ...                          "export_statistics": {"by_format": {"csv": {"count": 1, "total_size": 10}}}})
    >>> s.status_counts["ready"], s.formats["csv"].count, s.formats["yolo"].count
    (2, 1, 0)
    """
    total_datasets: int
    total_items: int
    avg_items_per_dataset: float
    total_exports: int
    total_data_volume: int
    since: datetime | None
    until: datetime | None
    status_counts: dict[str, int] = field(repr=False, default_factory=dict)
    formats: dict[str, FormatStatistics] = field(repr=False, default_factory=dict)
    popular: tuple[PopularFormat, ...] = field(repr=False, default=())
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

    @property
    def by_status(self):
        """DataFrame: index ``status`` (all four), column ``count`` (see :func:`aion_pandas.frames.status_frame`)."""
        from .frames import status_frame
        return status_frame(self)

    @property
    def by_format(self):
        """DataFrame: index ``format``; ``count``, ``total_size`` (bytes), ``total_size_mb``,
        ``avg_export_time_seconds``."""
        from .frames import format_frame
        return format_frame(self)

    @property
    def popular_formats(self):
        """DataFrame: ``format``, ``usage_count``, most used first."""
        from .frames import popular_frame
        return popular_frame(self)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Statistics":
        ds = data.get("dataset_statistics") or {}
        ex = data.get("export_statistics") or {}
        period = data.get("period") or {}
        counts = {str(k): int(v) for k, v in (ds.get("by_status") or {}).items()}
        statuses = [*DATASET_STATUSES, *sorted(set(counts) - set(DATASET_STATUSES))]
        formats_raw = ex.get("by_format") or {}
        names = [*FORMATS, *sorted(set(formats_raw) - set(FORMATS))]
        formats = {}
        for name in names:
            r = formats_raw.get(name) or {}
            formats[name] = FormatStatistics(_int(r.get("count")), _int(r.get("total_size")),
                                             float(r.get("avg_export_time_seconds") or 0.0))
        popular = tuple(PopularFormat(str(p["format"]), _int(p.get("usage_count")))
                        for p in data.get("popular_formats") or [])
        return cls(
            total_datasets=_int(ds.get("total_datasets")), total_items=_int(ds.get("total_items")),
            avg_items_per_dataset=float(ds.get("avg_items_per_dataset") or 0.0),
            total_exports=_int(ex.get("total_exports")), total_data_volume=_int(ex.get("total_data_volume")),
            since=parse_time(period.get("since")), until=parse_time(period.get("until")),
            status_counts={s: counts.get(s, 0) for s in statuses}, formats=formats, popular=popular, raw=data)

    def plot(self, **kwargs: Any):
        """One matplotlib Figure: datasets by status, exports per format (count, MB), avg export time.

        >>> fig = aion.statistics(days=30).plot()  # doctest: +SKIP
        """
        from .plots import plot_statistics
        return plot_statistics(self, **kwargs)

    def _repr_html_(self) -> str:
        from .frames import statistics_html
        return statistics_html(self)
