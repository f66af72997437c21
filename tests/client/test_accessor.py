"""``df.aion`` on datasets frames of the real service: export, download, load, refresh, wait."""
from __future__ import annotations

import pandas as pd
import pytest
import requests

import aion_pandas as aion
from aion_pandas import errors
from aion_pandas.formats import read_export

EXPORT_COLUMNS = ["export_id", "format", "status", "record_count", "file_size_bytes", "content_type",
                  "download_url", "exported_at", "error"]


@pytest.fixture
def frame(own_client):
    return aion.datasets(client=own_client)


def test_a_frame_without_ids_gets_a_clear_attribute_error():
    with pytest.raises(AttributeError, match="needs dataset ids: a column 'id' or 'dataset_id'"):
        pd.DataFrame({"name": ["x"]}).aion
    assert not hasattr(pd.DataFrame({"name": ["x"]}), "aion")
    assert pd.DataFrame({"dataset_id": ["a", None, "a", "b"]}).aion.ids == ["a", "b"]
    assert pd.DataFrame(index=pd.Index(["c"], name="id")).aion.ids == ["c"]


def test_export_a_filtered_frame(frame, own_client):
    ready = frame[frame["status"] == "ready"].head(2)
    assert len(ready) == 2
    out = ready.aion.export("coco")  # the frame remembers its client
    assert list(out.columns) == EXPORT_COLUMNS and list(out.index) == list(ready.index)
    assert out.index.name == "dataset_id" and out["error"].isna().all()
    assert str(out["exported_at"].dtype) == "datetime64[ns, UTC]" and str(out["record_count"].dtype) == "Int64"
    assert (out["format"] == "coco").all() and (out["status"] == "completed").all()
    assert out["record_count"].tolist() == ready["successful_items"].tolist()
    for dataset_id, row in out.iterrows():
        body = requests.get(row["download_url"], timeout=30).content
        assert len(body) == row["file_size_bytes"]
        assert own_client.datasets.get(dataset_id).latest_export.export_id == row["export_id"]


def test_an_empty_frame_exports_nothing(frame):
    out = frame.iloc[:0].aion.export("coco")
    assert out.empty and list(out.columns) == EXPORT_COLUMNS and out.index.name == "dataset_id"


def test_export_keeps_going_when_one_dataset_fails(frame, own_client):
    failed = frame[frame["status"] == "failed"]
    assert len(failed) >= 1
    mixed = pd.concat([frame[frame["status"] == "ready"].head(2), failed.head(1)])
    unknown = pd.DataFrame({"id": ["no-such-dataset"]})
    ids = list(mixed.index) + ["no-such-dataset"]
    out = pd.DataFrame({"id": ids}).aion.export("yolo", client=own_client)
    assert list(out.index) == ids
    assert out.loc[ids[:2], "error"].isna().all() and out.loc[ids[:2], "export_id"].notna().all()
    assert out.loc[ids[2], "error"].startswith("ConflictError: 409 DATASET_NOT_READY")
    assert out.loc[ids[3], "error"].startswith("NotFoundError: 404 NOT_FOUND")
    assert out.loc[ids[2:], "export_id"].isna().all()
    with pytest.raises(errors.ConflictError):
        mixed.aion.export("yolo", client=own_client, errors="raise")
    with pytest.raises(errors.NotFoundError):
        unknown.aion.export("yolo", client=own_client, errors="raise")


def test_export_options_and_failed_items(frame, own_client):
    one = frame[frame["status"] == "ready"].head(1)
    row = one.iloc[0]
    out = one.aion.export("csv", include_failed_items=True, options={"delimiter": "|"})
    assert out.iloc[0]["record_count"] == row["total_items"] > row["successful_items"]
    header = requests.get(out.iloc[0]["download_url"], timeout=30).text.splitlines()[0]
    assert "|" in header


def test_download_to_a_folder(frame, tmp_path):
    ready = frame[frame["status"] == "ready"].head(2)
    out = ready.aion.download("pascal_voc", dest=tmp_path / "voc")
    assert out["error"].isna().all() and str(out["path"].dtype) == "string"
    for _, row in out.iterrows():
        path = tmp_path / "voc" / row["path"].rsplit("/", 1)[-1]
        assert str(path) == row["path"] and path.stat().st_size == row["file_size_bytes"]
        assert path.read_bytes()[:2] == b"PK"
    assert not list((tmp_path / "voc").glob("*.part"))


