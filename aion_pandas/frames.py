"""Records as DataFrames with real dtypes: the datasets frame, the exports frame, the statistics.

>>> import aion_pandas as aion
>>> df = aion.datasets(status="ready")        # doctest: +SKIP
>>> df.dtypes["created_at"]                   # doctest: +SKIP
datetime64[ns, UTC]
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import pandas as pd

from .records import BATCH_STATUSES, DATASET_STATUSES, FORMATS, Dataset, ExportResult, Statistics

if TYPE_CHECKING:
    from .client import Client

STRING = pd.StringDtype()
UTC_TIME = pd.DatetimeTZDtype("ns", "UTC")
STATUS = pd.CategoricalDtype(list(DATASET_STATUSES))
FORMAT = pd.CategoricalDtype(list(FORMATS))
BATCH_STATUS = pd.CategoricalDtype(list(BATCH_STATUSES))

#: column -> dtype of the datasets frame (index: ``id``, string)
DATASET_COLUMNS: dict[str, Any] = {
    "name": STRING, "description": STRING, "batch_id": STRING, "status": STATUS, "batch_status": BATCH_STATUS,
    "created_at": UTC_TIME, "updated_at": UTC_TIME, "total_items": "Int64", "successful_items": "Int64",
    "export_count": "Int64", "latest_export_id": STRING, "latest_export_format": FORMAT,
    "latest_export_at": UTC_TIME, "failure_reason": STRING,
}

#: column -> dtype of the exports frame (index: ``dataset_id``, string)
EXPORT_COLUMNS: dict[str, Any] = {
    "export_id": STRING, "format": FORMAT, "status": STRING, "record_count": "Int64",
    "file_size_bytes": "Int64", "content_type": STRING, "download_url": STRING, "exported_at": UTC_TIME,
    "error": STRING,
}

CLIENT_ATTR = "aion_client"  # frame.attrs key: which client made the frame (a token, never the key)


def _typed(rows: dict[str, list[Any]], columns: dict[str, Any], index: list[Any], index_name: str) -> pd.DataFrame:
    data = {}
    for name, dtype in columns.items():
        values = rows.get(name, [None] * len(index))
        if dtype is UTC_TIME:
            data[name] = pd.to_datetime(pd.Series(values, dtype=object), utc=True).astype(UTC_TIME).array
        elif isinstance(dtype, pd.CategoricalDtype):
            extra = sorted({v for v in values if v is not None} - set(dtype.categories))
            cat = pd.CategoricalDtype([*dtype.categories, *extra]) if extra else dtype
            data[name] = pd.Categorical(values, dtype=cat)
        else:
            data[name] = pd.array(values, dtype=dtype)
    return pd.DataFrame(data, index=pd.Index(pd.array(index, dtype=STRING), name=index_name))


def datasets_frame(records: Iterable[Dataset]) -> pd.DataFrame:
    """One row per dataset, index ``id``, the dtypes of :data:`DATASET_COLUMNS` (also when empty).

    >>> datasets_frame([]).dtypes["status"]
    CategoricalDtype(categories=['pending', 'processing', 'ready', 'failed'], ordered=False, categories_dtype=str)
    """
    records = list(records)
    rows: dict[str, list[Any]] = {name: [] for name in DATASET_COLUMNS}
    for d in records:
        latest = d.latest_export
        values = {"name": d.name, "description": d.description, "batch_id": d.batch_id, "status": d.status,
                  "batch_status": d.batch_status, "created_at": d.created_at, "updated_at": d.updated_at,
                  "total_items": d.total_items, "successful_items": d.successful_items,
                  "export_count": d.export_count, "latest_export_id": latest.export_id if latest else None,
                  "latest_export_format": latest.format if latest else None,
                  "latest_export_at": latest.created_at if latest else None, "failure_reason": d.failure_reason}
        for name in DATASET_COLUMNS:
            rows[name].append(values[name])
    return _typed(rows, DATASET_COLUMNS, [d.id for d in records], "id")


def exports_frame(dataset_ids: list[str], results: list[ExportResult | BaseException | None]) -> pd.DataFrame:
    """One row per dataset: the export's fields, or its ``error`` (message) when it failed.

    >>> exports_frame([], []).columns.tolist()[:3]
    ['export_id', 'format', 'status']
    """
    rows: dict[str, list[Any]] = {name: [] for name in EXPORT_COLUMNS}
    for result in results:
        if isinstance(result, ExportResult):
            values = {name: getattr(result, name, None) for name in EXPORT_COLUMNS}
            values["error"] = None
        else:
            values = {name: None for name in EXPORT_COLUMNS}
            values["error"] = f"{type(result).__name__}: {result}" if result is not None else None
        for name in EXPORT_COLUMNS:
            rows[name].append(values[name])
    return _typed(rows, EXPORT_COLUMNS, list(dataset_ids), "dataset_id")


def status_frame(stats: Statistics) -> pd.DataFrame:
    """Datasets per status: index ``status`` (ordered: the four, then any other), column ``count`` (Int64).

    >>> status_frame(Statistics.from_api({}))["count"].tolist()
    [0, 0, 0, 0]
    """
    statuses = list(stats.status_counts) or list(DATASET_STATUSES)
    return pd.DataFrame(
        {"count": pd.array([stats.status_counts.get(s, 0) for s in statuses], dtype="Int64")},
        index=pd.CategoricalIndex(statuses, categories=statuses, ordered=True, name="status"))


def format_frame(stats: Statistics) -> pd.DataFrame:
    """Exports per format: index ``format``; ``count``, ``total_size`` (bytes), ``total_size_mb``,
    ``avg_export_time_seconds``.

    >>> format_frame(Statistics.from_api({})).columns.tolist()
    ['count', 'total_size', 'total_size_mb', 'avg_export_time_seconds']
    """
    names = list(stats.formats) or list(FORMATS)
    rows = [stats.formats.get(n) for n in names]
    return pd.DataFrame(
        {"count": pd.array([r.count if r else 0 for r in rows], dtype="Int64"),
         "total_size": pd.array([r.total_size if r else 0 for r in rows], dtype="Int64"),
         "total_size_mb": pd.array([r.total_size_mb if r else 0.0 for r in rows], dtype="Float64"),
         "avg_export_time_seconds": pd.array([r.avg_export_time_seconds if r else 0.0 for r in rows],
                                             dtype="Float64")},
        index=pd.CategoricalIndex(names, categories=names, name="format"))


def popular_frame(stats: Statistics) -> pd.DataFrame:
    """The most used formats: columns ``format`` (string) and ``usage_count`` (Int64), most used first."""
    return pd.DataFrame({"format": pd.array([p.format for p in stats.popular], dtype="string"),
                         "usage_count": pd.array([p.usage_count for p in stats.popular], dtype="Int64")})


def statistics_html(stats: Statistics) -> str:
    """The notebook display of :class:`~aion_pandas.records.Statistics`: a line and three small tables."""
    import html

    head = (f"<b>Dataset statistics</b>, {html.escape(stats.period_label)}: "
            f"{stats.total_datasets} datasets, {stats.total_items} items "
            f"(avg {stats.avg_items_per_dataset:.1f}), {stats.total_exports} exports, "
            f"{stats.total_data_volume / 1_000_000:.2f} MB")
    tables = "".join(
        f"<div style='display:inline-block;vertical-align:top;margin-right:1.5em'>"
        f"<i>{title}</i>{frame.to_html(float_format=lambda v: f'{v:.3f}')}</div>"
        for title, frame in (("by status", status_frame(stats)), ("by format", format_frame(stats)),
                             ("popular formats", popular_frame(stats))))
    return f"<div class='aion-statistics'><p>{head}</p>{tables}</div>"


def datasets(status: str | None = None, client: "Client | None" = None) -> pd.DataFrame:
    """Every dataset (all pages) as a DataFrame indexed by dataset id; ``df.aion`` works on it.

    >>> df = aion.datasets(status="ready")        # doctest: +SKIP
    >>> df[["name", "status", "total_items", "latest_export_format"]]  # doctest: +SKIP
    """
    from .client import resolve_client

    client = resolve_client(client)
    frame = datasets_frame(client.datasets.list(status=status, limit=1000).auto_paging_iter())
    frame.attrs[CLIENT_ATTR] = client.token
    return frame


def statistics(days: int = 30, client: "Client | None" = None) -> Statistics:
    """Statistics of the last ``days`` days: ``.by_status``, ``.by_format``, ``.popular_formats``, ``.plot()``.

    >>> aion.statistics(days=30).plot()   # doctest: +SKIP
    """
    from .client import resolve_client

    return resolve_client(client).datasets.statistics(days=days)
