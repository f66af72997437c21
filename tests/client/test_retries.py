"""Retries, timeouts and resumable downloads, proven through a fault-injecting proxy on loopback."""
from __future__ import annotations

import logging
import socket

import pytest
import requests

from aion_pandas import errors
from aion_pandas.client import Client


def _ready_id(client: Client) -> str:
    return client.datasets.list(status="ready")[0].id


# ---------------------------------------------------------------- GET
def test_get_retries_429_honouring_retry_after(proxied_client, proxy):
    proxy.fail(429, times=2, method="GET", path="/datasets?", retry_after="1")
    page = proxied_client.datasets.list()
    assert page.total_count >= 3
    seen = proxy.seen("/datasets?")
    assert [s.action for s in seen] == ["fail", "fail", "forward"]
    # the client waited at least the Retry-After second before each retry (a lower bound, not a speed limit)
    assert seen[1].at - seen[0].at >= 0.95 and seen[2].at - seen[1].at >= 0.95


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_get_retries_server_errors(proxied_client, proxy, status):
    proxy.fail(status, times=3, method="GET", path="/statistics/")
    stats = proxied_client.datasets.statistics()
    assert stats.total_datasets >= 3
    assert [s.action for s in proxy.seen("/statistics/")] == ["fail"] * 3 + ["forward"]


def test_get_gives_up_after_max_retries_with_the_last_error(proxied_client, proxy, caplog):
    proxy.fail(503, times=10, method="GET", path="/datasets?")
    with caplog.at_level(logging.INFO, logger="aion_pandas.client"):
        with pytest.raises(errors.ServerError) as info:
            proxied_client.datasets.list()
    assert info.value.status == 503 and info.value.request_id == "req_fault_proxy"
    assert len(proxy.seen("/datasets?")) == 4  # 1 + max_retries
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 3 and all("/api/v2/datasets" in m for m in retries)
    assert not any(proxied_client.settings.api_key.reveal() in r.getMessage() for r in caplog.records)


def test_get_does_not_retry_client_errors(proxied_client, proxy):
    proxy.fail(404, times=5, method="GET", path="/datasets?")
    with pytest.raises(errors.NotFoundError):
        proxied_client.datasets.list()
    assert len(proxy.seen("/datasets?")) == 1


def test_get_retries_a_dropped_connection(proxied_client, proxy):
    proxy.drop(times=2, method="GET", path="/batches")
    assert proxied_client.batches.list().total_count >= 4
    assert [s.action for s in proxy.seen("/batches")] == ["drop", "drop", "forward"]


def test_retry_after_on_503_is_honoured(proxied_client, proxy):
    proxy.fail(503, times=1, method="GET", path="/batches", retry_after="1")
    assert proxied_client.batches.list().total_count >= 4
    seen = proxy.seen("/batches")
    assert len(seen) == 2 and seen[1].at - seen[0].at >= 0.95


def test_a_retry_after_over_a_minute_is_not_waited_for(proxied_client, proxy):
    proxy.fail(429, times=5, method="GET", path="/datasets?", retry_after="120")
    with pytest.raises(errors.RateLimitError) as info:
        proxied_client.datasets.list()
    assert info.value.retry_after == 120.0 and len(proxy.seen("/datasets?")) == 1


def test_rate_limit_error_carries_retry_after(own_service, proxy, tmp_path):
    client = Client(own_service.api_key, proxy.base_url, max_retries=0, cache_dir=tmp_path)
    proxy.fail(429, times=1, path="/datasets?", retry_after="30")
    with pytest.raises(errors.RateLimitError) as info:
        client.datasets.list()
    assert info.value.retry_after == 30.0 and info.value.code == "RATE_LIMITED"


# ---------------------------------------------------------------- POST
@pytest.mark.parametrize("status, retried", [(429, True), (503, True), (500, False), (502, False), (504, False)])
def test_post_is_retried_only_when_the_service_cannot_have_acted(proxied_client, proxy, status, retried):
    dataset_id = _ready_id(proxied_client)
    proxy.fail(status, times=1, method="POST", path="/export")
    if retried:
        export = proxied_client.datasets.export(dataset_id, "csv")
        assert export.file_size_bytes > 0
        assert [s.action for s in proxy.seen("/export")] == ["fail", "forward"]
    else:
        with pytest.raises(errors.ServerError) as info:
            proxied_client.datasets.export(dataset_id, "csv")
        assert info.value.status == status
        assert [s.action for s in proxy.seen("/export")] == ["fail"]


