"""The four exports of one dataset of the real service read back to equal frames (signed URLs, no key).

Boxes agree to the precision each format keeps (VOC: within one pixel), every image is there in every
format (failed items included when asked), category names agree, and the per-image metadata our
exports carry (item id, status, description, tags, image URL) survives every format.
"""
from __future__ import annotations

import pandas as pd
import pytest
import requests

import aion_pandas as aion

FORMATS = ("csv", "coco", "yolo", "pascal_voc")


def _ready_dataset(service) -> dict:
    resp = requests.get(f"{service.base_url}/datasets", headers=service.headers,
                        params={"status": "ready", "limit": 100}, timeout=30)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    datasets = body["datasets"] if isinstance(body, dict) and "datasets" in body else \
        body.get("results", body) if isinstance(body, dict) else body
    assert datasets, "the demo service has ready datasets"
    return max(datasets, key=lambda d: d.get("total_items", 0))


@pytest.fixture(scope="module")
def exports(service, tmp_path_factory) -> dict[str, tuple[dict, pd.DataFrame]]:
    dataset = _ready_dataset(service)
    # a client whose key the service does not know: the signed URLs need none
    stranger = aion.Client(api_key="aion_not_a_key_of_this_service", base_url=service.base_url,
                           cache_dir=tmp_path_factory.mktemp("cache"))
    out = {}
    for fmt in FORMATS:
        resp = requests.post(f"{service.base_url}/datasets/{dataset['id']}/export", headers=service.headers,
                             json={"format": fmt, "include_failed_items": True}, timeout=120)
        assert resp.status_code == 200, resp.text
        export = resp.json()
        out[fmt] = (export, aion.read_export(export["download_url"], client=stranger))
    return out


def test_every_export_has_every_image(exports):
    names = {fmt: set(frame["file_name"]) for fmt, (_, frame) in exports.items()}
    assert len({frozenset(v) for v in names.values()}) == 1, names
    for fmt, (export, frame) in exports.items():
        assert frame.attrs["format"] == fmt
        assert frame["image_id"].nunique() == export["record_count"], fmt


def test_every_export_has_the_same_boxes(exports):
    def boxes(frame, digits):
        b = frame[frame["x"].notna()]
        return sorted(zip(b["file_name"], b["category"].astype(str),
                          *(b[c].round(digits) for c in ("x", "y", "w", "h"))))

    coco = exports["coco"][1]
    assert len(boxes(coco, 6)) > 0
    assert boxes(exports["csv"][1], 6) == boxes(coco, 6)
    assert boxes(exports["yolo"][1], 2) == boxes(coco, 2)
    voc, ref = boxes(exports["pascal_voc"][1], 6), boxes(coco, 6)
    assert len(voc) == len(ref)
    for got, want in zip(voc, ref):
        assert got[:2] == want[:2] and all(abs(g - w) <= 1 for g, w in zip(got[2:], want[2:]))


def test_every_export_keeps_the_image_metadata(exports):
    columns = ["item_id", "item_status", "description", "image_url"]
    per_image = {fmt: frame.drop_duplicates("file_name").set_index("file_name").sort_index()
                 for fmt, (_, frame) in exports.items()}
    ref = per_image["coco"]
    assert ref["item_status"].isin(["completed", "failed"]).all()
    for fmt, frame in per_image.items():
        for column in columns:
            assert frame[column].astype(object).tolist() == ref[column].astype(object).tolist(), (fmt, column)
        assert frame["tags"].tolist() == ref["tags"].tolist(), fmt
        assert frame["width"].tolist() == ref["width"].tolist(), fmt


def test_scores_survive_where_the_format_has_them(exports):
    coco = exports["coco"][1]
    assert coco.loc[coco["x"].notna(), "score"].notna().all()
    ref = sorted(coco["score"].dropna().round(6))
    assert sorted(exports["csv"][1]["score"].dropna().round(6)) == ref
