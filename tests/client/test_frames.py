"""``aion.datasets()`` and ``aion.statistics()``: DataFrames with real dtypes, equal to the API's JSON."""
from __future__ import annotations

import pandas as pd
import pytest
import requests

import aion_pandas as aion
from aion_pandas.frames import DATASET_COLUMNS, datasets_frame, exports_frame

EXPECTED_DTYPES = {
    "name": "string", "description": "string", "batch_id": "string", "status": "category",
    "batch_status": "category", "created_at": "datetime64[ns, UTC]", "updated_at": "datetime64[ns, UTC]",
    "total_items": "Int64", "successful_items": "Int64", "export_count": "Int64", "latest_export_id": "string",
    "latest_export_format": "category", "latest_export_at": "datetime64[ns, UTC]", "failure_reason": "string",
}


def _check_dtypes(frame: pd.DataFrame) -> None:
    assert {c: str(t) for c, t in frame.dtypes.items()} == EXPECTED_DTYPES
    assert frame.index.name == "id" and str(frame.index.dtype) == "string"
    assert list(frame["status"].cat.categories) == ["pending", "processing", "ready", "failed"]


def test_datasets_frame_has_real_dtypes_and_every_row(client, service):
    raw = requests.get(f"{service.base_url}/datasets", headers=service.headers, params={"limit": 1000},
                       timeout=30).json()
    df = aion.datasets(client=client)
    _check_dtypes(df)
    assert len(df) == raw["total_count"] and list(df.index) == [d["id"] for d in raw["datasets"]]
    for data in raw["datasets"]:
        row = df.loc[data["id"]]
        assert row["name"] == data["name"] and row["status"] == data["status"]
        assert row["total_items"] == data["total_items"] and row["export_count"] == data["export_count"]
        assert row["created_at"] == pd.Timestamp(data["created_at"])
        latest = data["latest_export"]
        if latest:
            assert (row["latest_export_id"], row["latest_export_format"]) == (latest["export_id"], latest["format"])
            assert row["latest_export_at"] == pd.Timestamp(latest["created_at"])
        else:
            assert pd.isna(row["latest_export_id"]) and pd.isna(row["latest_export_at"])
    assert df["status"].value_counts()["ready"] >= 3


def test_datasets_frame_walks_every_page(client):
    from aion_pandas.frames import datasets_frame as build
    one_by_one = build(client.datasets.list(limit=1).auto_paging_iter())
    pd.testing.assert_frame_equal(one_by_one, aion.datasets(client=client))


def test_status_filter_and_empty_result_keep_dtypes(client):
    ready = aion.datasets(status="ready", client=client)
    assert len(ready) >= 3 and set(ready["status"]) == {"ready"}
    _check_dtypes(ready)
    empty = aion.datasets(status="processing", client=client)
    assert empty.empty and list(empty.columns) == list(DATASET_COLUMNS)
    _check_dtypes(empty)
    _check_dtypes(datasets_frame([]))


def test_datasets_uses_the_default_client_from_connect(service, tmp_path):
    client = aion.connect(api_key=service.api_key, base_url=service.base_url, cache_dir=tmp_path)
    assert aion.default_client() is client
    df = aion.datasets()
    assert len(df) == client.datasets.list().total_count and df.attrs["aion_client"] == client.token


def test_exports_frame_dtypes_with_an_error_row():
    frame = exports_frame(["a"], [ValueError("boom")])
    assert frame.loc["a", "error"] == "ValueError: boom" and pd.isna(frame.loc["a", "export_id"])
    assert str(frame["exported_at"].dtype) == "datetime64[ns, UTC]" and str(frame["record_count"].dtype) == "Int64"


def test_statistics_frames(client, service):
    raw = requests.get(f"{service.base_url}/datasets/statistics/summary", headers=service.headers,
                       params={"days": 365}, timeout=30).json()
    stats = aion.statistics(days=365, client=client)
    assert stats.days == 365
    assert list(stats.by_status.index) == ["pending", "processing", "ready", "failed"]
    assert str(stats.by_status["count"].dtype) == "Int64"
    assert stats.by_status["count"].sum() == raw["dataset_statistics"]["total_datasets"]
    assert list(stats.by_format.index)[:4] == ["csv", "coco", "yolo", "pascal_voc"]
    assert {c: str(t) for c, t in stats.by_format.dtypes.items()} == {
        "count": "Int64", "total_size": "Int64", "total_size_mb": "Float64", "avg_export_time_seconds": "Float64"}
    assert stats.by_format["total_size"].sum() == raw["export_statistics"]["total_data_volume"]
    assert stats.popular_formats["usage_count"].tolist() == [p["usage_count"] for p in raw["popular_formats"]]
    assert stats.popular_formats["usage_count"].is_monotonic_decreasing
    html = stats._repr_html_()
    assert "Dataset statistics" in html and f"{stats.total_datasets} datasets" in html and "<table" in html
    assert stats.since.strftime("%Y-%m-%d") in html


def test_statistics_days_out_of_range_is_a_validation_error(client):
    with pytest.raises(aion.errors.ValidationError):
        aion.statistics(days=366, client=client)
