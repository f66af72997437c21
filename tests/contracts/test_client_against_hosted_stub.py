"""Both clients against a stub answering as the hosted ``openapi.json`` says: every batch call, all pages
of 250 items, every error body of the document, and nothing that needs this project's extensions."""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hosted_stub import BATCH, DATASET, ITEMS, KEY, RUNNING, HostedStub  # noqa: E402

from aion_pandas import errors  # noqa: E402
from aion_pandas.client import AsyncClient, Client  # noqa: E402
from aion_pandas.records import Batch, BatchItem  # noqa: E402


@pytest.fixture
def stub():
    with HostedStub() as s:
        yield s


@pytest.fixture
def client(stub, tmp_path):
    with Client(KEY, stub.base_url, max_retries=0, backoff=0.01, cache_dir=tmp_path) as c:
        yield c


def test_batch_status_carries_every_hosted_field(client):
    batch = client.batches.get(BATCH)
    assert isinstance(batch, Batch) and batch.status == "partially_completed" and batch.is_done
    assert (batch.progress_percentage, batch.processed_items, batch.success_rate) == (100.0, ITEMS, 0.9)
    assert (batch.successful_items, batch.failed_items, batch.avg_processing_time_ms) == (225, 25, 1325)
    assert batch.started_at.isoformat() == "2025-01-15T10:30:02+00:00" and batch.estimated_completion_time is None


def test_all_250_results_come_through_a_pagination_object(client, stub):
    page = client.batches.results(BATCH)
    assert (len(page), page.total_count, page.has_more) == (100, ITEMS, True)
    items = list(page.auto_paging_iter())
    assert [i.item_index for i in items] == list(range(ITEMS))
    assert all(isinstance(i, BatchItem) for i in items)
    ok = [i for i in items if i.succeeded]
    assert len(ok) == 225 and {i.status for i in ok} == {"success"}
    first = items[0]
    assert first.stored_image_url.endswith(f"/data/batch-images/{first.item_id}")
    assert first.input_data == {"filename": "img_0000.jpg"} and first.processing_time_ms == 1200
    assert first.output_data["description"] == "scene 0"
    offsets = [p for m, p, _ in stub.requests if p.endswith("/results")]
    assert len(offsets) == 3  # 100 + 100 + 50
    assert len(list(client.batches.results(BATCH, include_failed=False, limit=500).auto_paging_iter())) == 225


def test_cancel_and_wait_with_progress(client, stub):
    assert client.batches.cancel(BATCH) is None and stub.cancelled == [BATCH]
    seen: list[float] = []
    done = client.batches.wait(RUNNING, timeout=30, poll_interval=0.05, on_progress=lambda b: seen.append(
        b.progress_percentage))
    assert done.status == "completed" and seen == [40.0, 40.0, 100.0]


def test_a_wait_that_runs_out_of_time_says_what_it_waited_for(client):
    with pytest.raises(errors.TimeoutError, match=f"batch {RUNNING} still 'processing'"):
        client.batches.wait(RUNNING, timeout=0.01, poll_interval=0.01)


def test_the_batch_list_is_an_extension_the_hosted_api_lacks(client):
    with pytest.raises(errors.ExtensionMissingError, match="GET /batches") as info:
        client.batches.list()
    assert isinstance(info.value, errors.NotFoundError) and info.value.status == 404


def _id(suffix: str) -> str:
    return f"00000000-0000-4000-8000-00000000{suffix}"


@pytest.mark.parametrize("suffix, cls, code, message", [
    ("0404", errors.NotFoundError, "FILE_NOT_FOUND", "Image 9f1c not found"),              # UserFilesError
    ("0500", errors.ServerError, "CHAT_SERVICE_ERROR", "Internal error"),                  # ChatErrorResponse
    ("0422", errors.ValidationError, "VALIDATION_ERROR", "query.limit: Input should be less than or equal to 500"),
    ("0400", errors.BadRequestError, "VALIDATION_ERROR", "Invalid request parameters"),    # the envelope
    ("0401", errors.AuthenticationError, "INVALID_API_KEY", "HTTP 401 Unauthorized"),      # an empty body
    ("0429", errors.RateLimitError, "RATE_LIMIT_ERROR", "Too many requests"),
])
def test_every_hosted_error_body_becomes_a_typed_error(client, stub, suffix, cls, code, message):
    with pytest.raises(cls) as info:
        client.batches.get(_id(suffix))
    err = info.value
    assert (err.status, err.code) == (int(suffix), code) and err.message.startswith(message)
    sent = stub.requests[-1][2]
    assert sent and sent.startswith("req_")
    # the id of the body when it has one, else the one the client sent
    expected = {"0400": "550e8400-e29b-41d4-a716-4466554400aa", "0429": "req_rate"}.get(suffix, sent)
    assert err.request_id == expected and expected in str(err)
    if suffix == "0404":
        assert err.details == {"image_id": "9f1c"}
    if suffix == "0422":
        assert err.details["errors"] == [{"loc": "query.limit", "msg": "Input should be less than or equal to 500",
                                          "type": "less_than_equal"}]
        assert isinstance(err, ValueError)
    if suffix == "0429":
        assert err.retry_after == 120.0


def test_every_request_carries_its_own_request_id(client, stub):
    client.batches.get(BATCH)
    client.batches.get(BATCH)
    ids = [rid for _, _, rid in stub.requests]
    assert len(ids) == 2 and all(ids) and ids[0] != ids[1]


def test_a_user_file_download_follows_the_redirect_without_the_key(client, stub):
    assert client.get_bytes(f"{client.base_url}/user-files/{_id('1234')}/download").startswith(b"\x89PNG")
    assert stub.requests[-1][1].startswith("/signed/")


def test_the_async_client_against_the_hosted_shapes(stub, tmp_path):
    async def main():
        async with AsyncClient(api_key=KEY, base_url=stub.base_url, max_retries=0, cache_dir=tmp_path) as client:
            export = await client.datasets.export(dataset_id=DATASET, format="coco")  # the spec's own example
            page = await client.batches.results(BATCH)
            items = [item async for item in page.auto_paging_iter()]
            batch = await client.batches.get(BATCH)
            with pytest.raises(errors.NotFoundError):
                await client.batches.get(_id("0404"))
            path = await client.download_url(export.download_url, expected_size=export.file_size_bytes)
            return export, items, batch, path

    export, items, batch, path = asyncio.run(main())
    assert export.dataset_id == DATASET and export.download_url.endswith("dataset_550e8400.json")
    assert [i.item_index for i in items] == list(range(ITEMS)) and batch.status == "partially_completed"
    assert path.read_bytes() == b"\x89PNG\r\n\x1a\nstub" and path.is_relative_to(tmp_path)
