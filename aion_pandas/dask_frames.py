"""The Dask engine: exports as one lazy ``dask.dataframe`` whose partitions are read on the workers.

Each partition is one :class:`ExportPart`: a signed ``download_url`` (fetched on the worker with a
plain keyless GET; signed URLs need no key, so no key is ever shipped) or a local path, with the
part of it to read (a run of YOLO/VOC images, a byte range of a CSV). :func:`read_part` is the pure
function ``dask.dataframe.from_map`` calls for each; ``meta`` is the canonical frame of the format
(:func:`meta_for`). The frame computes on the ``dask.distributed.Client`` given or already active,
else on Dask's default scheduler.

>>> import aion_pandas as aion
>>> boxes = aion.datasets(status="ready").aion.load("coco", engine="dask")     # doctest: +SKIP
>>> boxes.groupby("category", observed=True).size().compute()               # doctest: +SKIP
"""
from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from aion_pandas.errors import AionError, FormatError
from aion_pandas.worker_memory import malloc_room
from aion_pandas.formats.schema import CORE_COLUMNS, EXTRA_COLUMNS, FORMATS, null_column

if TYPE_CHECKING:
    import dask.dataframe as dd

    from aion_pandas.records import ExportResult

__all__ = ["ExportPart", "read_part", "meta_for", "from_parts", "from_exports",
           "partitions_of", "FORMAT_EXTRAS"]

log = logging.getLogger("aion_pandas.dask")

#: the extra columns each reader can give (canonical order); a partition lacking one gets nulls
FORMAT_EXTRAS: dict[str, tuple[str, ...]] = {
    "coco": ("iscrowd", "area", "description", "tags", "image_url", "item_id", "item_status"),
    "yolo": ("description", "tags", "image_url", "item_id", "item_status", "split"),
    "pascal_voc": ("difficult", "truncated", "description", "tags", "image_url", "item_id",
                   "item_status", "split"),
    "csv": tuple(EXTRA_COLUMNS),
}
#: columns outside the contract that a format carries: the CSV's ``include_timestamps`` columns
FORMAT_OTHERS: dict[str, dict[str, str]] = {
    "csv": {"processed_at": "datetime64[s, UTC]", "exported_at": "datetime64[s, UTC]"}}
_RETRIES = 3
_PARTITIONS: "weakref.WeakValueDictionary[str, Any]" = weakref.WeakValueDictionary()


def _format(fmt: str) -> str:
    key = fmt.lower().replace("-", "_")
    key = "pascal_voc" if key == "voc" else key
    if key not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    return key


def display_url(url: str) -> str:
    """``url`` without its query (the signature stays out of reprs, logs and errors).

    >>> display_url("http://h/exports/e1/a.json?expires=1&signature=abc")
    'http://h/exports/e1/a.json'
    """
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass(frozen=True)
class ExportPart:
    """One partition's input: what to read and which part of it. It holds no key: ``source`` is a
    signed ``download_url`` or a local path (which the workers must see).

    ``part=(k, n)`` reads the k-th of n runs of images (YOLO, VOC); ``byte_range=(start, stop)``
    reads those bytes of a CSV after its header line (``header_end`` bytes); line numbers in its
    errors count from the range's start, the header being line 1.

    >>> ExportPart("d1", "http://h/exports/e1/a.json?signature=abc", "coco", size=120)
    ExportPart(dataset_id='d1', source='http://h/exports/e1/a.json', format='coco')
    """
    dataset_id: str | None
    source: str
    format: str
    size: int | None = None
    part: tuple[int, int] | None = None
    byte_range: tuple[int, int] | None = None
    header_end: int = 0
    options: tuple[tuple[str, Any], ...] = ()
    categories: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        shown = display_url(self.source) if _is_url(self.source) else self.source
        more = "".join(f", {k}={v!r}" for k, v in (("part", self.part), ("byte_range", self.byte_range))
                       if v is not None)
        return f"ExportPart(dataset_id={self.dataset_id!r}, source={shown!r}, format={self.format!r}{more})"

    @property
    def where(self) -> str:
        """The part named for messages: dataset, file (no query) and part."""
        name = display_url(self.source) if _is_url(self.source) else self.source
        label = f"dataset {self.dataset_id} ({name})" if self.dataset_id else name
        if self.part is not None:
            label += f" part {self.part[0] + 1} of {self.part[1]}"
        if self.byte_range is not None:
            label += f" bytes {self.byte_range[0]}-{self.byte_range[1]}"
        return label


def _is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


# --------------------------------------------------------------------------------------------
# meta: the canonical frame of a format


