"""COCO: the pure parse/serialize pair, the cases users trip on, bad input, pycocotools."""
from __future__ import annotations

import contextlib
import io
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from aion_pandas.errors import FormatError
from aion_pandas.formats import LossyConversionWarning, coco_parse, parse_coco, read_coco, serialize_coco, \
    write_coco

from .helpers import boxes_by_image


def _doc(annotations=None, images=None, categories=None, **extra):
    return {
        "images": images if images is not None else [
            {"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
            {"id": 2, "file_name": "b.jpg", "width": 50, "height": 40}],
        "annotations": annotations if annotations is not None else [
            {"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4], "area": 12, "iscrowd": 0}],
        "categories": categories if categories is not None else [{"id": 3, "name": "cat"}],
        **extra,
    }


@pytest.mark.parametrize("categories, annotation_cat, expected_name", [
    ([{"id": 0, "name": "zero"}, {"id": 1, "name": "one"}], 0, "zero"),          # ids start at 0
    ([{"id": 5, "name": "five"}, {"id": 90, "name": "ninety"}], 90, "ninety"),   # not contiguous
    ([{"id": 90, "name": "b"}, {"id": 5, "name": "a"}], 90, "b"),                # listed unsorted
])
def test_category_ids_as_in_the_file(categories, annotation_cat, expected_name):
    doc = _doc([{"id": 1, "image_id": 1, "category_id": annotation_cat, "bbox": [0, 0, 1, 1]}],
               categories=categories)
    frame = parse_coco(doc)
    box = frame[frame["x"].notna()].iloc[0]
    assert box["category"] == expected_name and box["category_id"] == annotation_cat
    assert set(frame["category"].cat.categories) == {c["name"] for c in categories}


def test_every_image_kept_and_rows_in_image_order():
    doc = _doc([{"id": 9, "image_id": 2, "category_id": 3, "bbox": [5, 5, 1, 1]},
                {"id": 8, "image_id": 1, "category_id": 3, "bbox": [1, 1, 1, 1]}],
               images=[{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"},
                       {"id": 3, "file_name": "empty.jpg"}])
    frame = parse_coco(doc)
    assert frame["file_name"].tolist() == ["a.jpg", "b.jpg", "empty.jpg"]
    assert frame["x"].tolist()[:2] == [1.0, 5.0] and np.isnan(frame["x"].iloc[2])
    assert frame["category"].isna().tolist() == [False, False, True]
    assert frame["width"].isna().all()  # the file did not say


def test_category_without_annotations_survives_a_round_trip():
    doc = _doc(categories=[{"id": 3, "name": "cat"}, {"id": 1, "name": "root", "supercategory": "thing"}])
    frame = parse_coco(doc)
    assert list(frame["category"].cat.categories) == ["root", "cat"]  # by id
    back = json.loads(serialize_coco(frame))
    assert back["categories"] == [{"id": 1, "name": "root", "supercategory": "thing"},
                                  {"id": 3, "name": "cat", "supercategory": "none"}]


def test_iscrowd_area_and_score():
    doc = _doc([{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 2, 2], "iscrowd": 1,
                 "area": 3.5, "score": 0.25},
                {"id": 2, "image_id": 1, "category_id": 3, "bbox": [0, 0, 2, 3]}])
    frame = parse_coco(doc)
    boxes = frame[frame["x"].notna()]
    assert boxes["iscrowd"].tolist() == [True, False]
    assert boxes["area"].tolist()[0] == 3.5 and np.isnan(boxes["area"].tolist()[1])
    assert boxes["score"].tolist()[0] == 0.25 and np.isnan(boxes["score"].tolist()[1])
    out = json.loads(serialize_coco(frame))["annotations"]
    assert [a["iscrowd"] for a in out] == [1, 0]
    assert [a["area"] for a in out] == [3.5, 6]           # w*h when the file had none
    assert "score" in out[0] and "score" not in out[1]


def test_unicode_and_nested_file_names_and_image_extras():
    doc = _doc(images=[{"id": 1, "file_name": "données/été/ü 1.jpg", "width": 4, "height": 3,
                        "coco_url": "http://h/x", "aion_item_id": "it", "aion_item_status": "completed",
                        "description": "a \"quoted\"\nline", "tags": ["é", "b"]}])
    frame = parse_coco(json.dumps(doc, ensure_ascii=False).encode())
    row = frame.iloc[0]
    assert row["file_name"] == "données/été/ü 1.jpg" and row["image_url"] == "http://h/x"
    assert row["item_id"] == "it" and row["tags"] == ["é", "b"]
    again = parse_coco(serialize_coco(frame))
    pd.testing.assert_frame_equal(again.drop(columns=["area"]), frame.drop(columns=["area"]))


@pytest.mark.parametrize("data, words, line", [
    (b'{"images": [\n{"id": 1, "file_name": "a.jpg"},\n{"id": 2 "file_name": "b"}]}', "malformed JSON", 3),
    (b'{"images": [], "annotations": [}', "malformed JSON", 1),
    (b'', "malformed JSON", None),
])
def test_malformed_json_names_the_line(data, words, line):
    with pytest.raises(FormatError) as info:
        read_coco(data)
    assert words in str(info.value) and info.value.line == line
    assert info.value.path == "<bytes>"


@pytest.mark.parametrize("doc, words", [
    (_doc([{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, -1, 2]}]),
     "$.annotations[0]: negative box size"),
    (_doc([{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 1, 1]},
           {"id": 2, "image_id": 77, "category_id": 3, "bbox": [0, 0, 1, 1]}]),
     "$.annotations[1]: image_id 77 is not in images"),
    (_doc([{"id": 1, "image_id": 1, "category_id": 4, "bbox": [0, 0, 1, 1]}]),
     "$.annotations[0]: category_id 4 is not in categories"),
    (_doc([{"id": 1, "image_id": 1, "bbox": [0, 0, 1, 1]}]), "`category_id` - at `$.annotations[0]`"),
    (_doc([{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 1, 1]}, {"id": 2, "image_id": 1, "category_id": 3}]),
     "`bbox` - at `$.annotations[1]`"),  # (no annotation with a bbox at all: a file of image-level labels)
    (_doc([{"id": 1, "image_id": 1, "category_id": 3, "bbox": [0, 0, 1]}]), "$.annotations[0].bbox"),
    ({"annotations": []}, "`images`"),
    (_doc(images=[{"id": 1, "file_name": "a"}, {"id": 1, "file_name": "b"}]), "$.images[1]: duplicate id 1"),
    (_doc(categories=[{"id": 3, "name": "cat"}, {"id": 4, "name": "cat"}]), "used by ids 3 and 4"),
    (_doc(images=[{"id": 1, "file_name": "a", "width": 2.5}]), "$.images[0].width"),
])
def test_bad_documents_name_where_and_what(doc, words):
    with pytest.raises(FormatError) as info:
        read_coco(json.dumps(doc).encode())
    assert words in str(info.value)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="no such file"):
        read_coco(tmp_path / "nope.json")


