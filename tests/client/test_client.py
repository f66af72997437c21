"""The client's resource calls against the real service: typed records, pages, errors, tenants."""
from __future__ import annotations

import traceback
from datetime import datetime

import pytest
import requests

from aion_pandas import errors
from aion_pandas.client import Client
from aion_pandas.records import Batch, BatchItem, Dataset, ExportResult, LatestExport, Page, Statistics


def _raw(service, path, **params):
    resp = requests.get(f"{service.base_url}/{path}", headers=service.headers, params=params, timeout=30)
    resp.raise_for_status()
    return resp.json()


def _aware_utc(value):
    return isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset().total_seconds() == 0


def test_list_returns_typed_records_equal_to_the_json(client, service):
    raw = _raw(service, "datasets")
    page = client.datasets.list()
    assert isinstance(page, Page) and page.total_count == raw["total_count"] >= 3
    assert page.has_more is False and page.offset == 0 and page.limit == 100
    assert [d.id for d in page] == [d["id"] for d in raw["datasets"]]
    for record, data in zip(page, raw["datasets"]):
        assert isinstance(record, Dataset)
        assert (record.name, record.status, record.total_items, record.successful_items, record.export_count) == \
            (data["name"], data["status"], data["total_items"], data["successful_items"], data["export_count"])
        assert _aware_utc(record.created_at) and _aware_utc(record.updated_at)
        assert record.created_at == datetime.fromisoformat(data["created_at"].replace("Z", "+00:00"))
        if data["latest_export"]:
            assert isinstance(record.latest_export, LatestExport)
            assert record.latest_export.export_id == data["latest_export"]["export_id"]
            assert _aware_utc(record.latest_export.created_at)
        else:
            assert record.latest_export is None


def test_page_walks_every_page_in_order(client, service):
    everything = [d["id"] for d in _raw(service, "datasets")["datasets"]]
    first = client.datasets.list(limit=1)
    assert len(first) == 1 and first.has_more and first.total_count == len(everything)
    pages = list(first.iter_pages())
    assert len(pages) == len(everything) and [p.offset for p in pages] == list(range(len(everything)))
    assert pages[-1].has_more is False and pages[-1].next_page() is None
    assert [d.id for d in first.auto_paging_iter()] == everything


def test_status_filter(client, service):
    ready = client.datasets.list(status="ready")
    assert ready.total_count == sum(d["status"] == "ready" for d in _raw(service, "datasets")["datasets"]) >= 3
    assert {d.status for d in ready} == {"ready"}
    with pytest.raises(errors.ValidationError) as info:
        client.datasets.list(status="bogus")
    assert info.value.status == 422 and info.value.code == "VALIDATION_ERROR"


def test_get_one_dataset_and_unknown_id(client, service):
    first = client.datasets.list(status="ready")[0]
    again = client.datasets.get(first.id)
    assert again == client.datasets.get(first)  # a record works as the id too
    assert again.id == first.id and again.status == "ready" and again.batch_status == "completed"
    with pytest.raises(errors.NotFoundError) as info:
        client.datasets.get("00000000-0000-0000-0000-000000000000")
    err = info.value
    assert (err.status, err.code) == (404, "NOT_FOUND") and err.request_id
    assert "00000000-0000-0000-0000-000000000000" in str(err) and err.request_id in str(err)


def test_statistics_record_matches_the_json(client, service):
    raw = _raw(service, "datasets/statistics/summary", days=30)
    stats = client.datasets.statistics(days=30)
    assert isinstance(stats, Statistics)
    assert stats.total_datasets == raw["dataset_statistics"]["total_datasets"]
    assert stats.total_exports == raw["export_statistics"]["total_exports"] > 0
    assert stats.days == 30 and _aware_utc(stats.since) and _aware_utc(stats.until)
    for status, count in raw["dataset_statistics"]["by_status"].items():
        assert stats.by_status.loc[status, "count"] == count
    for fmt, values in raw["export_statistics"]["by_format"].items():
        row = stats.by_format.loc[fmt]
        assert (row["count"], row["total_size"]) == (values["count"], values["total_size"])
        assert row["total_size_mb"] == pytest.approx(values["total_size"] / 1e6)
        assert row["avg_export_time_seconds"] == pytest.approx(values["avg_export_time_seconds"])
    assert stats.popular_formats["format"].tolist() == [p["format"] for p in raw["popular_formats"]]
    with pytest.raises(errors.ValidationError):
        client.datasets.statistics(days=0)


