"""Exports: content types, sizes, options, failed items, counts, signed URLs and Range downloads."""
from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from aion_pandas.server.signing import Signer, load_or_create_secret

from .helpers import api, assert_envelope, new_dataset

TYPES = {"csv": "text/csv", "coco": "application/json", "yolo": "application/zip", "pascal_voc": "application/zip"}


@pytest.fixture(scope="module")
def street(service):
    """A fresh dataset of the demo's street batch (120 images, 6 failed)."""
    return new_dataset(service, "street-scenes")


def _export(service, dataset_id: str, **body) -> dict:
    resp = api(service, "POST", f"/datasets/{dataset_id}/export", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.mark.parametrize("fmt", list(TYPES))
def test_export_each_format(service, street, fmt):
    export = _export(service, street["id"], format=fmt)
    assert export["format"] == fmt and export["status"] == "completed"
    assert export["dataset_id"] == street["id"] and export["content_type"] == TYPES[fmt]
    assert export["record_count"] == 114  # completed items only
    assert export["download_url"].startswith(service.root_url + "/exports/")
    resp = requests.get(export["download_url"], timeout=30)  # no key needed
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith(TYPES[fmt])
    assert len(resp.content) == export["file_size_bytes"] > 0
    if fmt in ("yolo", "pascal_voc"):
        zipfile.ZipFile(io.BytesIO(resp.content)).testzip()
    elif fmt == "coco":
        assert len(json.loads(resp.content)["images"]) == 114


def test_include_failed_items_adds_them(service, street):
    with_failed = _export(service, street["id"], format="coco", include_failed_items=True)
    assert with_failed["record_count"] == 120
    doc = requests.get(with_failed["download_url"], timeout=30).json()
    statuses = [img.get("aion_item_status") for img in doc["images"]]
    assert statuses.count("failed") == 6 and statuses.count("completed") == 114


def test_format_config_defaults_and_options_override(service):
    dataset = new_dataset(service, "warehouse-safety",
                          format_config={"csv_delimiter": ";", "include_timestamps": False})
    default = requests.get(_export(service, dataset["id"], format="csv")["download_url"], timeout=30).text
    header = default.splitlines()[0]
    assert ";" in header and "exported_at" not in header and "processed_at" not in header
    overridden = _export(service, dataset["id"], format="csv", options={"delimiter": "|", "include_timestamps": True})
    text = requests.get(overridden["download_url"], timeout=30).text
    rows = list(csv.DictReader(io.StringIO(text), delimiter="|"))
    assert "exported_at" in rows[0] and rows[0]["exported_at"] == overridden["exported_at"]
    assert all(r["processed_at"].endswith("Z") for r in rows)  # when each item was processed
    assert len({r["file_name"] for r in rows}) == overridden["record_count"] == 77
    assert_envelope(api(service, "POST", f"/datasets/{dataset['id']}/export",
                        json={"format": "csv", "options": {"delimiter": ";;"}}), 422, "VALIDATION_ERROR")
    error = assert_envelope(api(service, "POST", f"/datasets/{dataset['id']}/export",
                                json={"format": "coco", "options": {"delimiter": ";"}}), 422, "VALIDATION_ERROR")
    assert error["details"]["field"] == "options.delimiter"


def test_unknown_format_is_422(service, street):
    error = assert_envelope(api(service, "POST", f"/datasets/{street['id']}/export", json={"format": "xlsx"}),
                            422, "VALIDATION_ERROR")
    assert "format" in error["message"]


def test_export_count_and_latest_export(service):
    dataset = new_dataset(service, "park-scenes")
    first = _export(service, dataset["id"], format="csv")
    second = _export(service, dataset["id"], format="yolo")
    got = api(service, "GET", f"/datasets/{dataset['id']}").json()
    assert got["export_count"] == 2
    assert got["latest_export"] == {"export_id": second["export_id"], "format": "yolo",
                                    "created_at": second["exported_at"]}
    assert first["export_id"] != second["export_id"]


def test_twenty_concurrent_exports_all_succeed(service):
    dataset = new_dataset(service, "park-scenes")
    formats = list(TYPES) * 5
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda f: api(service, "POST", f"/datasets/{dataset['id']}/export",
                                                json={"format": f}), formats))
    assert [r.status_code for r in responses] == [200] * 20
    exports = [r.json() for r in responses]
    assert len({e["export_id"] for e in exports}) == 20
    assert api(service, "GET", f"/datasets/{dataset['id']}").json()["export_count"] == 20
    for export in exports[:4]:
        assert len(requests.get(export["download_url"], timeout=30).content) == export["file_size_bytes"]