def _many(n_images=40, per_image=30, extra=""):
    images = [{"id": i, "file_name": f"d/{i}.jpg", "width": 100, "height": 100} for i in range(1, n_images + 1)]
    anns = [{"id": k, "image_id": 1 + k % n_images, "category_id": 1 + k % 3,
             "bbox": [k % 50, k % 40, 1 + k % 7, 2.5], **({"attributes": [{"a": k}, {"b": "},{"}]} if extra else {})}
            for k in range(n_images * per_image)]
    cats = [{"id": c, "name": f"c{c}"} for c in (1, 2, 3)]
    return {"images": images, "annotations": anns, "categories": cats}


@pytest.mark.parametrize("extra", ["", "nested objects that a fast cut would split"])
def test_pieces_give_the_same_frame_as_one_piece(monkeypatch, extra):
    data = json.dumps(_many(extra=extra), indent=1).encode()
    whole = parse_coco(data)
    monkeypatch.setattr(coco_parse, "PIECE", 7)  # many pieces, cut at odd places
    pieces = parse_coco(data)
    pd.testing.assert_frame_equal(whole, pieces)
    assert len(whole) == 40 * 30


def _rows_by_hand(doc):
    """The frame's rows as plain tuples, built the slow obvious way from the JSON document."""
    rows = []
    for image in doc["images"]:
        anns = [a for a in doc["annotations"] if a["image_id"] == image["id"]]
        for a in anns:
            area, score = a.get("area"), a.get("score")
            rows.append((image["id"], image["file_name"], a["category_id"], *map(float, a["bbox"]),
                         float("nan") if area is None else float(area),
                         float("nan") if score is None else float(score), bool(a.get("iscrowd"))))
        if not anns:
            rows.append((image["id"], image["file_name"], None, *[float("nan")] * 6, None))
    return rows