def test_batches_list_get_and_results(client, service):
    batches = client.batches.list()
    assert batches.total_count >= 4 and all(isinstance(b, Batch) for b in batches)
    assert {b.status for b in batches} >= {"completed", "processing"}
    # a demo batch (with images): tests of the service may have added batches of their own since
    done = next(b for b in client.batches.list(status="completed") if b.name == "street-scenes")
    assert client.batches.get(done.batch_id) == done and _aware_utc(done.completed_at)
    page = client.batches.results(done.batch_id, limit=25)
    items = list(page.auto_paging_iter())
    assert len(items) == page.total_count == done.total_items
    assert [i.item_index for i in items] == list(range(done.total_items))
    assert all(isinstance(i, BatchItem) for i in items)
    failed = [i for i in items if i.status == "failed"]
    assert len(failed) == done.failed_items and all(i.error_message for i in failed)
    assert done.progress_percentage == 100.0 and done.processed_items == done.total_items and done.is_done
    assert done.success_rate == pytest.approx(done.successful_items / done.total_items, abs=1e-4)
    ok = [i for i in items if i.succeeded]
    assert len(ok) == done.successful_items and all(i.status == "success" for i in ok)
    assert all(i.stored_image_url.endswith(f"/data/batch-images/{i.item_id}") for i in ok)
    assert len(list(client.batches.results(done.batch_id, include_failed=False).auto_paging_iter())) == len(ok)
    with pytest.raises(errors.NotFoundError):
        client.batches.get("00000000-0000-4000-8000-000000000000")
    with pytest.raises(errors.ValidationError):  # the hosted API types batch ids as UUIDs
        client.batches.get("nope")


def test_get_bytes_fetches_an_image_with_the_key(client, service):
    batch = next(b for b in client.batches.list(status="completed") if b.name == "street-scenes")  # has images
    item = next(i for i in client.batches.results(batch.batch_id) if i.file_id)
    url = f"{client.base_url}/user-files/{item.file_id}/download"
    data = client.get_bytes(url)  # a 302 to a signed URL, followed
    assert data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data == requests.get(url, headers=service.headers, timeout=30).content
    assert client.get_bytes(f"{item.stored_image_url}?thumbnail=false") == data


def test_a_bad_key_is_an_authentication_error_that_never_shows_the_key(service, tmp_path):
    secret = "aion_wrong_key_SECRETPART_0123456789"
    bad = Client(secret, service.base_url, cache_dir=tmp_path)
    with pytest.raises(errors.AuthenticationError) as info:
        bad.datasets.list()
    err = info.value
    assert (err.status, err.code) == (401, "INVALID_API_KEY") and err.request_id
    stack = traceback.TracebackException.from_exception(err, capture_locals=True).stack
    ours = [frame for frame in stack if "aion_pandas" in frame.filename]
    assert len(ours) >= 2  # the resource call and the transport
    text = "".join(stack.format())
    assert "SECRETPART" not in "".join(repr(f.locals) for f in ours)  # locals of our frames, as repr'd
    assert "SECRETPART" not in repr(err) and "SECRETPART" not in str(err) and "SECRETPART" not in repr(vars(err))
    assert "aion_…6789" in text  # the masked form is what a traceback shows
    assert "the key used was aion_…6789" in str(err)


def test_another_tenant_sees_none_of_it(client, service, tmp_path):
    other = Client(service.other_api_key, service.base_url, cache_dir=tmp_path)
    mine = {d.id for d in client.datasets.list().auto_paging_iter()}
    theirs = {d.id for d in other.datasets.list().auto_paging_iter()}
    assert mine and not (mine & theirs)
    some = next(iter(mine))
    with pytest.raises(errors.NotFoundError):
        other.datasets.get(some)
    with pytest.raises(errors.NotFoundError):
        other.datasets.export(some, "coco")
    my_batch = client.batches.list()[0].batch_id
    with pytest.raises(errors.NotFoundError):
        other.batches.results(my_batch)


