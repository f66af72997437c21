"""A hosted plan's rate limit (FREE: 10 requests a minute) through the fault proxy, its minute run in one
second: parallel exports of ``df.aion`` and FiftyOne's image fetching wait out the 429s and lose no row."""
from __future__ import annotations

import aion_pandas as aion
from aion_pandas.client import Client
from aion_pandas.image_cache import fetch_images
from aion_pandas.formats import read_export


def test_parallel_exports_wait_out_the_limit_and_fail_no_row(own_service, proxy, tmp_path):
    with Client(own_service.api_key, proxy.base_url, cache_dir=tmp_path, backoff=0.01) as client:
        ready = aion.datasets(status="ready", client=client).head(3)
        proxy.rate_limit(10, time_scale=60)  # 10 a "minute" of one second
        frames = [ready.aion.export(fmt, max_workers=8, progress=False) for fmt in ("csv", "coco", "yolo", "pascal_voc")]
    for fmt, frame in zip(("csv", "coco", "yolo", "pascal_voc"), frames):
        assert frame["error"].isna().all(), frame["error"].tolist()
        assert (frame["format"] == fmt).all() and frame["record_count"].gt(0).all()
    posts = proxy.seen("/export", method="POST")
    assert sum(s.action == "forward" for s in posts) == 12
    assert any(s.action == "rate_limited" for s in posts)  # the limit was met, and waited out


def test_image_fetching_waits_out_the_limit_and_misses_no_image(own_service, proxy, tmp_path):
    with Client(own_service.api_key, proxy.base_url, cache_dir=tmp_path, backoff=0.01) as client:
        dataset = client.datasets.list(status="ready")[0]
        export = client.datasets.export(dataset.id, "coco")
        frame = read_export(client.datasets.download(export, progress=False))
        images = frame.drop_duplicates("image_id").head(20)
        # a "minute" of two seconds: the 20 fetches cannot spread over two windows on a busy machine (with
        # a one-second minute they once did in CI, and no 429 came), so the 11th must wait
        proxy.rate_limit(10, time_scale=30)
        paths, missing = fetch_images(images, client=client, cache_dir=tmp_path / "images", max_workers=8,
                                      progress=False)
    assert missing == {} and len(paths) == 20
    assert all(open(p, "rb").read(2) in (b"\xff\xd8", b"\x89P") for p in paths)
    assert any(s.action == "rate_limited" for s in proxy.seen("/user-files/"))