def test_post_is_not_retried_when_the_connection_drops_after_sending(proxied_client, proxy):
    dataset_id = _ready_id(proxied_client)
    proxy.drop(times=1, method="POST", path="/export")
    with pytest.raises(errors.ConnectionError) as info:
        proxied_client.datasets.export(dataset_id, "csv")
    assert not isinstance(info.value, errors.TimeoutError)
    assert len(proxy.seen("/export")) == 1


def test_connect_errors_are_retried_then_reported(tmp_path):
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret = "aion_connect_test_SECRETPART_12345678"
    client = Client(secret, f"http://127.0.0.1:{port}/api/v2", max_retries=2, backoff=0.01, cache_dir=tmp_path)
    for call in (client.datasets.list, lambda: client.datasets.export("d1", "csv")):  # GET and POST alike
        with pytest.raises(errors.ConnectionError) as info:
            call()
        text = str(info.value)
        context = info.value.__context__  # the requests exception (suppressed) keeps its request
        assert "Authorization" not in getattr(getattr(context, "request", None), "headers", {})
        assert "could not connect" in text and "3 attempts" in text and f"127.0.0.1:{port}" in text
        assert "SECRETPART" not in text and "SECRETPART" not in repr(info.value)


# ---------------------------------------------------------------- timeouts
def test_a_slow_answer_is_a_timeout_error(own_service, proxy, tmp_path):
    client = Client(own_service.api_key, proxy.base_url, timeout=0.3, max_retries=0, cache_dir=tmp_path)
    proxy.delay(2.0, times=1, method="GET", path="/datasets?")
    with pytest.raises(errors.TimeoutError) as info:
        client.datasets.list()
    assert "0.3 s" in str(info.value) and isinstance(info.value, TimeoutError)
    request = info.value.__context__.request  # what requests kept of the request: no key in it
    assert request is not None and "Authorization" not in request.headers


def test_a_get_that_times_out_once_is_retried(own_service, proxy, tmp_path):
    client = Client(own_service.api_key, proxy.base_url, timeout=1.5, max_retries=2, backoff=0.01,
                    cache_dir=tmp_path)
    proxy.delay(4.0, times=1, method="GET", path="/batches")
    assert client.batches.list().total_count >= 4
    assert [s.action for s in proxy.seen("/batches")] == ["delay", "forward"]


def test_an_export_waits_longer_than_the_client_timeout(own_service, proxy, tmp_path):
    """The synchronous export POST waits at least 300 s (the SDK's), whatever the client's timeout."""
    client = Client(own_service.api_key, proxy.base_url, timeout=0.5, max_retries=0, cache_dir=tmp_path)
    dataset_id = client.datasets.list(status="ready")[0].id
    proxy.delay(1.5, times=1, method="POST", path="/export")
    proxy.delay(1.5, times=1, method="GET", path="/statistics/")
    assert client.datasets.export(dataset_id, "csv").file_size_bytes > 0
    assert [s.action for s in proxy.seen("/export")] == ["delay"]  # sent once, answered once
    with pytest.raises(errors.TimeoutError, match="0.5 s"):
        client.datasets.statistics()


# ---------------------------------------------------------------- downloads
@pytest.fixture
def big_export(proxied_client):
    """A COCO export of a ready dataset (its URL points at the proxy: the proxy keeps the Host header)."""
    export = proxied_client.datasets.export(_ready_id(proxied_client), "coco", include_failed_items=True)
    assert export.download_url.startswith(proxied_client.settings.base_url.rsplit("/api/", 1)[0])
    assert export.file_size_bytes > 10_000
    truth = requests.get(export.download_url, timeout=30).content
    assert len(truth) == export.file_size_bytes
    return export, truth


# the proxy fronts the service: on S3 the file's bytes come from the store after a redirect, past the proxy
@pytest.mark.backends("sqlite")
def test_a_cut_download_resumes_with_range(proxied_client, proxy, big_export, tmp_path):
    export, truth = big_export
    half = export.file_size_bytes // 2
    proxy.cut(times=1, after=half, path="/exports/")
    before = len(proxy.seen("/exports/"))
    path = proxied_client.datasets.download(export, dest=tmp_path / "x.json", progress=False)
    assert path.read_bytes() == truth
    assert not list(tmp_path.glob("*.part"))
    seen = proxy.seen("/exports/")[before:]
    assert [(s.action, s.range) for s in seen] == [("cut", None), ("forward", f"bytes={half}-")]