@pytest.mark.parametrize("order", ["by image", "shuffled"])
@pytest.mark.parametrize("chunk", [None, 7])
def test_rows_placed_like_by_hand(monkeypatch, order, chunk):
    rng = np.random.default_rng(7)
    images = [{"id": int(i), "file_name": f"{i}.jpg"} for i in rng.permutation(np.arange(5, 65))]
    with_boxes = [im["id"] for im in images[::3]] + [im["id"] for im in images[1::3]]  # a third stay empty
    anns = [{"id": k, "image_id": int(rng.choice(with_boxes)), "category_id": int(rng.choice([3, 7])),
             "bbox": [int(rng.integers(0, 9)), float(rng.random()), 1.5, 2],
             **({"area": [None, 4, 2.5][k % 3]} if k % 2 else {}),
             **({"score": [None, 0.5][k % 2]} if k % 5 == 0 else {}),
             **({"iscrowd": [0, 1, True, False, None][k % 5]} if k % 4 else {})}
            for k in range(400)]
    anns[0]["image_id"] = with_boxes[-1]
    if order == "by image":
        position = {im["id"]: i for i, im in enumerate(images)}
        anns.sort(key=lambda a: position[a["image_id"]])
    doc = {"images": images, "annotations": anns, "categories": [{"id": 7, "name": "b"}, {"id": 3, "name": "a"}]}
    if chunk:
        monkeypatch.setattr(coco_parse, "PIECE", chunk)
    frame = parse_coco(json.dumps(doc).encode())
    columns = ["image_id", "file_name", "category_id", "x", "y", "w", "h", "area", "score", "iscrowd"]
    got = [tuple(None if v is pd.NA else v for v in row) for row in frame[columns].astype(object).itertuples(index=False)]
    want = _rows_by_hand(doc)
    assert len(got) == len(want) == 400 + 20
    for g, w in zip(got, want):
        assert g[:3] == w[:3] and g[-1] == w[-1]
        np.testing.assert_array_equal(np.array(g[3:9], float), np.array(w[3:9], float))
    assert frame["category"].astype(object).where(frame["category_id"].notna(), None).tolist() == \
        [{3: "a", 7: "b"}.get(w[2]) for w in want]


def test_error_index_is_exact_in_a_later_piece(monkeypatch):
    doc = _many()
    del doc["annotations"][1000]["bbox"]
    monkeypatch.setattr(coco_parse, "PIECE", 64)
    with pytest.raises(FormatError, match=r"`bbox` - at `\$\.annotations\[1000\]`"):
        parse_coco(json.dumps(doc).encode())


