"""Parquet datasets of annotation frames: round trips with the canonical dtypes, and DuckDB."""
from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

import aion_pandas as aion
from aion_pandas.errors import FormatError
from aion_pandas.parquet import SCHEMA_KEY

from dask_helpers import sorted_rows


def _by_dataset(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("dataset_id", kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("fmt", ["coco", "csv", "yolo", "pascal_voc"])
def test_a_pandas_frame_comes_back_equal_dtypes_included(ready, tmp_path, fmt):
    boxes = ready.aion.load(fmt, progress=False)
    root = boxes.aion.to_parquet(tmp_path / "boxes", partition_cols=["dataset_id"])
    folders = sorted(p.name for p in root.iterdir())
    assert folders == sorted(f"dataset_id={i}" for i in ready.index)
    files = list(root.glob("dataset_id=*/*.parquet"))
    assert len(files) == len(ready)
    stored = json.loads(pq.read_schema(files[0]).metadata[SCHEMA_KEY])
    assert stored["columns"] == {k: str(v) for k, v in boxes.dtypes.items()}
    assert stored["categories"] == list(boxes["category"].cat.categories)
    again = aion.read_parquet(root)
    pd.testing.assert_frame_equal(again, _by_dataset(boxes))  # dtypes, categories, tags as lists
    assert isinstance(again["tags"].iloc[0], list)


def test_without_partition_columns_one_file(ready, tmp_path):
    boxes = ready.aion.load("coco", progress=False)
    root = aion.to_parquet(boxes, tmp_path / "flat")
    assert len(list(root.glob("*.parquet"))) == 1
    pd.testing.assert_frame_equal(aion.read_parquet(root), boxes.reset_index(drop=True))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        aion.to_parquet(boxes, root)
    aion.to_parquet(boxes.head(3), root, overwrite=True)
    assert len(aion.read_parquet(root)) == 3


def test_a_dask_frame_is_written_by_the_workers_and_read_back_lazily(ready, tmp_path, dask_client):
    lazy = ready.aion.load("yolo", engine="dask", progress=False)
    root = lazy.aion.to_parquet(tmp_path / "lazy", partition_cols=["dataset_id"])
    back = aion.read_parquet(root, engine="dask")
    assert back.npartitions == len(ready)
    from dask.dataframe.utils import has_known_categories
    eager = aion.read_parquet(root)
    assert has_known_categories(back._meta["category"])  # known before computing: from the footers
    assert list(back._meta["category"].cat.categories) == list(eager["category"].cat.categories)
    computed = back.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(computed, eager)
    pandas_frame = ready.aion.load("yolo", progress=False)
    left = sorted_rows(eager, list(pandas_frame.columns)).astype({"category": "string"})
    pd.testing.assert_frame_equal(left, sorted_rows(pandas_frame).astype({"category": "string"}))
    assert back["w"].sum().compute() == pytest.approx(eager["w"].sum())  # a projection of the lazy frame
    assert back["x"].count().compute() == eager["x"].count()
    subset = aion.read_parquet(root, engine="dask", columns=["dataset_id", "category", "w"]).compute()
    assert list(subset.columns) == ["dataset_id", "category", "w"] and len(subset) == len(eager)


def test_duckdb_reads_it_as_plain_parquet_with_equal_counts(ready, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    boxes = ready.aion.load("coco", progress=False)
    root = boxes.aion.to_parquet(tmp_path / "boxes", partition_cols=["dataset_id"])
    glob = f"{root}/**/*.parquet"
    counts = duckdb.sql(f"select dataset_id, count(*) as n, count(x) as boxes from read_parquet('{glob}', "
                        f"hive_partitioning=true) group by dataset_id order by dataset_id").df()
    expected = boxes.groupby("dataset_id").agg(n=("image_id", "size"), boxes=("x", "count")).sort_index()
    assert counts["dataset_id"].tolist() == list(expected.index)
    assert counts["n"].tolist() == expected["n"].tolist() and counts["boxes"].tolist() == expected["boxes"].tolist()
    per_class = duckdb.sql(f"select category, count(*) as n from read_parquet('{glob}') where category is not null "
                           f"group by category").df().set_index("category")["n"].to_dict()
    assert per_class == boxes["category"].value_counts().loc[lambda s: s > 0].to_dict()
    tags = duckdb.sql(f"select tags from read_parquet('{glob}') limit 1").fetchall()[0][0]
    assert isinstance(tags, list)


def test_a_folder_not_written_by_aion_is_named(tmp_path):
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(FormatError, match="no aion_pandas schema"):
        aion.read_parquet(tmp_path)
    with pytest.raises(FormatError, match="no such Parquet dataset"):
        aion.read_parquet(tmp_path / "missing")
