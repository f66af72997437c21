"""read_export / write_export: sniffing every kind of source, and every format through every other.

Round trips: format A -> frame -> format B -> frame must keep the boxes (to the precision B keeps),
every image (including images without boxes) and the category names; the four exports of one frame
read back equal up to what a format cannot carry.
"""
from __future__ import annotations

import http.server
import io
import itertools
import threading
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from aion_pandas.errors import FormatError
from aion_pandas.formats import LossyConversionWarning, read_export, sniff_format, write_export

from .helpers import boxes_by_image

FORMATS = ["coco", "csv", "yolo", "pascal_voc"]
SUFFIX = {"coco": ".json", "csv": ".csv", "yolo": ".zip", "pascal_voc": ".zip"}
# what each format keeps, beyond boxes, images and category names
KEEPS = {
    "coco": {"score", "iscrowd", "description", "tags", "image_url", "item_id", "item_status"},
    "csv": {"score", "iscrowd", "description", "tags", "image_url", "item_id", "item_status"},
    "yolo": {"score", "description", "tags", "image_url", "item_id", "item_status"},  # 6th field
    "pascal_voc": {"description", "tags", "image_url", "item_id", "item_status"},
}
# box precision each format keeps (pixels): YOLO stores normalized floats, VOC whole pixels
DIGITS = {"coco": 6, "csv": 6, "yolo": 3, "pascal_voc": 0}


def _write(frame, fmt, dest):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)
        write_export(frame, dest, fmt)


def _voc_pixels(frame):
    """VOC keeps whole-pixel corners: compare boxes rounded the way the writer rounds corners."""
    out = frame.copy()
    x2, y2 = (out["x"] + out["w"]).round(), (out["y"] + out["h"]).round()
    out["x"], out["y"] = out["x"].round(), out["y"].round()
    out["w"], out["h"] = x2 - out["x"], y2 - out["y"]
    return out


def _comparable(frame, digits):
    boxes = boxes_by_image(frame, digits=6)
    return {k: sorted((c, *(round(v, digits) for v in b)) for c, *b in v) for k, v in boxes.items()}


def _same(a, b, fmt):
    digits = DIGITS[fmt]
    if fmt == "pascal_voc":
        a, b = _voc_pixels(a), _voc_pixels(b)
    want, got = _comparable(a, digits), _comparable(b, digits)
    assert set(got) == set(want), "images differ"
    for name in want:
        if digits >= 3:
            assert got[name] == want[name], name
        else:  # within one pixel
            assert len(got[name]) == len(want[name]) and all(
                g[0] == w[0] and all(abs(x - y) <= 1 for x, y in zip(g[1:], w[1:]))
                for g, w in zip(got[name], want[name])), name
    assert set(a["category"].dropna().unique()) == set(b["category"].dropna().unique())


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_round_trips_and_is_sniffed(sample_frame, tmp_path, fmt):
    path = tmp_path / f"out{SUFFIX[fmt]}"
    _write(sample_frame, fmt, path)
    assert sniff_format(path.read_bytes()) == fmt
    frame = read_export(path)
    assert frame.attrs["format"] == fmt and frame.attrs["source"] == str(path)
    _same(sample_frame, frame, fmt)
    assert sorted(frame["file_name"].unique()) == sorted(sample_frame["file_name"].unique())
    for column in KEEPS[fmt]:
        per_image = frame.drop_duplicates("file_name").set_index("file_name")[column]
        want = sample_frame.drop_duplicates("file_name").set_index("file_name")[column]
        if column in ("score", "iscrowd"):
            per_box = frame.sort_values(["file_name", "x"])[column].tolist()
            assert [None if pd.isna(v) else v for v in per_box] == \
                [None if pd.isna(v) else v for v in sample_frame.sort_values(["file_name", "x"])[column]]
        else:
            assert per_image.reindex(want.index).tolist() == want.tolist(), column


@pytest.mark.parametrize("first, second", list(itertools.product(FORMATS, FORMATS)))
def test_every_format_through_every_format(sample_frame, tmp_path, first, second):
    a = tmp_path / f"a{SUFFIX[first]}"
    _write(sample_frame, first, a)
    frame_a = read_export(a)
    b = tmp_path / f"b{SUFFIX[second]}"
    _write(frame_a, second, b)
    frame_b = read_export(b)
    coarsest = min((first, second), key=lambda f: DIGITS[f])
    _same(frame_a, frame_b, coarsest)
    _same(sample_frame, frame_b, coarsest)


def test_four_exports_read_back_equal_up_to_what_they_carry(sample_frame, tmp_path):
    frames = {}
    for fmt in FORMATS:
        path = tmp_path / f"all{SUFFIX[fmt]}"
        _write(sample_frame, fmt, path)
        frames[fmt] = read_export(path)
    common = set.intersection(*(KEEPS[f] for f in FORMATS)) - {"tags"}
    base = frames["coco"].sort_values(["image_id", "x"]).reset_index(drop=True)
    for fmt, frame in frames.items():
        frame = frame.sort_values(["image_id", "x"]).reset_index(drop=True)
        assert frame["image_id"].tolist() == base["image_id"].tolist(), fmt
        for column in sorted(common) + ["file_name", "width", "height"]:
            assert frame[column].astype(object).tolist() == base[column].astype(object).tolist(), (fmt, column)
        _same(base, frame, "pascal_voc" if fmt == "pascal_voc" else "yolo" if fmt == "yolo" else "coco")