def test_writer_reports_what_coco_cannot_carry(sample_frame, tmp_path):
    frame = sample_frame.assign(difficult=[True, False, None, False, False, False],
                                note=["x", "x", None, None, None, None])
    with pytest.warns(LossyConversionWarning, match=r"coco cannot carry: difficult \(1 box\), note \(1 image\)$"):
        write_coco(frame, tmp_path / "x.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_coco(sample_frame, tmp_path / "y.json")  # everything fits: no warning


def test_write_read_round_trip_keeps_everything(sample_frame, tmp_path):
    path = tmp_path / "out.json"
    write_coco(sample_frame, path)
    frame = read_coco(path)
    assert frame.attrs["format"] == "coco" and frame.attrs["source"] == str(path)
    assert boxes_by_image(frame) == boxes_by_image(sample_frame)
    assert dict(zip(frame["category"].cat.categories, [frame.attrs["category_ids"][c] for c in
                                                      frame["category"].cat.categories])) == \
        {"cat": 0, "chien": 7, "自転車": 42, "root": 99}
    for column in ("dataset_id", "image_id", "file_name", "width", "height", "category_id", "score",
                   "iscrowd", "description", "image_url", "item_id", "item_status"):
        pd.testing.assert_series_equal(frame[column], sample_frame[column], check_names=False), column
    assert frame["tags"].tolist() == sample_frame["tags"].tolist()
    assert not list(tmp_path.glob(".*tmp"))  # written to a temp name, then renamed


def test_writer_takes_a_binary_file_and_assigns_ids_when_missing(sample_frame):
    buf = io.BytesIO()
    frame = sample_frame.drop(columns=["category_id"]).assign(dataset_id=None)
    frame.attrs = {}  # no ids anywhere: names sorted, 1..K (the service's rule)
    write_coco(frame, buf)
    doc = json.loads(buf.getvalue())
    assert [c["name"] for c in doc["categories"]] == ["cat", "chien", "root", "自転車"]
    assert [c["id"] for c in doc["categories"]] == [1, 2, 3, 4]   # names sorted, 1..K
    assert {a["category_id"] for a in doc["annotations"]} == {1, 2, 4}


def test_an_empty_frame_is_an_empty_document():  # (its empty width column once read as infinite)
    doc = json.loads(serialize_coco(parse_coco({"images": []})))
    assert doc["images"] == doc["annotations"] == doc["categories"] == []


def test_frames_put_together_with_concat_are_written_whole():
    """pd.concat leaves string[pyarrow] columns in several chunks; every line of each is written."""
    one = pd.DataFrame({"file_name": ["a.jpg", "b.jpg"], "width": [4, 4], "height": [3, 3],
                        "category": ["cat", "dog"], "x": [0.0, 1.0], "y": [0.0, 1.0], "w": [1.0, 2.0],
                        "h": [1.0, 2.0], "description": pd.array(["x", "y"], dtype="string[pyarrow]")})
    frame = pd.concat([one, one.assign(file_name=["c.jpg", "d.jpg"])], ignore_index=True)
    doc = json.loads(serialize_coco(frame))
    assert [i["file_name"] for i in doc["images"]] == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    assert [i["description"] for i in doc["images"]] == ["x", "y", "x", "y"]
    assert [a["bbox"] for a in doc["annotations"]] == [[0, 0, 1, 1], [1, 1, 2, 2]] * 2


def test_two_datasets_get_distinct_image_ids(sample_frame):
    other = sample_frame.assign(dataset_id="ds_2")
    both = pd.concat([sample_frame, other], ignore_index=True)
    with pytest.warns(LossyConversionWarning, match="dataset_id"):
        doc = json.loads(_write(both))
    assert len({i["id"] for i in doc["images"]}) == 6 and len(doc["annotations"]) == 10


def _write(frame):
    buf = io.BytesIO()
    write_coco(frame, buf)
    return buf.getvalue()


def test_pycocotools_loads_our_coco(sample_frame, tmp_path):
    from pycocotools.coco import COCO

    path = tmp_path / "out.json"
    write_coco(sample_frame, path)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    assert sorted(coco.getImgIds()) == [1, 2, 3]
    assert len(coco.getAnnIds()) == 5 and coco.getAnnIds(imgIds=[2]) == []
    assert coco.getAnnIds(iscrowd=False) and len(coco.getAnnIds(iscrowd=False)) == 4
    cats = {c["name"]: c["id"] for c in coco.loadCats(coco.getCatIds())}
    assert cats == {"cat": 0, "chien": 7, "自転車": 42, "root": 99}
    got = sorted((coco.imgs[a["image_id"]]["file_name"], *a["bbox"]) for a in coco.loadAnns(coco.getAnnIds()))
    boxes = sample_frame[sample_frame["x"].notna()]
    want = sorted(zip(boxes["file_name"], boxes["x"], boxes["y"], boxes["w"], boxes["h"]))
    assert got == want


_ANN = {"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 2, 3, 4]}


@pytest.mark.parametrize("text", [
    # the annotations array first, in the middle, last; pretty-printed; a look-alike in a string
    json.dumps({"annotations": [_ANN], "images": _doc()["images"], "categories": _doc()["categories"]}),
    json.dumps({"images": _doc()["images"], "annotations": [_ANN], "categories": _doc()["categories"]}),
    json.dumps({"images": _doc()["images"], "categories": _doc()["categories"], "annotations": [_ANN]}),
    json.dumps(_doc([_ANN]), indent=4),
    json.dumps({"info": {"description": 'has "annotations": [ in it'}, **_doc([_ANN])}),
    json.dumps({"info": {"annotations": [{"x": 1}]}, **_doc([_ANN])}),
    json.dumps({"images": _doc()["images"], "annotations": [{**_ANN, "extra": {"images": [1]}}],
                "categories": _doc()["categories"]}),
])
def test_annotations_found_wherever_they_are(text):
    frame = parse_coco(text.encode())
    assert frame["x"].tolist()[0] == 1.0 and frame["x"].notna().sum() == 1
    assert frame["file_name"].tolist() == ["a.jpg", "b.jpg"]


@pytest.mark.parametrize("annotations", ["null", None])
def test_no_annotations_means_images_only(annotations):
    doc = _doc()
    if annotations is None:
        del doc["annotations"]
    else:
        doc["annotations"] = None
    frame = parse_coco(json.dumps(doc).encode())
    assert frame["file_name"].tolist() == ["a.jpg", "b.jpg"] and frame["x"].isna().all()


def _classic_coco():
    """A COCO file in the style of the 2017 release: licenses, segmentation polygons and RLE."""
    return {
        "info": {"description": "COCO 2017 Dataset", "year": 2017, "contributor": "COCO Consortium"},
        "licenses": [{"url": "http://creativecommons.org/licenses/by-nc-sa/2.0/", "id": 1, "name": "BY-NC-SA"}],
        "images": [
            {"license": 1, "file_name": "000000397133.jpg", "coco_url": "http://images.cocodataset.org/val2017/000000397133.jpg",
             "height": 427, "width": 640, "date_captured": "2013-11-14 17:02:52", "flickr_url": "http://x", "id": 397133},
            {"license": 1, "file_name": "000000037777.jpg", "height": 230, "width": 352, "id": 37777},
            {"license": 1, "file_name": "000000252219.jpg", "height": 428, "width": 640, "id": 252219},
        ],
        "annotations": [
            {"segmentation": [[224.24, 297.18, 228.29, 297.18, 234.91, 298.29, 224.24, 297.18]], "area": 702.1057,
             "iscrowd": 0, "image_id": 397133, "bbox": [217.62, 240.54, 38.99, 57.75], "category_id": 44, "id": 82445},
            {"segmentation": {"counts": [272, 2, 4, 4, 4, 4, 2, 9, 1, 2], "size": [230, 352]}, "area": 220834,
             "iscrowd": 1, "image_id": 37777, "bbox": [0, 34, 639, 388], "category_id": 1, "id": 900100037777},
            {"segmentation": {"counts": "PPYo0=j0", "size": [427, 640]}, "area": 37, "iscrowd": 1,
             "image_id": 397133, "bbox": [1.0, 2.0, 3.0, 4.0], "category_id": 1, "id": 900100397133},
            {"segmentation": [[10.0, 10.0, 20.0, 10.0, 20.0, 20.0]], "area": 50.0, "iscrowd": 0,
             "image_id": 37777, "bbox": [10.0, 10.0, 10.0, 10.0], "category_id": 44, "id": 1},
        ],
        "categories": [{"supercategory": "person", "id": 1, "name": "person"},
                       {"supercategory": "kitchen", "id": 44, "name": "bottle"},
                       {"supercategory": "animal", "id": 90, "name": "toothbrush"}],
    }


@pytest.mark.parametrize("indent", [None, 2])
def test_classic_coco_reads_to_the_boxes_pycocotools_sees(tmp_path, indent):
    from pycocotools.coco import COCO

    path = tmp_path / "instances_val2017.json"
    path.write_text(json.dumps(_classic_coco(), indent=indent))
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path))
    want = sorted((coco.imgs[a["image_id"]]["file_name"], coco.cats[a["category_id"]]["name"], *a["bbox"],
                   bool(a["iscrowd"]), a["area"]) for a in coco.loadAnns(coco.getAnnIds()))
    frame = read_coco(path)
    boxes = frame[frame["x"].notna()]
    got = sorted(zip(boxes["file_name"], boxes["category"].astype(str), boxes["x"], boxes["y"], boxes["w"],
                     boxes["h"], boxes["iscrowd"].astype(bool), boxes["area"]))
    assert got == want
    assert sorted(frame["file_name"].unique()) == sorted(i["file_name"] for i in coco.dataset["images"])
    assert frame.attrs["supercategories"] == {"person": "person", "bottle": "kitchen", "toothbrush": "animal"}
    assert frame.loc[frame["file_name"] == "000000252219.jpg", "x"].isna().all()  # no annotations
    assert frame["image_url"].iloc[0].startswith("http://images.cocodataset.org/")


@pytest.mark.parametrize("text, words", [
    ('{"images": [\n{"id": 1,, }]}', "line 2: malformed JSON"),
    ('{"images": [{"id": 1, "file_name": "a"}], "annotations": [{"image_id": 1, "bbox": [0, 0, 1, 1]}]}',
     "`category_id` - at `$.annotations[0]`"),
    ('{"images": [{"id": 1, "file_name": "a"}], "annotations": [{"image_id": 1, "category_id": 1, '
     '"bbox": [0, 0, -1, 1]}], "categories": [{"id": 1, "name": "c"}]}', "negative box size"),
])
def test_errors_from_a_file_name_it(tmp_path, text, words):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_coco(path)            # the file is memory-mapped: the error must still come out
    assert str(info.value).startswith(str(path)) and words in str(info.value)


@pytest.mark.parametrize("where", ["images", "categories"])  # annotation ids are not read
def test_an_id_past_64_bits_is_a_format_error(where):
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}],
           "categories": [{"id": 1, "name": "cat"}]}
    doc[where][0]["id"] = 2**63
    with pytest.raises(FormatError, match=r"x.json: a number does not fit in 64 bits"):
        parse_coco(json.dumps(doc).encode(), where="x.json")
