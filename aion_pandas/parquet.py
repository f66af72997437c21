"""Annotation frames (pandas or Dask) <-> a Parquet dataset that keeps the canonical schema.

Each file carries, under the ``aion_pandas`` key of its Parquet metadata, the canonical dtype of
every column and the classes of ``category``; :func:`read_parquet` reads them back from the files'
footers, so the frame comes back equal, dtypes and categories included (rows grouped by the
partition columns' values, in sorted order, each group's rows in their order). To other readers
(DuckDB, Polars, Spark) it is plain Hive-partitioned Parquet: ``tags`` a list of strings,
``category`` a dictionary-encoded string.

>>> boxes.aion.to_parquet("boxes.parquet", partition_cols=["dataset_id"])   # doctest: +SKIP
>>> again = aion.read_parquet("boxes.parquet")                               # doctest: +SKIP
>>> lazy = aion.read_parquet("boxes.parquet", engine="dask")                 # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from aion_pandas.errors import FormatError

__all__ = ["to_parquet", "read_parquet", "SCHEMA_KEY"]

#: the Parquet metadata key holding the canonical schema
SCHEMA_KEY = b"aion_pandas"


def _schema(frame: pd.DataFrame) -> dict[str, Any]:
    cats = frame["category"].cat.categories if "category" in frame.columns and \
        isinstance(frame["category"].dtype, pd.CategoricalDtype) else []
    return {"version": 1, "columns": {str(k): str(v) for k, v in frame.dtypes.items()},
            "categories": [str(c) for c in cats]}


def _table(frame: pd.DataFrame, schema: dict[str, Any]) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[SCHEMA_KEY] = json.dumps(schema).encode()
    return table.replace_schema_metadata(meta)


def write_part(frame: pd.DataFrame, path: str | os.PathLike, partition_cols: Sequence[str] | None,
               name: str) -> int:
    """Write one frame's rows under ``path`` (files named after ``name``); returns the rows written."""
    frame = frame.reset_index(drop=True)
    table = _table(frame, _schema(frame))
    if partition_cols:
        pq.write_to_dataset(table, os.fspath(path), partition_cols=list(partition_cols),
                            basename_template=f"{name}-{{i}}.parquet",
                            existing_data_behavior="overwrite_or_ignore")
    else:
        os.makedirs(path, exist_ok=True)
        pq.write_table(table, os.path.join(os.fspath(path), f"{name}.parquet"))
    return len(frame)


def _prepare(path: str | os.PathLike, partition_cols: Sequence[str] | None, overwrite: bool,
             columns: Sequence[str]) -> Path:
    root = Path(path).expanduser()
    missing = [c for c in partition_cols or () if c not in columns]
    if missing:
        raise ValueError(f"partition_cols {missing} are not columns of the frame")
    if root.exists() and (root.is_file() or any(root.iterdir())):
        if not overwrite:
            raise FileExistsError(f"{root} exists and is not empty: pass overwrite=True to replace it")
        shutil.rmtree(root) if root.is_dir() else root.unlink()
    root.mkdir(parents=True, exist_ok=True)
    return root


def to_parquet(frame: Any, path: str | os.PathLike, *, partition_cols: Sequence[str] | None = None,
               overwrite: bool = False, dask_client: Any = None, progress: bool = True) -> Path:
    """Write a canonical frame (pandas, or Dask: each partition written by its worker) as a Parquet
    dataset at ``path``, Hive-partitioned by ``partition_cols`` (e.g. ``["dataset_id"]``).

    >>> to_parquet(boxes, "boxes.parquet", partition_cols=["dataset_id"])   # doctest: +SKIP
    PosixPath('boxes.parquet')
    """
    root = _prepare(path, partition_cols, overwrite, list(frame.columns))
    run = uuid.uuid4().hex[:8]
    if isinstance(frame, pd.DataFrame):
        write_part(frame, root, partition_cols, f"part-{run}-00000")
        return root
    import dask
    from aion_pandas.dask_compute import compute_options, progress as show_progress

    cols = tuple(partition_cols or ())
    written = [dask.delayed(write_part)(part, os.fspath(root), cols, f"part-{run}-{k:05d}")
               for k, part in enumerate(frame.to_delayed())]
    with show_progress(dask_client, enabled=progress):
        dask.compute(*written, **compute_options(dask_client))
    return root


# --------------------------------------------------------------------------------------------
# reading


def _dataset(path: str | os.PathLike) -> pads.Dataset:
    root = os.fspath(Path(path).expanduser())
    if not os.path.exists(root):
        raise FormatError("no such Parquet dataset", path=root)
    return pads.dataset(root, format="parquet", partitioning="hive")


