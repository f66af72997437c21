"""The ``df.aion`` accessor (registered on ``import aion_pandas``): act on the datasets in a frame,
or look at the annotations in one.

Works on any frame with dataset ids in an ``id`` or ``dataset_id`` column, or in an index named
``id``/``dataset_id`` (as :func:`aion_pandas.datasets` returns), and on a canonical annotation frame
(as :func:`aion_pandas.read_export` and ``df.aion.load`` return): ``summary``, ``check``, ``plot`` and
``show`` delegate to :mod:`aion_pandas.analysis` and :mod:`aion_pandas.plots_annotations`. Only
pandas is imported here; the client, formats, analysis and FiftyOne load on first use.

>>> import aion_pandas as aion
>>> df = aion.datasets(status="ready")                  # doctest: +SKIP
>>> exports = df.head(2).aion.export("coco")            # doctest: +SKIP
>>> boxes = df.aion.load("yolo")                        # doctest: +SKIP
>>> boxes.aion.check()                                  # doctest: +SKIP
"""
from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, TypeVar

import pandas as pd

if TYPE_CHECKING:
    from .client import Client
    from .records import ExportResult

T = TypeVar("T")
ID_COLUMNS = ("id", "dataset_id")
Errors = Literal["coerce", "raise"]
# export options the reader must know too: (format, option)
_READER_OPTIONS = {("csv", "delimiter"), ("pascal_voc", "one_based")}


#: the columns that make a frame a canonical annotation frame for df.aion (as analysis needs them)
ANNOTATION_COLUMNS = ("image_id", "file_name", "width", "height", "category", "x", "y", "w", "h")


def _is_annotations(frame: pd.DataFrame) -> bool:
    return all(name in frame.columns for name in ANNOTATION_COLUMNS)


def _id_values(frame: pd.DataFrame) -> pd.Series | None:
    """The frame's dataset ids (a column or the index); None for an annotation frame without them."""
    for name in ID_COLUMNS:
        if name in frame.columns:
            return frame[name]
    if frame.index.name in ID_COLUMNS:
        return frame.index.to_series()
    if _is_annotations(frame):
        return None
    raise AttributeError(
        "df.aion needs dataset ids: a column 'id' or 'dataset_id', or an index named 'id' "
        "(as aion.datasets() returns), or a canonical annotation frame with columns "
        f"{', '.join(ANNOTATION_COLUMNS)} (as aion.read_export() returns); this frame has columns "
        f"{list(map(str, frame.columns))[:8]} and index {frame.index.name!r}")


def _dataset_ids(frame: pd.DataFrame) -> list[str]:
    values = _id_values(frame)
    return [] if values is None else [str(v) for v in pd.unique(values.dropna())]