def _parts(url: str) -> tuple[str, dict[str, str]]:
    split = urlsplit(url)
    return split.path, {k: v[0] for k, v in parse_qs(split.query).items()}


def test_signed_url_tampering_and_expiry(service, street):
    export = _export(service, street["id"], format="csv")
    path, q = _parts(export["download_url"])
    root = service.root_url
    assert set(q) == {"expires", "signature"} and int(q["expires"]) > time.time()
    flipped = q["signature"][:-1] + ("0" if q["signature"][-1] != "0" else "1")
    cases = [
        {"expires": q["expires"], "signature": flipped},
        {"expires": str(int(q["expires"]) + 3600), "signature": q["signature"]},
        {"expires": q["expires"], "signature": "zz"},
        {"expires": q["expires"], "signature": "ä" * 64},
    ]
    for params in cases:
        assert_envelope(requests.get(root + path, params=params, timeout=10), 403, "INVALID_SIGNATURE")
    other_name = path.rsplit("/", 1)[0] + "/other.csv"
    assert_envelope(requests.get(root + other_name, params=q, timeout=10), 403, "INVALID_SIGNATURE")
    assert_envelope(requests.get(root + path, timeout=10), 422, "VALIDATION_ERROR")
    # a correctly signed URL whose time is up (signed with the data dir's own secret)
    signer = Signer(load_or_create_secret(service.data_dir))
    resource = path.removeprefix("/exports/")
    past = int(time.time()) - 10
    error = assert_envelope(requests.get(root + path, params={"expires": past, "signature": signer.sign(resource, past)},
                                         timeout=10), 403, "URL_EXPIRED")
    assert error["details"]["expired_at"] == past


def test_no_path_outside_the_export_store(service, street):
    signer = Signer(load_or_create_secret(service.data_dir))
    export = _export(service, street["id"], format="csv")
    export_id = export["export_id"]
    exp = int(time.time()) + 600
    for resource in (f"{export_id}/../../aion.sqlite3", "../signing_key", f"{export_id}/..%2F..%2Fsigning_key",
                     "..%2F..%2Fsigning_key/x"):
        resp = requests.get(f"{service.root_url}/exports/{resource}",
                            params={"expires": exp, "signature": signer.sign(resource, exp)}, timeout=10)
        assert resp.status_code in (403, 404), resource
        assert b"SQLite" not in resp.content and resp.json()["error"]["code"] in (
            "NOT_FOUND", "INVALID_SIGNATURE")
    # even a valid signature for a name that is not the export's own file is refused
    bogus = f"{export_id}/signing_key"
    resp = requests.get(f"{service.root_url}/exports/{bogus}",
                        params={"expires": exp, "signature": signer.sign(bogus, exp)}, timeout=10)
    assert_envelope(resp, 404, "NOT_FOUND")


def test_range_requests(service, street):
    export = _export(service, street["id"], format="coco")
    whole = requests.get(export["download_url"], timeout=30).content
    part = requests.get(export["download_url"], headers={"Range": "bytes=10-99"}, timeout=30)
    assert part.status_code == 206
    assert part.content == whole[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{len(whole)}"
    tail = requests.get(export["download_url"], headers={"Range": "bytes=-16"}, timeout=30)
    assert tail.status_code == 206 and tail.content == whole[-16:]
    head = requests.head(export["download_url"], timeout=30)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(whole) and not head.content
    assert head.headers["accept-ranges"] == "bytes"
    assert_envelope(requests.get(export["download_url"], headers={"Range": f"bytes={len(whole) + 5}-"},
                                 timeout=30), 416, "RANGE_NOT_SATISFIABLE")


def test_a_delimiter_the_csv_writer_cannot_use_is_refused_up_front(service):
    """The CSV writer takes one ASCII character: anything else is a 422, not a failed export (found by schemathesis)."""
    dataset = api(service, "GET", "/datasets", params={"status": "ready"}).json()["datasets"][0]
    for delimiter in ("ö", '"', "\n"):
        resp = api(service, "POST", f"/datasets/{dataset['id']}/export",
                   json={"format": "csv", "options": {"delimiter": delimiter}})
        assert assert_envelope(resp, 422, "VALIDATION_ERROR")["details"]["field"] == "options.delimiter"
    resp = api(service, "POST", "/datasets", json={"batch_id": dataset["batch_id"], "name": "x",
                                                   "format_config": {"csv_delimiter": "ö"}})
    assert assert_envelope(resp, 422, "VALIDATION_ERROR")["details"]["field"] == "format_config.csv_delimiter"