def meta_for(fmt: str, categories: Sequence[str] | None = None) -> pd.DataFrame:
    """The empty canonical frame every partition of ``fmt`` matches: the core columns, the format's
    extras (:data:`FORMAT_EXTRAS`), then its other columns, with the readers' dtypes. ``category``
    has ``categories`` when given, else Dask's unknown categories (each export has its own classes).

    >>> meta_for("yolo", ["cat", "dog"]).dtypes["category"]
    CategoricalDtype(categories=['cat', 'dog'], ordered=False, categories_dtype=str)
    """
    fmt = _format(fmt)
    columns = {**CORE_COLUMNS, **{name: EXTRA_COLUMNS[name] for name in FORMAT_EXTRAS[fmt]},
               **FORMAT_OTHERS.get(fmt, {})}
    meta = pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})
    if categories is not None:
        meta["category"] = pd.Categorical([], categories=pd.Index(list(categories), dtype="str"))
    else:
        from dask.dataframe.utils import clear_known_categories
        meta["category"] = pd.Categorical([], categories=pd.Index([], dtype="str"))
        meta = clear_known_categories(meta, cols=["category"])
    return meta


def conform(frame: pd.DataFrame, meta: pd.DataFrame, *, where: str,
            categories: Sequence[str] | None = None) -> pd.DataFrame:
    """``frame`` with exactly ``meta``'s columns, order and dtypes: a missing column is nulls,
    a column outside ``meta`` is left out; with ``categories`` a class outside them is an error."""
    out: dict[str, Any] = {}
    for name, dtype in meta.dtypes.items():
        if name not in frame.columns:
            out[name] = _nulls(dtype, len(frame))
        elif name == "category":
            out[name] = _category(frame[name], categories, where)
        elif frame[name].dtype != dtype:
            out[name] = frame[name].astype(dtype)
        else:
            out[name] = frame[name]
    result = pd.DataFrame(out, copy=False)
    result.index = pd.RangeIndex(len(result))
    return result


def _nulls(dtype: Any, n: int) -> Any:
    text = str(dtype)
    if text in ("float64", "Int64", "boolean", "string"):
        return null_column(text, n)
    return pd.Series([None] * n, dtype=dtype)


def _category(col: pd.Series, categories: Sequence[str] | None, where: str) -> pd.Series:
    if categories is None:
        return col
    wanted = pd.Index(list(categories), dtype="str")
    used = col.cat.categories[pd.unique(col.cat.codes[col.cat.codes >= 0])]
    outside = [str(c) for c in used if c not in wanted]
    if outside:
        raise FormatError(f"class(es) {outside[:5]} not among categories={list(wanted)[:8]}"
                          f"{'...' if len(wanted) > 8 else ''}: pass every class, or categories=None",
                          path=where)
    return col.cat.set_categories(wanted)


# --------------------------------------------------------------------------------------------
# one partition, on a worker


def fetch(url: str, size: int | None, *, where: str, timeout: float = 120.0) -> bytes:
    """The bytes at a signed ``url``, with a plain GET (no key, no auth header) and a few retries;
    a body of another size than ``size`` is an error naming ``where``.

    >>> fetch(export.download_url, export.file_size_bytes, where="dataset d1")   # doctest: +SKIP
    """
    import requests

    last = "no attempt"
    for attempt in range(_RETRIES):
        try:
            with requests.get(url, timeout=timeout, stream=True) as response:  # .content's 10 KiB: 5x the CPU
                body = b"".join(response.iter_content(1 << 20))  # a broken body: a RequestException, retried
            if response.status_code < 400 and (size is None or len(body) == size):
                return body
            if response.status_code < 400:
                last = f"got {len(body):,} bytes, expected {size:,}"
            else:
                last = f"HTTP {response.status_code}"
                if response.status_code in (401, 403, 404, 410):
                    break  # an expired or bad signature does not heal: export again
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.2 * 2 ** attempt)
    raise AionError(f"{where}: download failed ({last}) after {attempt + 1} attempt(s); signed URLs "
                    f"expire: load or export again")


def _csv_bytes(part: ExportPart) -> bytes:
    start, stop = part.byte_range  # type: ignore[misc]
    with open(part.source, "rb") as fh:
        header = fh.read(part.header_end)
        fh.seek(start)
        return header + fh.read(stop - start)


def read_part(part: ExportPart) -> pd.DataFrame:
    """The canonical frame of one :class:`ExportPart` (what each Dask task runs, on its worker).

    >>> read_part(ExportPart(None, "labels.csv", "csv"))   # doctest: +SKIP
    """
    with malloc_room():
        return _read_part(part)


def _read_part(part: ExportPart) -> pd.DataFrame:
    from aion_pandas import formats

    where = part.where
    options = dict(part.options)
    try:
        if part.byte_range is not None:
            frame = formats.parse_csv(_csv_bytes(part), delimiter=options.get("delimiter"), where=where)
        else:
            data: Any = fetch(part.source, part.size, where=where) if _is_url(part.source) else part.source
            if part.part is not None:
                options["part"] = part.part
            frame = formats.read_export(data, part.format, **options)
    except FormatError as exc:
        if exc.path in (None, "<bytes>") or _is_url(part.source):
            raise FormatError(exc.reason, path=where, member=exc.member, line=exc.line) from None
        raise
    if part.dataset_id is not None:
        frame["dataset_id"] = pd.array([part.dataset_id] * len(frame), dtype="string")
    out = conform(frame, meta_for(part.format, part.categories), where=where, categories=part.categories)
    log.info("read %s: %d rows", where, len(out))
    return out