@pytest.mark.parametrize("fmt, lost", [
    ("pascal_voc", r"pascal_voc cannot carry: .*score \(5 boxes\)"),
    ("yolo", r"yolo cannot carry: iscrowd \(1 box\)"),
])
def test_conversions_report_what_is_lost(sample_frame, tmp_path, fmt, lost):
    with pytest.warns(LossyConversionWarning, match=lost):
        write_export(sample_frame, tmp_path / f"x{SUFFIX[fmt]}", fmt)


# ------------------------------------------------------------------ sources and sniffing


@pytest.fixture
def coco_bytes(sample_frame):
    buf = io.BytesIO()
    write_export(sample_frame, buf, "coco")
    return buf.getvalue()


def test_sources_path_str_bytes_and_file(coco_bytes, tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(coco_bytes)
    frames = [read_export(path), read_export(str(path)), read_export(coco_bytes),
              read_export(io.BytesIO(coco_bytes)), read_export(path, format="coco")]
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame.reset_index(drop=True), frames[0].reset_index(drop=True),
                                      check_like=False)
    with open(path, "rb") as fh:
        assert read_export(fh).attrs["source"] == str(path)


@pytest.mark.parametrize("data, fmt", [
    (b'  {"images": []}', "coco"), (b"\xef\xbb\xbf{}", "coco"), (b"file_name,x\n", "csv"),
])
def test_sniff_table(data, fmt):
    assert sniff_format(data) == fmt


def _zip(names):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name in names:
            archive.writestr(name, "")
    return buf.getvalue()


@pytest.mark.parametrize("names, fmt", [
    (["labels/a.txt"], "yolo"), (["export/labels/a.txt"], "yolo"), (["data.yaml"], "yolo"),
    (["Annotations/a.xml"], "pascal_voc"), (["VOC2012/Annotations/a.xml"], "pascal_voc"),
    (["labels\\a.txt"], "yolo"),  # Windows separators
])
def test_sniff_zips(names, fmt):
    assert sniff_format(_zip(names)) == fmt


def test_sniff_refuses_other_zips_and_unknown_formats(tmp_path):
    with pytest.raises(FormatError, match=r"^<bytes>: no YOLO label files, VOC .xml, COCO .json or "
                                          r"CSV files found \(found: readme.txt\)"):
        read_export(_zip(["readme.txt"]))
    path = tmp_path / "other.zip"
    path.write_bytes(_zip(["readme.txt"]))
    with pytest.raises(FormatError, match=f"^{path}: no YOLO label files"):
        read_export(path)
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(FormatError, match=f"^{path}: not a readable zip"):
        read_export(path)
    with pytest.raises(ValueError, match="unknown format 'parquet'"):
        read_export(b"{}", format="parquet")


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802 (stdlib name)
        path = self.path.split("?", 1)[0]
        body = self.files.get(path)
        if body is None or "signature=good" not in self.path:
            self.send_response(403)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_signed_url_is_downloaded_by_the_client_once_and_formats_knows_no_http(
        coco_bytes, http_server, tmp_path):
    import aion_pandas as aion
    from aion_pandas.errors import AionError

    _Handler.files["/exports/e1/dataset.json"] = coco_bytes
    url = f"{http_server}/exports/e1/dataset.json?expires=9999999999&signature=good"
    client = aion.Client(api_key="aion_test_key_000000000000", base_url=f"{http_server}/api/v2",
                         cache_dir=tmp_path / "cache", max_retries=0)
    frame = aion.read_export(url, client=client)
    assert frame.attrs == {**frame.attrs, "format": "coco", "source": f"{http_server}/exports/e1/dataset.json"}
    assert len(frame) == 6
    del _Handler.files["/exports/e1/dataset.json"]  # read again: from the client's cache
    assert len(aion.read_export(url, client=client)) == 6
    with pytest.raises(AionError) as info:
        aion.read_export(url.replace("e1", "e2").replace("good", "bad"), client=client)
    assert "signature=" not in str(info.value)  # the signature stays out of messages
    with pytest.raises(FormatError, match="a URL: read it with aion_pandas.read_export"):
        read_export(url)


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_bytes(b'{"images": [\n  {"id": 1, "file_name": }]}')
    with pytest.raises(FormatError) as info:
        read_export(path)
    assert str(info.value).startswith(f"{path} line 2: malformed JSON")


def test_write_export_to_every_kind_of_dest(sample_frame, tmp_path):
    _write(sample_frame, "coco", tmp_path / "a.json")
    _write(sample_frame, "coco", str(tmp_path / "b.json"))
    buf = io.BytesIO()
    _write(sample_frame, "coco", buf)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes() == buf.getvalue()
    with pytest.raises(ValueError, match="unknown format"):
        write_export(sample_frame, buf, "tfrecord")
    assert Path(tmp_path / "a.json").stat().st_size > 100
