"""Exports read back by independent tools agree box for box with the batch's detections."""
from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
import zipfile
from collections import defaultdict

import pytest
import requests
from pycocotools.coco import COCO

from .helpers import all_results, api, new_dataset

Boxes = dict[str, list[tuple[str, float, float, float, float]]]


@pytest.fixture(scope="module")
def truth(service) -> tuple[dict, Boxes, dict]:
    """A fresh dataset of the street batch, its detections per file name, and the items by file name."""
    dataset = new_dataset(service, "street-scenes")
    results = all_results(service, dataset["batch_id"])
    boxes: Boxes = {}
    for r in results:
        if r["status"] == "success":
            boxes[r["file_name"]] = sorted(
                (d["label"], d["bbox"]["x"], d["bbox"]["y"], d["bbox"]["width"], d["bbox"]["height"])
                for d in r["output_data"]["detections"])
    assert sum(map(len, boxes.values())) > 200 and any(not b for b in boxes.values())
    return dataset, boxes, {r["file_name"]: r for r in results}


def _download(service, dataset_id: str, fmt: str, tmp_path) -> bytes:
    export = api(service, "POST", f"/datasets/{dataset_id}/export", json={"format": fmt}).json()
    data = requests.get(export["download_url"], timeout=30).content
    assert len(data) == export["file_size_bytes"]
    return data


def _close(found: Boxes, expected: Boxes, tol: float) -> None:
    assert found.keys() == expected.keys()
    for name, want in expected.items():
        got = sorted(found[name])
        assert len(got) == len(want), name
        for g, w in zip(got, want):
            assert g[0] == w[0], name
            assert all(abs(a - b) <= tol for a, b in zip(g[1:], w[1:])), (name, g, w)


def test_pycocotools_loads_coco(service, truth, tmp_path):
    dataset, expected, items = truth
    path = tmp_path / "export.json"
    path.write_bytes(_download(service, dataset["id"], "coco", tmp_path))
    coco = COCO(str(path))
    cats = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert sorted(cats.values()) == [cats[i] for i in sorted(cats)]  # ids 1..K in name order
    assert sorted(cats) == list(range(1, len(cats) + 1))
    found: Boxes = {}
    for img in coco.loadImgs(coco.getImgIds()):
        item = items[img["file_name"]]
        assert (img["width"], img["height"]) == (item["output_data"]["width"], item["output_data"]["height"])
        assert img["coco_url"].endswith(f"/user-files/{item['file_id']}/download")
        assert img["id"] == item["item_index"] + 1
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]]))
        found[img["file_name"]] = [(cats[a["category_id"]], *a["bbox"]) for a in anns]
        assert all(a["area"] == pytest.approx(a["bbox"][2] * a["bbox"][3]) for a in anns)
    _close(found, expected, 1e-6)


def _manifest(zf: zipfile.ZipFile) -> list[dict]:
    return list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode("utf-8"))))


def test_yolo_zip_parses_with_stdlib(service, truth, tmp_path):
    dataset, expected, items = truth
    zf = zipfile.ZipFile(io.BytesIO(_download(service, dataset["id"], "yolo", tmp_path)))
    names = zf.read("classes.txt").decode().splitlines()
    assert names == sorted(names)
    assert all(n in zf.read("data.yaml").decode() for n in names)
    manifest = _manifest(zf)
    label_files = [n for n in zf.namelist() if n.startswith("labels/")]
    assert len(label_files) == len(manifest) == len(expected)  # one file per image, even when empty
    found: Boxes = {}
    for row in manifest:
        w, h = int(row["width"]), int(row["height"])
        boxes = []
        for line in zf.read(row["label_file"]).decode().splitlines():
            cls, cx, cy, bw, bh, *conf = line.split()  # an optional 6th field: the confidence
            assert len(conf) <= 1 and all(0 <= float(c) <= 1 for c in conf)
            bw_px, bh_px = float(bw) * w, float(bh) * h
            boxes.append((names[int(cls)], float(cx) * w - bw_px / 2, float(cy) * h - bh_px / 2, bw_px, bh_px))
        found[row["file_name"]] = boxes
        assert row["image_url"].endswith(f"/user-files/{items[row['file_name']]['file_id']}/download")
    _close(found, expected, 0.01)  # 6 decimals of a normalized coordinate


def test_voc_zip_parses_with_stdlib(service, truth, tmp_path):
    dataset, expected, _ = truth
    zf = zipfile.ZipFile(io.BytesIO(_download(service, dataset["id"], "pascal_voc", tmp_path)))
    manifest = _manifest(zf)
    assert len([n for n in zf.namelist() if n.startswith("Annotations/")]) == len(manifest) == len(expected)
    found: Boxes = defaultdict(list)
    for row in manifest:
        root = ET.fromstring(zf.read(row["label_file"]))
        assert root.findtext("size/width") == row["width"] and root.findtext("size/height") == row["height"]
        for obj in root.iter("object"):
            box = obj.find("bndbox")
            x0, y0, x1, y1 = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            found[row["file_name"]].append((obj.findtext("name"), x0, y0, x1 - x0, y1 - y0))
        found.setdefault(row["file_name"], [])
    _close(dict(found), expected, 1.0)  # within one pixel whatever the corner convention


def test_csv_rows_match(service, truth, tmp_path):
    dataset, expected, _ = truth
    text = _download(service, dataset["id"], "csv", tmp_path).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    found: Boxes = defaultdict(list)
    for r in rows:
        if r["category"]:
            found[r["file_name"]].append((r["category"], *(float(r[k]) for k in ("x", "y", "w", "h"))))
        else:
            found.setdefault(r["file_name"], [])
            assert r["x"] == "" and r["w"] == ""
    _close(dict(found), expected, 1e-6)
    assert {"image_url", "item_id", "item_status", "description", "tags"} <= set(rows[0])