# --------------------------------------------------------------------------------------------
# many partitions


def from_parts(parts: Sequence[ExportPart], fmt: str, *, categories: Sequence[str] | None = None
               ) -> "dd.DataFrame":
    """A lazy Dask frame with one partition per :class:`ExportPart` (``from_map(read_part, parts)``).

    >>> ddf = from_parts([ExportPart("d1", url, "coco", size=n)], "coco")   # doctest: +SKIP
    """
    import dask
    import dask.dataframe as dd

    fmt = _format(fmt)
    cats = tuple(str(c) for c in categories) if categories is not None else None
    if not parts:  # every dataset skipped, or an empty frame: an empty frame of the right meta
        with dask.config.set({"dataframe.convert-string": False}):
            empty = dd.from_pandas(meta_for(fmt, cats if cats is not None else ()), npartitions=1)
        _remember(empty, pd.DataFrame({"partition": [], "dataset_id": pd.array([], dtype="string"),
                                       "part": [], "source": []}))
        return empty
    parts = [p if p.categories == cats and p.format == fmt else _replace(p, format=fmt, categories=cats)
             for p in parts]
    with dask.config.set({"dataframe.convert-string": False}):  # tags stay lists, not str
        ddf = dd.from_map(read_part, parts, meta=meta_for(fmt, cats), label=f"aion-read-{fmt}",
                          enforce_metadata=False)
    table = pd.DataFrame({"partition": range(len(parts)),
                          "dataset_id": pd.array([p.dataset_id for p in parts], dtype="string"),
                          "part": [p.part or p.byte_range for p in parts],
                          "source": [display_url(p.source) if _is_url(p.source) else p.source for p in parts]})
    _remember(ddf, table)
    return ddf


def _replace(part: ExportPart, **changes: Any) -> ExportPart:
    from dataclasses import replace
    return replace(part, **changes)


class _Table:
    """A partition table kept (weakly) by the Dask frame's name."""
    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame


def _remember(ddf: Any, table: pd.DataFrame) -> None:
    holder = _Table(table)
    _PARTITIONS[ddf._name] = holder
    ddf._aion_partitions = holder  # keeps it alive while the frame is


def partitions_of(ddf: Any) -> pd.DataFrame:
    """Which dataset (and part) each partition of a frame made here holds: ``partition``,
    ``dataset_id``, ``part``, ``source`` (no query).

    >>> partitions_of(boxes).head(2)   # doctest: +SKIP
    """
    holder = _PARTITIONS.get(getattr(ddf, "_name", ""))
    if holder is None:
        raise ValueError("this Dask frame was not made by aion_pandas (or was derived from one): "
                         "its partitions are those of the frame load() or read_export() returned")
    return holder.frame.copy()


def from_exports(exports: Iterable["ExportResult"], fmt: str, *, options: dict[str, Any] | None = None,
                 categories: Sequence[str] | None = None) -> "dd.DataFrame":
    """One partition per export, read from its signed ``download_url`` on the workers.

    >>> ddf = from_exports([client.datasets.export("d1", "coco")], "coco")   # doctest: +SKIP
    """
    opts = tuple(sorted((options or {}).items()))
    parts = [ExportPart(e.dataset_id, e.download_url, _format(fmt), size=e.file_size_bytes, options=opts)
             for e in exports]
    return from_parts(parts, fmt, categories=categories)


# --------------------------------------------------------------------------------------------
# ddf.aion on the Dask frames


def _register_accessor() -> None:
    from dask.dataframe.extensions import register_dataframe_accessor

    @register_dataframe_accessor("aion")
    class DaskAionAccessor:
        """``ddf.aion`` on a Dask annotation frame: its partitions, Parquet and FiftyOne."""

        def __init__(self, ddf: Any) -> None:
            self._ddf = ddf

        @property
        def partitions(self) -> pd.DataFrame:
            """Which dataset each partition holds (see :func:`partitions_of`)."""
            return partitions_of(self._ddf)

        def to_parquet(self, path: Any, partition_cols: list[str] | None = None, **kwargs: Any) -> Any:
            """A Parquet dataset of the frame, each partition written on its worker (see
            :func:`aion_pandas.parquet.to_parquet`).

            >>> ddf.aion.to_parquet("boxes.parquet", partition_cols=["dataset_id"])   # doctest: +SKIP
            """
            from aion_pandas.parquet import to_parquet
            return to_parquet(self._ddf, path, partition_cols=partition_cols, **kwargs)

        def to_fiftyone(self, name: str | None = None, **kwargs: Any) -> Any:
            """A FiftyOne dataset, computed partition by partition (:func:`aion_pandas.to_fiftyone`)."""
            from aion_pandas.fiftyone import to_fiftyone
            return to_fiftyone(self._ddf, name=name, **kwargs)


_register_accessor()
