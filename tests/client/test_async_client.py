"""``AsyncClient`` against the real service: every call, concurrent exports, retries and Retry-After through
the fault proxy, and a cancelled ``wait`` that leaves nothing running."""
from __future__ import annotations

import asyncio

import pytest

from aion_pandas import errors
from aion_pandas.client import AsyncClient
from aion_pandas.records import AsyncPage, Batch, BatchItem, Dataset, ExportResult, Statistics


def run(coro):
    return asyncio.run(coro)


def _client(service, tmp_path, **kw) -> AsyncClient:
    return AsyncClient(api_key=service.api_key, base_url=service.base_url, cache_dir=tmp_path / "cache",
                       backoff=0.01, **kw)


def test_every_call_of_both_resources(own_service, tmp_path):
    async def main():
        async with _client(own_service, tmp_path) as client:
            batches = await client.batches.list(status="completed")
            assert isinstance(batches, AsyncPage) and all(isinstance(b, Batch) for b in batches)
            batch = await client.batches.get(batches[0].batch_id)
            assert batch == batches[0] and batch.is_done
            page = await client.batches.results(batch.batch_id, limit=40)
            items = [item async for item in page.auto_paging_iter()]
            assert len(items) == batch.total_items and all(isinstance(i, BatchItem) for i in items)
            done = await client.batches.wait(batch.batch_id, timeout=5)
            assert done.status == "completed"
            created = await client.datasets.create(batch_id=batch.batch_id, name="async one", description="d")
            assert isinstance(created, Dataset) and created.status == "pending"
            seen: list[str] = []
            ready = await client.datasets.wait(created.id, timeout=60, on_progress=lambda d: seen.append(d.status))
            assert ready.status == "ready" and seen[-1] == "ready"
            assert (await client.datasets.get(dataset_id=created.id)).id == created.id
            listed = await client.datasets.list(status="ready", limit=1)
            ids = [d.id async for d in listed.auto_paging_iter()]
            assert created.id in ids and len(ids) == listed.total_count
            export = await client.datasets.export(dataset_id=created.id, format="csv", options={"delimiter": ";"},
                                                  include_failed_items=True)
            assert isinstance(export, ExportResult) and export.format == "csv"
            path = await client.datasets.download(export, dest=tmp_path / "out")
            assert path.stat().st_size == export.file_size_bytes and b";" in path.read_bytes()[:200]
            cached = await client.download_url(export.download_url, expected_size=export.file_size_bytes)
            assert cached.read_bytes() == path.read_bytes()
            stats = await client.datasets.statistics(days=7)
            assert isinstance(stats, Statistics) and stats.total_exports >= 1
            image = await client.get_bytes(f"{items[0].stored_image_url}?thumbnail=false")
            assert image[:2] == b"\xff\xd8" or image[:4] == b"\x89PNG"
            with pytest.raises(errors.NotFoundError):
                await client.datasets.get("no-such-dataset")

    run(main())


def test_concurrent_exports_with_gather(own_service, tmp_path):
    async def main():
        async with _client(own_service, tmp_path) as client:
            ready = [d async for d in (await client.datasets.list(status="ready")).auto_paging_iter()]
            formats = ["csv", "coco", "yolo", "pascal_voc"]
            jobs = [client.datasets.export(dataset_id=d.id, format=f) for d in ready[:3] for f in formats]
            return ready[:3], await asyncio.gather(*jobs)

    ready, exports = run(main())
    assert len(exports) == 12 and len({e.export_id for e in exports}) == 12
    assert [e.dataset_id for e in exports] == [d.id for d in ready for _ in range(4)]
    assert [e.format for e in exports] == ["csv", "coco", "yolo", "pascal_voc"] * 3


def test_retries_honour_retry_after_through_the_proxy(own_service, proxy, tmp_path):
    proxy.fail(429, times=2, method="GET", path="/datasets?", retry_after="1")
    proxy.fail(503, times=1, method="POST", path="/export")

    async def main():
        async with AsyncClient(own_service.api_key, proxy.base_url, backoff=0.01, max_retries=3,
                               cache_dir=tmp_path) as client:
            page = await client.datasets.list()
            return page, await client.datasets.export(page[0].id, "coco")

    page, export = run(main())
    assert page.total_count >= 3 and export.record_count > 0
    seen = proxy.seen("/datasets?")
    assert [s.action for s in seen] == ["fail", "fail", "forward"]
    assert seen[1].at - seen[0].at >= 0.95 and seen[2].at - seen[1].at >= 0.95
    assert [s.action for s in proxy.seen("/export")] == ["fail", "forward"]


def test_a_post_that_may_have_been_acted_on_is_not_sent_again(own_service, proxy, tmp_path):
    proxy.drop(times=1, method="POST", path="/export")

    async def main():
        async with AsyncClient(own_service.api_key, proxy.base_url, backoff=0.01, cache_dir=tmp_path) as client:
            dataset = (await client.datasets.list(status="ready"))[0]
            with pytest.raises(errors.ConnectionError):
                await client.datasets.export(dataset.id, "csv")

    run(main())
    assert len(proxy.seen("/export")) == 1


def test_cancelling_a_pending_wait_leaves_nothing_running(own_service, proxy, tmp_path):
    async def main():
        async with AsyncClient(own_service.api_key, proxy.base_url, backoff=0.01, cache_dir=tmp_path,
                               polling_interval=0.05) as client:
            batch = (await client.batches.list(status="processing"))[0]  # the demo's batch that never finishes
            task = asyncio.create_task(client.batches.wait(batch.batch_id, timeout=60))
            while len(proxy.seen(f"/batch/{batch.batch_id}")) < 3:
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            polls = len(proxy.seen(f"/batch/{batch.batch_id}"))
            await asyncio.sleep(0.5)  # ten polling intervals: a leftover poller would have called again
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            return polls, len(proxy.seen(f"/batch/{batch.batch_id}")), others

    polls, later, others = run(main())
    assert polls >= 3 and later == polls and others == []


def test_top_level_await_style_use_without_a_context_manager(own_service, tmp_path):
    client = _client(own_service, tmp_path)

    async def cell():  # what a notebook cell's top-level `await` runs
        stats = await client.datasets.statistics()
        await client.aclose()
        return stats

    assert run(cell()).total_datasets >= 3
    assert repr(client).startswith("AsyncClient(") and own_service.api_key not in repr(client)
