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


# ---------------------------------------------------------------- the hosted API's shapes (from the spec)
SPEC_LIST_ITEM = {
    "id": "550e8400-e29b-41d4-a716-446655440000", "name": "Safety Equipment Dataset Q1 2024",
    "batch_id": "550e8400-e29b-41d4-a716-446655440000", "status": "ready", "created_at": "2025-01-15T10:30:00Z",
    "total_items": 500, "successful_items": 487, "export_count": 3,
    "supported_formats": ["csv", "coco", "yolo", "pascal_voc"],
    "latest_export": {"export_id": "export_001", "format": "csv", "created_at": "2025-01-20T15:00:00Z"},
}
SPEC_EXPORT = {
    "export_id": "550e8400-e29b-41d4-a716-446655440000", "dataset_id": "660f9500-e29b-41d4-a716-446655440000",
    "format": "csv", "status": "completed", "record_count": 487,
    "download_url": "https://api.aionvision.tech/exports/dataset_550e8400.csv", "file_size_bytes": 245678,
    "content_type": "text/csv", "exported_at": "2025-01-15T10:30:00Z",
}
SPEC_STATISTICS = {
    "dataset_statistics": {"total_datasets": 15, "avg_items_per_dataset": 500.0, "total_items": 7500,
                           "by_status": {"ready": 12, "pending": 1, "processing": 2}},
    "export_statistics": {"total_exports": 45, "total_data_volume": 125000000, "by_format": {
        "csv": {"count": 25, "total_size": 75000000, "avg_export_time_seconds": 2.5},
        "coco": {"count": 15, "total_size": 40000000, "avg_export_time_seconds": 4.1},
        "yolo": {"count": 5, "total_size": 10000000, "avg_export_time_seconds": 1.8}}},
    "popular_formats": [{"format": "csv", "usage_count": 25}, {"format": "coco", "usage_count": 15}],
    "period": {"since": "2025-01-07T00:00:00Z", "until": "2025-02-07T00:00:00Z"},
}


def test_the_specs_list_item_makes_a_full_row():
    from aion_pandas.records import Dataset
    df = datasets_frame([Dataset.from_api(SPEC_LIST_ITEM)])
    _check_dtypes(df)
    row = df.iloc[0]
    assert df.index[0] == SPEC_LIST_ITEM["id"] and row["successful_items"] == 487
    assert pd.isna(row["updated_at"]) and pd.isna(row["description"])  # not in the list shape
    assert (row["latest_export_id"], row["latest_export_format"]) == ("export_001", "csv")
    assert row["latest_export_at"] == pd.Timestamp("2025-01-20T15:00:00Z")


def test_the_specs_export_and_statistics():
    from aion_pandas.records import ExportResult, Statistics
    export = ExportResult.from_api(SPEC_EXPORT)
    assert export.file_name == "dataset_550e8400.csv" and export.expires_at is None
    assert export.exported_at.isoformat() == "2025-01-15T10:30:00+00:00"
    stats = Statistics.from_api(SPEC_STATISTICS)
    assert stats.by_status["count"].tolist() == [1, 2, 12, 0]  # pending, processing, ready, failed
    assert stats.by_format["count"].tolist() == [25, 15, 5, 0]
    assert stats.by_format["total_size_mb"].tolist() == [75.0, 40.0, 10.0, 0.0]
    assert stats.days == 31 and stats.period_label == "2025-01-07 – 2025-02-07 (31 days)"
    fig = stats.plot()
    assert [bar.get_height() for bar in fig.axes[2].patches] == [75.0, 40.0, 10.0, 0.0]