def test_load_reads_every_dataset_into_one_canonical_frame(frame, own_client):
    ready = frame[frame["status"] == "ready"].head(2)
    boxes = ready.aion.load("coco")
    assert set(boxes["dataset_id"].unique()) == set(ready.index)
    assert str(boxes["dataset_id"].dtype) == "string" and isinstance(boxes["category"].dtype, pd.CategoricalDtype)
    for dataset_id, row in ready.iterrows():
        part = boxes[boxes["dataset_id"] == dataset_id]
        assert part["image_id"].nunique() == row["successful_items"]  # every image, boxes or not
        export = own_client.datasets.export(dataset_id, "coco")
        direct = read_export(requests.get(export.download_url, timeout=30).content, format="coco")
        assert len(part) == len(direct)
        counts = part["category"].astype("string").fillna("<no box>").value_counts().to_dict()
        assert counts == direct["category"].astype("string").fillna("<no box>").value_counts().to_dict()
        box_sums = part[["x", "y", "w", "h"]].sum().round(3).tolist()
        assert box_sums == direct[["x", "y", "w", "h"]].sum().round(3).tolist()


def test_load_reuses_the_cached_export(frame, own_client):
    one = frame[frame["status"] == "ready"].head(1)
    dataset_id = one.index[0]
    first = one.aion.load("yolo")
    count = own_client.datasets.get(dataset_id).export_count
    again = one.aion.load("yolo")
    assert own_client.datasets.get(dataset_id).export_count == count  # no new export
    pd.testing.assert_frame_equal(first, again)
    one.aion.load("yolo", reuse=False)
    assert own_client.datasets.get(dataset_id).export_count == count + 1
    semi = one.aion.load("csv", options={"delimiter": ";"})  # other format and options: a new export
    assert own_client.datasets.get(dataset_id).export_count == count + 2
    assert semi["image_id"].nunique() == first["image_id"].nunique()
    one.aion.load("csv", options={"delimiter": ";"})
    assert own_client.datasets.get(dataset_id).export_count == count + 2


def test_load_skips_datasets_the_frame_says_are_not_ready_and_says_so(frame, own_client):
    some = pd.concat([frame[frame["status"] == "ready"].head(1), frame[frame["status"] == "failed"].head(1)])
    failed_id = some.index[1]
    with pytest.warns(UserWarning, match=f"skipped 1 dataset.*{failed_id} \\(failed\\)"):
        boxes = some.aion.load("coco")
    assert set(boxes["dataset_id"].unique()) == {some.index[0]}
    with pytest.warns(UserWarning, match="not ready"):
        assert some.iloc[1:].aion.load("coco").empty
    with pytest.raises(errors.ConflictError):  # a frame without a status column: the service says so
        pd.DataFrame({"id": [failed_id]}).aion.load("coco", client=own_client)


def test_refresh_and_wait(own_client):
    batch = own_client.batches.list(status="completed")[0]
    created = [own_client.datasets.create(batch.batch_id, f"accessor wait {i}") for i in range(2)]
    pending = pd.DataFrame({"id": [d.id for d in created], "note": ["a", "b"]})
    done = pending.aion.wait(timeout=60, client=own_client)
    assert list(done.index) == [d.id for d in created] and set(done["status"]) == {"ready"}
    assert str(done["created_at"].dtype) == "datetime64[ns, UTC]"
    done.aion.export("csv")
    refreshed = done.aion.refresh()
    assert refreshed["export_count"].tolist() == [1, 1]
    assert refreshed["latest_export_format"].tolist() == ["csv", "csv"]


def test_the_default_client_is_used_when_a_frame_has_none(own_service, tmp_path):
    client = aion.connect(api_key=own_service.api_key, base_url=own_service.base_url, cache_dir=tmp_path)
    ready_id = client.datasets.list(status="ready")[0].id
    out = pd.DataFrame({"dataset_id": [ready_id]}).aion.export("csv")
    assert out["error"].isna().all() and out.loc[ready_id, "download_url"].startswith(own_service.root_url)
