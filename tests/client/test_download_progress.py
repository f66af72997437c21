"""A download's ``on_progress`` hook: bytes as they arrive, and a stop that leaves no half file."""
from __future__ import annotations

import asyncio

import pytest

from aion_pandas.client import AsyncClient, Client
from aion_pandas.errors import CancelledError


@pytest.fixture
def export(own_service, tmp_path):
    with Client(own_service.api_key, own_service.base_url, cache_dir=tmp_path / "cache") as client:
        ready = client.datasets.list(status="ready")[0]
        yield client, client.datasets.export(ready.id, "coco", include_failed_items=True)


def _stop(done: int, total: int | None) -> None:
    raise CancelledError("stopped by the test")


def test_on_progress_counts_every_byte_up_to_the_size(export, tmp_path):
    client, result = export
    seen: list[tuple[int, int | None]] = []
    path = client.download_file(result.download_url, tmp_path / "out.json", expected_size=result.file_size_bytes,
                                progress=False, on_progress=lambda done, total: seen.append((done, total)))
    assert path.stat().st_size == result.file_size_bytes
    assert seen[-1] == (result.file_size_bytes, result.file_size_bytes)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[0][0] > 0


@pytest.mark.parametrize("size_known", [True, False])
def test_a_stop_in_on_progress_leaves_neither_the_file_nor_a_partial_one(export, tmp_path, size_known):
    client, result = export
    folder = tmp_path / "out"
    with pytest.raises(CancelledError):
        client.download_file(result.download_url, folder / "out.json", progress=False, on_progress=_stop,
                             expected_size=result.file_size_bytes if size_known else None)
    assert list(folder.iterdir()) == []
    with pytest.raises(CancelledError):               # into the cache: nothing there either
        client.download_url(result.download_url, expected_size=result.file_size_bytes, on_progress=_stop)
    assert [p for p in (client.cache_dir / "downloads").rglob("*") if p.is_file()] == []
    assert client.download_url(result.download_url).stat().st_size == result.file_size_bytes  # then it works


def test_the_async_client_stops_the_same_way(own_service, export, tmp_path):
    _, result = export

    async def run() -> None:
        async with AsyncClient(own_service.api_key, own_service.base_url, cache_dir=tmp_path / "acache") as client:
            with pytest.raises(CancelledError):
                await client.download_file(result.download_url, tmp_path / "a" / "out.json", on_progress=_stop)

    asyncio.run(run())
    assert list((tmp_path / "a").iterdir()) == []