def test_a_cut_download_restarts_cleanly_when_range_is_ignored(proxied_client, proxy, big_export, tmp_path):
    export, truth = big_export
    proxy.cut(times=1, after=1000, path="/exports/")
    proxy.ignore_range(times=1, path="/exports/")
    path = proxied_client.datasets.download(export, dest=tmp_path / "x.json", progress=False)
    assert path.read_bytes() == truth  # the 200 answer replaced the partial file instead of being appended


# the proxy fronts the service: on S3 the file's bytes come from the store after a redirect, past the proxy
@pytest.mark.backends("sqlite")
def test_an_interrupted_download_leaves_no_file_under_the_final_name_and_resumes_later(
        proxied_client, proxy, big_export, tmp_path):
    export, truth = big_export
    step = export.file_size_bytes // 8
    proxy.cut(times=1, after=step, path="/exports/")
    proxy.cut(times=3, after=step, path="/exports/")  # every retry is cut too: 4 attempts fail
    dest = tmp_path / "x.json"
    with pytest.raises(errors.ConnectionError, match="call again to resume"):
        proxied_client.datasets.download(export, dest=dest, progress=False)
    assert not dest.exists()
    [part] = tmp_path.glob("x.json.*.part")
    assert part.stat().st_size == 4 * step and part.read_bytes() == truth[:4 * step]
    assert proxied_client.datasets.download(export, dest=dest, progress=False) == dest
    assert dest.read_bytes() == truth and not part.exists()
    assert proxy.seen("/exports/")[-1].range == f"bytes={4 * step}-"


def test_a_complete_cached_file_is_not_fetched_again(proxied_client, proxy, big_export):
    export, truth = big_export
    path = proxied_client.datasets.download(export, progress=False)  # into the cache
    assert path.read_bytes() == truth
    count = len(proxy.seen("/exports/"))
    assert proxied_client.datasets.download(export, progress=False) == path
    assert len(proxy.seen("/exports/")) == count
    path.write_bytes(truth[:-5])  # wrong size: fetched again
    proxied_client.datasets.download(export, progress=False)
    assert path.read_bytes() == truth and len(proxy.seen("/exports/")) == count + 1


def test_a_file_outside_the_cache_is_replaced_whole(proxied_client, proxy, big_export, tmp_path):
    export, truth = big_export
    dest = tmp_path / "x.json"
    dest.write_bytes(b"x" * export.file_size_bytes)  # right size, other bytes (e.g. an older export)
    proxied_client.datasets.download(export, dest=dest, progress=False)
    assert dest.read_bytes() == truth


# the proxy fronts the service: on S3 the file's bytes come from the store after a redirect, past the proxy
@pytest.mark.backends("sqlite")
def test_a_partial_file_of_another_export_is_never_resumed(proxied_client, proxy, tmp_path):
    dataset_id = _ready_id(proxied_client)
    first = proxied_client.datasets.export(dataset_id, "csv")
    second = proxied_client.datasets.export(dataset_id, "csv")
    assert first.file_name == second.file_name and first.export_id != second.export_id
    proxy.cut(times=4, after=1000, path=f"/exports/{first.export_id}/")  # 4 attempts, 1000 bytes each
    with pytest.raises(errors.ConnectionError):
        proxied_client.datasets.download(first, dest=tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.part"))) == 1
    path = proxied_client.datasets.download(second, dest=tmp_path, progress=False)
    assert [s.range for s in proxy.seen(f"/exports/{second.export_id}/")] == [None]  # from byte 0
    assert path.read_bytes() == requests.get(second.download_url, timeout=30).content
    assert not list(tmp_path.glob("*.part"))  # the other export's partial file was dropped


def test_a_tampered_download_url_is_refused(proxied_client, big_export, tmp_path):
    export, _ = big_export
    bad = type(export)(**{**export.__dict__, "download_url": export.download_url[:-4] + "0000"})
    with pytest.raises(errors.PermissionDeniedError) as info:
        proxied_client.datasets.download(bad, dest=tmp_path / "x.json", progress=False)
    assert info.value.status == 403 and "signature" not in str(info.value).split("(")[-1]
    assert not (tmp_path / "x.json").exists()


def test_get_bytes_retries_a_cut_body(proxied_client, proxy, big_export):
    export, truth = big_export
    proxy.cut(times=2, after=100, path="/exports/")
    assert proxied_client.get_bytes(export.download_url) == truth