def test_export_of_a_dataset_that_is_not_ready_is_a_conflict(client):
    failed = client.datasets.list(status="failed")
    assert failed.total_count >= 1
    with pytest.raises(errors.ConflictError) as info:
        client.datasets.export(failed[0].id, "csv")
    assert info.value.code == "DATASET_NOT_READY" and info.value.status == 409


def test_unknown_format_is_a_validation_error(client):
    ready = client.datasets.list(status="ready")[0]
    with pytest.raises(errors.ValidationError) as info:
        client.datasets.export(ready.id, "tiff")
    assert info.value.status == 422 and isinstance(info.value, ValueError)


# ---------------------------------------------------------------- calls that change things (own service)
def test_create_wait_export_and_download_every_format(own_client, tmp_path):
    batch = own_client.batches.list(status="completed")[0]
    created = own_client.datasets.create(batch.batch_id, "client test", description="made by a test",
                                         format_config={"csv_delimiter": ";"})
    assert created.status == "pending" and created.export_count == 0 and created.latest_export is None
    assert created.description == "made by a test" and created.batch_id == batch.batch_id
    ready = own_client.datasets.wait(created.id, timeout=60)
    assert ready.status == "ready"
    assert (ready.total_items, ready.successful_items) == (batch.total_items, batch.successful_items)
    (tmp_path / "out").mkdir()
    for fmt, content_type in [("csv", "text/csv"), ("coco", "application/json"), ("yolo", "application/zip"),
                              ("pascal_voc", "application/zip")]:
        export = own_client.datasets.export(created.id, fmt)
        assert isinstance(export, ExportResult) and export.dataset_id == created.id and export.format == fmt
        assert export.content_type.startswith(content_type) and export.record_count == batch.successful_items
        assert _aware_utc(export.exported_at)
        path = own_client.datasets.download(export, dest=tmp_path / "out", progress=False)
        assert path.parent == tmp_path / "out" and path.name == export.file_name
        assert path.stat().st_size == export.file_size_bytes
        assert path.read_bytes() == requests.get(export.download_url, timeout=30).content  # signed: no key
    with_failed = own_client.datasets.export(created.id, "coco", include_failed_items=True)
    assert with_failed.record_count == batch.total_items
    named = own_client.datasets.download(with_failed, dest=tmp_path / "all.json", progress=False)
    assert named == tmp_path / "all.json" and named.stat().st_size == with_failed.file_size_bytes
    csv_text = own_client.datasets.download(own_client.datasets.export(created.id, "csv"), progress=False) \
        .read_text(encoding="utf-8")
    assert ";" in csv_text.splitlines()[0]  # the dataset's csv_delimiter
    after = own_client.datasets.get(created.id)
    assert after.export_count == 6 and after.latest_export.format == "csv"


def test_download_to_the_cache_and_no_second_fetch(own_client):
    ready = own_client.datasets.list(status="ready")[0]
    export = own_client.datasets.export(ready.id, "yolo")
    path = own_client.datasets.download(export, progress=False)
    assert path == own_client.cache_dir / "exports" / export.export_id / export.file_name
    assert path.stat().st_size == export.file_size_bytes
    assert not list(path.parent.glob("*.part"))
    stamp = path.stat().st_mtime_ns
    assert own_client.datasets.download(export, progress=False) == path
    assert path.stat().st_mtime_ns == stamp  # not written again


def test_wait_polls_until_done_and_times_out_with_a_timeout_error(proxied_client, proxy):
    ready = proxied_client.datasets.list(status="ready")[0]
    path = f"/datasets/{ready.id}"
    proxy.rewrite(b'"status":"ready"', b'"status":"processing"', times=3, path=path)
    assert proxied_client.datasets.wait(ready.id, timeout=60, poll_interval=0.01).status == "ready"
    assert len(proxy.seen(path)) == 4  # three answers said processing, the fourth ready
    proxy.rewrite(b'"status":"ready"', b'"status":"pending"', times=10_000, path=path)
    with pytest.raises(errors.TimeoutError, match="still 'pending' after 0.2 s"):
        proxied_client.datasets.wait(ready.id, timeout=0.2, poll_interval=0.01)


def test_creating_from_an_unknown_batch_is_not_found(own_client):
    with pytest.raises(errors.NotFoundError):
        own_client.datasets.create("no-such-batch", "x")
    with pytest.raises(errors.ValidationError):
        own_client.datasets.create("", "x")