@pd.api.extensions.register_dataframe_accessor("aion")
class AionAccessor:
    """``df.aion``: export, download, refresh, wait, load and open in FiftyOne the frame's datasets;
    summary, check, plot and show the boxes of an annotation frame."""

    def __init__(self, frame: pd.DataFrame) -> None:
        _id_values(frame)  # raises AttributeError for a frame that is neither kind
        self._frame = frame
        self._ids_cache: list[str] | None = None

    @property
    def _ids(self) -> list[str]:
        # computed on first use: an annotation frame of a million rows pays for it only when exporting
        if self._ids_cache is None:
            self._ids_cache = _dataset_ids(self._frame)
        return self._ids_cache

    # ------------------------------------------------------------------ basics
    @property
    def ids(self) -> list[str]:
        """The frame's dataset ids, unique, in order.

        >>> pd.DataFrame({"id": ["d1", "d2", "d1"]}).aion.ids
        ['d1', 'd2']
        """
        return list(self._ids)

    def client(self, client: "Client | None" = None) -> "Client":
        """The client to use: ``client``, else the one the frame came from, else the default."""
        from .client import resolve_client
        from .frames import CLIENT_ATTR
        return resolve_client(client, self._frame.attrs.get(CLIENT_ATTR))

    def _not_ready(self) -> dict[str, str]:
        """Datasets the frame itself says are not ``ready`` (from its ``status`` column): id -> status."""
        if "status" not in self._frame.columns:
            return {}
        ids = self._frame["id"] if "id" in self._frame.columns else (
            self._frame["dataset_id"] if "dataset_id" in self._frame.columns else self._frame.index.to_series())
        pairs = zip(ids.astype("string"), self._frame["status"].astype("string"))
        return {str(i): str(s) for i, s in pairs if not pd.isna(i) and not pd.isna(s) and s != "ready"}

    def _map(self, fn: Callable[[str], T], what: str, *, max_workers: int, progress: bool,
             ids: list[str] | None = None) -> list[T | Exception]:
        """``fn(id)`` for every id in a thread pool (a tqdm bar past one row); exceptions are returned."""
        def run(dataset_id: str) -> T | Exception:
            try:
                return fn(dataset_id)
            except Exception as exc:  # noqa: BLE001  (reported per row)
                return exc

        ids = self._ids if ids is None else ids
        if len(ids) <= 1:
            return [run(i) for i in ids]
        from tqdm.auto import tqdm
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(ids)))) as pool:
            bar = {"desc": what, "unit": "dataset", "leave": False, **({} if progress else {"disable": True})}
            return list(tqdm(pool.map(run, ids), total=len(ids), **bar))  # TQDM_DISABLE etc. still apply

    @staticmethod
    def _check(errors: str) -> None:
        if errors not in ("coerce", "raise"):
            raise ValueError(f"errors must be 'coerce' (an error column) or 'raise', got {errors!r}")

    @staticmethod
    def _raise_first(results: list[Any]) -> None:
        for result in results:
            if isinstance(result, Exception):
                raise result

    # ------------------------------------------------------------------ exports
    def export(self, format: str, include_failed_items: bool = False,  # noqa: A002 (the API's name)
               options: dict[str, Any] | None = None, *, errors: Errors = "coerce",
               client: "Client | None" = None, max_workers: int = 4, progress: bool = True) -> pd.DataFrame:
        """Export every dataset of the frame (in parallel); one row per dataset, indexed ``dataset_id``.

        Columns: ``export_id, format, status, record_count, file_size_bytes, content_type,
        download_url, exported_at, error``. A failed dataset gets its ``error`` and the others go on;
        ``errors="raise"`` raises the first failure instead.

        >>> df.aion.export("coco")[["record_count", "download_url", "error"]]   # doctest: +SKIP
        """
        from .frames import exports_frame
        self._check(errors)
        api = self.client(client)
        results = self._map(lambda i: api.datasets.export(i, format, options=options,
                                                          include_failed_items=include_failed_items),
                            f"export {format}", max_workers=max_workers, progress=progress)
        if errors == "raise":
            self._raise_first(results)
        return exports_frame(self._ids, results)

    def _fetch(self, api: "Client", dataset_id: str, format: str, options: dict[str, Any] | None,  # noqa: A002
               include_failed_items: bool, dest: Path | None, reuse: bool) -> "tuple[ExportResult, Path]":
        """Export (or reuse the cached export) and download it; returns (export, local path)."""
        from .client.cache import ExportCache
        cache = ExportCache(api.cache_dir / "exports")
        if reuse and dest is None:
            hit = cache.lookup(api, dataset_id, format, options, include_failed_items)
            if hit is not None:
                return hit
        export = api.datasets.export(dataset_id, format, options=options, include_failed_items=include_failed_items)
        path = api.datasets.download(export, dest=dest if dest is not None else cache.path_for(export),
                                     progress=False)
        if dest is None:
            cache.remember(api, dataset_id, format, options, include_failed_items, export)
        return export, path

    def download(self, format: str, dest: str | Path | None = None, *,  # noqa: A002
                 include_failed_items: bool = False, options: dict[str, Any] | None = None,
                 reuse: bool = True, errors: Errors = "coerce", client: "Client | None" = None,
                 max_workers: int = 4, progress: bool = True) -> pd.DataFrame:
        """Export and download every dataset; the export frame plus a ``path`` column.

        ``dest``: a folder for the files (made if needed); None keeps them in the cache, where an
        earlier download of the same dataset, format and options is reused (``reuse=False`` exports anew).

        >>> df.aion.download("yolo", dest="exports/")["path"]   # doctest: +SKIP
        """
        from .frames import exports_frame
        self._check(errors)
        api = self.client(client)
        folder = None
        if dest is not None:
            folder = Path(dest).expanduser()
            folder.mkdir(parents=True, exist_ok=True)
        results = self._map(lambda i: self._fetch(api, i, format, options, include_failed_items, folder, reuse),
                            f"download {format}", max_workers=max_workers, progress=progress)
        if errors == "raise":
            self._raise_first(results)
        frame = exports_frame(self._ids, [r[0] if isinstance(r, tuple) else r for r in results])
        frame["path"] = pd.array([str(r[1]) if isinstance(r, tuple) else None for r in results], dtype="string")
        return frame

    def load(self, format: str = "coco", *, engine: Literal["pandas", "dask"] = "pandas",  # noqa: A002
             errors: Literal["raise", "skip"] = "raise", categories: list[str] | None = None,
             include_failed_items: bool = False, options: dict[str, Any] | None = None, reuse: bool = True,
             client: "Client | None" = None, max_workers: int = 4, progress: bool = True) -> Any:
        """One canonical annotation frame (one row per box) of every dataset, with ``dataset_id``.

        Exports each dataset (or reuses a cached export of the same dataset, format and options),
        downloads it to the cache, reads it with :func:`aion_pandas.formats.read_export` and
        concatenates. Datasets whose ``status`` column says they are not ready are skipped with a
        warning naming them. A failed export raises (``errors="raise"``, the error names the
        dataset) or is skipped with one warning naming each (``errors="skip"``).

        ``engine="dask"`` returns a lazy ``dask.dataframe.DataFrame`` instead: the exports are made
        here (with the key), and each partition, one per dataset, is fetched from its signed
        ``download_url`` and read on a Dask worker (see :mod:`aion_pandas.dask_frames`); each call
        exports anew, as signed URLs expire. ``categories`` (every class name) gives the Dask
        frame known categories; without it they are unknown until computed.

        >>> boxes = df.aion.load("coco")   # doctest: +SKIP
        >>> boxes.groupby(["dataset_id", "category"], observed=True).size()   # doctest: +SKIP
        >>> lazy = df.aion.load("yolo", engine="dask")   # doctest: +SKIP
        """
        from .formats import read_export
        if engine not in ("pandas", "dask"):
            raise ValueError(f"engine must be 'pandas' or 'dask', got {engine!r}")
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors must be 'raise' or 'skip' (with a warning), got {errors!r}")
        api = self.client(client)
        ids = self._ready_ids()
        reader_options = {k: v for k, v in (options or {}).items() if (format, k) in _READER_OPTIONS}
        if engine == "dask":
            from .dask_frames import from_exports
            exports = self._map(lambda i: api.datasets.export(i, format, options=options,
                                                              include_failed_items=include_failed_items),
                                f"export {format}", max_workers=max_workers, progress=progress, ids=ids)
            kept = self._settle(ids, exports, errors)
            return from_exports([e for _, e in kept], format, options=reader_options, categories=categories)

        def one(dataset_id: str) -> pd.DataFrame:
            export, path = self._fetch(api, dataset_id, format, options, include_failed_items, None, reuse)
            frame = read_export(path, format=format, **reader_options)
            frame["dataset_id"] = pd.array([dataset_id] * len(frame), dtype="string")
            frame.attrs.update({"export_id": export.export_id})
            return frame

        results = self._map(one, f"load {format}", max_workers=max_workers, progress=progress, ids=ids)
        kept = self._settle(ids, results, errors)
        frames: list[pd.DataFrame] = [r for _, r in kept]
        if not frames:
            from .formats.schema import empty_frame
            return empty_frame()
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        if "category" in out.columns and not isinstance(out["category"].dtype, pd.CategoricalDtype):
            out["category"] = out["category"].astype("category")
        out.attrs = {"format": format, "dataset_ids": [i for i, _ in kept]}
        return out

    def _ready_ids(self) -> list[str]:
        """The frame's ids less those its ``status`` column says are not ready (with a warning)."""
        skipped = self._not_ready()
        if skipped:
            listed = ", ".join(f"{i} ({s})" for i, s in list(skipped.items())[:5])
            warnings.warn(f"df.aion.load skipped {len(skipped)} dataset(s) that are not ready: {listed}"
                          f"{', ...' if len(skipped) > 5 else ''}; use df.aion.wait() or filter on status",
                          UserWarning, stacklevel=3)
        return [i for i in self._ids if i not in skipped]

    @staticmethod
    def _settle(ids: list[str], results: list[Any], errors: str) -> list[tuple[str, Any]]:
        """(id, result) of the datasets that worked; a failure raises or, with ``errors="skip"``,
        is left out with one warning naming each."""
        failed = [(i, r) for i, r in zip(ids, results) if isinstance(r, Exception)]
        if failed and errors == "raise":
            dataset_id, exc = failed[0]
            if dataset_id not in str(exc) and hasattr(exc, "add_note"):
                exc.add_note(f"while loading dataset {dataset_id}")
            raise exc
        if failed:
            listed = "; ".join(f"{i}: {str(r).split(chr(10), 1)[0][:160]}" for i, r in failed[:5])
            warnings.warn(f"df.aion.load skipped {len(failed)} dataset(s) whose export failed: {listed}"
                          f"{'; ...' if len(failed) > 5 else ''}", UserWarning, stacklevel=3)
        return [(i, r) for i, r in zip(ids, results) if not isinstance(r, Exception)]

    def to_parquet(self, path: str | Path, partition_cols: list[str] | None = None, *,
                   overwrite: bool = False) -> Path:
        """Write this annotation frame as a Parquet dataset with the canonical schema in its
        metadata (see :func:`aion_pandas.parquet.to_parquet`); ``aion.read_parquet`` reads it back.

        >>> boxes.aion.to_parquet("boxes.parquet", partition_cols=["dataset_id"])   # doctest: +SKIP
        """
        from .parquet import to_parquet
        return to_parquet(self._frame, path, partition_cols=partition_cols, overwrite=overwrite)

    # ------------------------------------------------------------------ status
    def refresh(self, client: "Client | None" = None, *, max_workers: int = 4) -> pd.DataFrame:
        """The frame's datasets fetched again (a datasets frame, same order).

        >>> df = df.aion.refresh()   # doctest: +SKIP
        """
        from .frames import CLIENT_ATTR, datasets_frame
        api = self.client(client)
        results = self._map(api.datasets.get, "refresh", max_workers=max_workers, progress=False)
        self._raise_first(results)
        frame = datasets_frame(results)  # type: ignore[arg-type]
        frame.attrs[CLIENT_ATTR] = api.token
        return frame

    def wait(self, timeout: float = 300.0, client: "Client | None" = None, *, max_workers: int = 4,
             progress: bool = True) -> pd.DataFrame:
        """Wait until every dataset is ``ready`` or ``failed``; the refreshed datasets frame.

        >>> df = aion.datasets(status="pending").aion.wait(timeout=120)   # doctest: +SKIP
        """
        from .frames import CLIENT_ATTR, datasets_frame
        api = self.client(client)
        results = self._map(lambda i: api.datasets.wait(i, timeout=timeout), "wait", max_workers=max_workers,
                            progress=progress)
        self._raise_first(results)
        frame = datasets_frame(results)  # type: ignore[arg-type]
        frame.attrs[CLIENT_ATTR] = api.token
        return frame

    # ------------------------------------------------------------------ FiftyOne
    def to_fiftyone(self, format: str = "coco", name: str | None = None, **kwargs: Any) -> Any:  # noqa: A002
        """A FiftyOne dataset of the frame's datasets (via :func:`aion_pandas.fiftyone.to_fiftyone`).

        >>> ds = df.aion.to_fiftyone("coco", name="safety")   # doctest: +SKIP
        """
        from .fiftyone import to_fiftyone
        client = kwargs.pop("client", None)
        frame = self.load(format, client=client, options=kwargs.pop("options", None),
                          include_failed_items=kwargs.pop("include_failed_items", False))
        return to_fiftyone(frame, name=name, client=self.client(client), **kwargs)

    # ------------------------------------------------------------------ annotations
    def summary(self) -> Any:
        """Images, boxes, classes, boxes per image and box sizes of an annotation frame
        (:func:`aion_pandas.analysis.summary`; ``.to_frame()``, HTML in a notebook).

        >>> boxes.aion.summary()   # doctest: +SKIP
        """
        from .analysis import summary
        return summary(self._frame)

    def check(self, **thresholds: float) -> pd.DataFrame:
        """One row per problem in an annotation frame (:func:`aion_pandas.analysis.check`: degenerate,
        outside, tiny and duplicate boxes, unknown sizes, unused classes, crowd mixes, bad scores).

        >>> boxes.aion.check(iou=0.8)["kind"].value_counts()   # doctest: +SKIP
        """
        from .analysis import check
        return check(self._frame, **thresholds)

    def plot(self, by: str | None = None, **kwargs: Any) -> Any:
        """One matplotlib Figure of an annotation frame: class counts, boxes per image, box sizes and
        centres; ``by="split"`` or ``by="dataset_id"`` compares groups
        (:func:`aion_pandas.plots_annotations.plot_annotations`).

        >>> boxes.aion.plot(by="dataset_id")   # doctest: +SKIP
        """
        from .plots_annotations import plot_annotations
        return plot_annotations(self._frame, by=by, **kwargs)

    def show(self, n: int = 9, category: str | None = None, *, images_dir: str | Path | None = None,
             client: "Client | None" = None, **kwargs: Any) -> Any:
        """A grid of ``n`` images with their boxes (only images with a ``category`` box when given);
        pixels from ``images_dir/file_name`` or fetched through the client's image cache
        (:func:`aion_pandas.plots_annotations.show_images`).

        >>> boxes.aion.show(n=4, category="person")   # doctest: +SKIP
        """
        from .plots_annotations import show_images
        return show_images(self._frame, n=n, category=category, images_dir=images_dir, client=client, **kwargs)