def _stored(dataset: pads.Dataset, root: str) -> dict[str, Any]:
    """The canonical schema of the dataset: the columns of its files, the union of their classes."""
    columns: dict[str, str] = {}
    categories: list[str] = []
    seen: set[str] = set()
    for fragment in dataset.get_fragments():
        meta = fragment.physical_schema.metadata or {}
        if SCHEMA_KEY not in meta:
            raise FormatError(f"{fragment.path} has no aion_pandas schema: it was not written by "
                              f"aion_pandas.to_parquet (read it with pandas.read_parquet)", path=root)
        stored = json.loads(meta[SCHEMA_KEY])
        columns = columns or stored["columns"]
        for name in stored["categories"]:
            if name not in seen:
                seen.add(name)
                categories.append(name)
    if not columns:
        raise FormatError("the Parquet dataset has no files", path=root)
    return {"columns": columns, "categories": categories}


def _restore(frame: pd.DataFrame, schema: dict[str, Any]) -> pd.DataFrame:
    """``frame`` (from Arrow) with the stored dtypes and column order."""
    out: dict[str, Any] = {}
    for name, dtype in schema["columns"].items():
        if name not in frame.columns:
            continue
        col = frame[name]
        if name == "category":
            out[name] = _recode(col, schema["categories"])
        elif name == "tags":
            out[name] = pd.Series([list(v) if isinstance(v, (list, np.ndarray)) else [] for v in col],
                                  dtype=object, index=col.index)
        elif dtype == "category" or str(col.dtype) != dtype:
            out[name] = (col.astype("string") if isinstance(col.dtype, pd.CategoricalDtype) else col).astype(dtype)
        else:
            out[name] = col
    result = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))
    return result


def _recode(col: pd.Series, names: list[str]) -> pd.Categorical:
    """A dictionary column read from one file as the categorical of every file's classes."""
    from aion_pandas.formats.schema import categorical

    if not isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype("category")
    wanted = pd.Index(names, dtype="str")
    lookup = wanted.get_indexer(pd.Index([str(c) for c in col.cat.categories], dtype="str"))
    codes = col.cat.codes.to_numpy()
    return categorical(np.where(codes >= 0, lookup[np.maximum(codes, 0)], -1), wanted)


def _empty(schema: dict[str, Any]) -> pd.DataFrame:
    meta = pd.DataFrame({n: pd.Series(dtype=d if d != "category" else "object")
                         for n, d in schema["columns"].items()})
    if "category" in meta.columns:
        meta["category"] = pd.Categorical([], categories=pd.Index(schema["categories"], dtype="str"))
    return meta


def read_fragment(file: str, keys: tuple[tuple[str, Any], ...], schema: dict[str, Any],
                  keep: tuple[str, ...] | None = None) -> pd.DataFrame:
    """One file of the dataset with its partition columns (``keys``), as canonical dtypes; only
    the columns ``keep`` when given. (Not named ``columns``: Dask would pass its own projection.)"""
    columns = keep
    table = pq.read_table(file, columns=[c for c in columns if c not in dict(keys)] if columns else None)
    frame = table.to_pandas(types_mapper={pa.large_string(): pd.StringDtype(), pa.string(): pd.StringDtype()}.get,
                            ignore_metadata=True)
    for name, value in keys:
        frame[name] = pd.Series([value] * len(frame), dtype=object)
    if columns:
        schema = {**schema, "columns": {c: d for c, d in schema["columns"].items() if c in columns}}
    return _restore(frame, schema)


def read_parquet(path: str | os.PathLike, *, engine: str = "pandas", columns: Sequence[str] | None = None
                 ) -> Any:
    """The frame a :func:`to_parquet` dataset holds: pandas, or with ``engine="dask"`` a lazy Dask
    frame of one partition per file (known categories, read from the footers).

    >>> boxes = read_parquet("boxes.parquet")                    # doctest: +SKIP
    >>> lazy = read_parquet("boxes.parquet", engine="dask")      # doctest: +SKIP
    """
    if engine not in ("pandas", "dask"):
        raise ValueError(f"engine must be 'pandas' or 'dask', got {engine!r}")
    root = os.fspath(Path(path).expanduser())
    dataset = _dataset(root)
    schema = _stored(dataset, root)
    fragments = sorted(dataset.get_fragments(), key=lambda f: f.path)
    inputs = []
    for fragment in fragments:
        keys = pads.get_partition_keys(fragment.partition_expression)
        inputs.append((fragment.path, tuple(sorted(keys.items()))))
    inputs.sort(key=lambda item: (item[1], item[0]))
    cols = tuple(columns) if columns else None
    if engine == "dask":
        import dask
        import dask.dataframe as dd
        meta = _empty(schema)
        if cols:
            meta = meta[[c for c in meta.columns if c in cols]]
        with dask.config.set({"dataframe.convert-string": False}):  # tags stay lists, not str
            return dd.from_map(read_fragment, [i[0] for i in inputs], [i[1] for i in inputs],
                               args=(schema, cols), meta=meta, label="aion-read-parquet",
                               enforce_metadata=False)
    parts = [read_fragment(file, keys, schema, cols) for file, keys in inputs]
    if not parts:
        return _empty(schema)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
