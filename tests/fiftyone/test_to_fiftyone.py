"""to_fiftyone against a real service, a real export, real image downloads and a real FiftyOne DB."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aion_pandas as aion
from aion_pandas.fiftyone import MissingImagesWarning, fetch_images, to_fiftyone

fo = pytest.importorskip("fiftyone")
pytestmark = pytest.mark.fiftyone


def _frame_boxes(frame: pd.DataFrame) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The frame's boxes (pixels), labels and scores in image order, then row order."""
    boxes = frame[frame["x"].notna()]
    order = np.argsort(boxes["image_id"].to_numpy(), kind="stable")
    boxes = boxes.iloc[order]
    return (boxes[["x", "y", "w", "h"]].to_numpy(dtype="float64"), boxes["category"].astype(str).tolist(),
            boxes["score"].to_numpy(dtype="float64", na_value=np.nan))


def _dataset_boxes(dataset) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The dataset's boxes back in pixels (relative box times the sample's metadata size), by image_id."""
    view = dataset.sort_by("image_id")
    rows, labels, scores = [], [], []
    for rel, lab, conf, w, h in zip(*view.values(["ground_truth.detections.bounding_box",
                                                   "ground_truth.detections.label",
                                                   "ground_truth.detections.confidence",
                                                   "metadata.width", "metadata.height"])):
        for box in rel:
            rows.append([box[0] * w, box[1] * h, box[2] * w, box[3] * h])
        labels += lab
        scores += [np.nan if c is None else c for c in conf]
    return np.array(rows, dtype="float64").reshape(-1, 4), labels, np.array(scores, dtype="float64")


def test_export_file_to_fiftyone_keeps_every_image_and_box(coco_export, fo_client):
    doc = coco_export.doc
    frame = aion.read_export(coco_export.path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingImagesWarning)
        dataset = to_fiftyone(coco_export.path, client=fo_client, name="demo-coco")

    assert dataset.name == "demo-coco"
    assert len(dataset) == len(doc["images"]) == frame["image_id"].nunique()
    assert dataset.count("ground_truth.detections") == len(doc["annotations"])
    empty = len(doc["images"]) - len({a["image_id"] for a in doc["annotations"]})
    assert empty > 0, "the demo dataset should have images without boxes"
    assert len(dataset.match(fo.ViewField("ground_truth.detections").length() == 0)) == empty

    want, want_labels, want_scores = _frame_boxes(frame)
    got, got_labels, got_scores = _dataset_boxes(dataset)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert got_labels == want_labels
    np.testing.assert_allclose(got_scores, want_scores, rtol=0, atol=1e-12)
    assert dataset.default_classes == sorted(c["name"] for c in doc["categories"])

    images = {i["id"]: i for i in doc["images"]}
    for sample in dataset.select_fields(["image_id", "metadata", "description", "aion_dataset_id", "image_url"]):
        image = images[sample.image_id]
        assert (sample.metadata.width, sample.metadata.height) == (image["width"], image["height"])
        assert sample.image_url == image["coco_url"]
        assert sample.aion_dataset_id == coco_export.result.dataset_id
        assert sample.description == image.get("description")
        assert sorted(sample.tags) == sorted(image.get("tags") or [])
    assert dataset.persistent is False


def test_pixels_are_the_services_images_and_the_cache_is_reused(coco_export, fo_client, tmp_path):
    from aion_pandas.client import Client

    cache = tmp_path / "cache"
    frame = aion.read_export(coco_export.path)
    first = to_fiftyone(frame, client=fo_client, cache_dir=cache)
    paths = first.values("filepath")
    assert all(os.path.isfile(p) and Path(p).is_relative_to(cache) for p in paths)
    sample = first.first()
    assert Path(sample.filepath).read_bytes() == fo_client.get_bytes(sample.image_url)
    stamps = {p: os.stat(p).st_mtime_ns for p in paths}

    # a client whose service is gone: everything comes from the cache, nothing is missing
    dead = Client(KEY_FOR_DEAD, "http://127.0.0.1:9/api/v2", max_retries=0, timeout=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingImagesWarning)
        second = to_fiftyone(frame, client=dead, cache_dir=cache)
    assert second.values("filepath") == paths
    assert {p: os.stat(p).st_mtime_ns for p in paths} == stamps


KEY_FOR_DEAD = "aion_nobody_listens_here_0000000000"


def test_a_missing_image_is_named_and_its_sample_kept(coco_export, fo_client, tmp_path):
    frame = aion.read_export(coco_export.path)
    first_id = frame["image_id"].min()
    gone = frame.loc[frame["image_id"] == first_id, "file_name"].iloc[0]
    url = frame.loc[frame["image_id"] == first_id, "image_url"].iloc[0]
    broken = url.rsplit("/user-files/", 1)[0] + "/user-files/no-such-file/download"
    frame.loc[frame["image_id"] == first_id, "image_url"] = broken

    with pytest.warns(MissingImagesWarning, match=f"1 image.*{gone}"):
        dataset = to_fiftyone(frame, client=fo_client, cache_dir=tmp_path)
    assert len(dataset) == frame["image_id"].nunique()
    assert dataset.count("ground_truth.detections") == int(frame["x"].notna().sum())
    assert dataset.info["missing_images"] == [gone]
    missing_sample = dataset.match(fo.ViewField("image_id") == int(first_id)).first()
    assert not os.path.exists(missing_sample.filepath)


def test_from_signed_url_and_bytes(coco_export, fo_client, tmp_path):
    by_url = to_fiftyone(coco_export.result.download_url, client=fo_client, cache_dir=tmp_path)
    by_bytes = to_fiftyone(coco_export.path.read_bytes(), client=fo_client, cache_dir=tmp_path)
    for dataset in (by_url, by_bytes):
        assert len(dataset) == len(coco_export.doc["images"])
        assert dataset.count("ground_truth.detections") == len(coco_export.doc["annotations"])
    assert sorted(by_url.values("filepath")) == sorted(by_bytes.values("filepath"))


def test_accessor_on_a_datasets_frame(fo_client, coco_export, tmp_path):
    frame = aion.datasets(client=fo_client)
    one = frame.loc[[coco_export.result.dataset_id]]
    dataset = one.aion.to_fiftyone("coco", name="via-accessor", client=fo_client, cache_dir=tmp_path)
    assert dataset.name == "via-accessor"
    assert len(dataset) == len(coco_export.doc["images"])
    assert dataset.count("ground_truth.detections") == len(coco_export.doc["annotations"])
    assert set(dataset.distinct("aion_dataset_id")) == {coco_export.result.dataset_id}


# ---------------------------------------------------------------------------------------------
# frames from elsewhere: local images, flags, names


@pytest.fixture
def local_frame(tmp_path):
    from PIL import Image

    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    for name, size in (("a.png", (40, 30)), ("sub/b.png", (20, 10)), ("c é.png", (8, 8))):
        Image.new("RGB", size, "red").save(folder / name)
    raw = pd.DataFrame({
        "file_name": ["a.png", "a.png", "sub/b.png", "c é.png"],
        "width": [40, 40, 20, None], "height": [30, 30, 10, None],
        "category": ["cat", "dog", "cat", None],
        "x": [1.5, 2, 0, None], "y": [1, 2.25, 0, None], "w": [10, 5, 20, None], "h": [3, 4, 10, None],
        "score": [0.9, None, 0.25, None],
        "iscrowd": [True, False, None, None], "difficult": [False, True, False, None],
        "description": ["first", "first", None, "third"], "tags": [["x"], ["x"], [], ["y", "z"]],
    })
    return raw, folder


@pytest.mark.parametrize("method", ["bulk", "objects"])
def test_local_frame_fields_flags_and_sizes(local_frame, method):
    raw, folder = local_frame
    dataset = to_fiftyone(raw, images_dir=folder, method=method, name=f"local-{method}")
    view = dataset.sort_by("image_id")
    assert view.values("filepath") == [str(folder / n) for n in ("a.png", "c é.png", "sub/b.png")]
    assert view.values("ground_truth.detections.label") == [["cat", "dog"], [], ["cat"]]
    assert view.values("ground_truth.detections.confidence") == [[0.9, None], [], [0.25]]
    assert view.values("ground_truth.detections.iscrowd") == [[True, False], [], [None]]
    assert view.values("ground_truth.detections.difficult") == [[False, True], [], [False]]
    assert view.values("description") == ["first", "third", None]
    assert view.values("tags") == [["x"], ["y", "z"], []]
    # the size the frame lacks is read from the image file
    assert view.values("metadata.width") == [40, 8, 20]
    np.testing.assert_allclose(view.values("ground_truth.detections.bounding_box")[0],
                               [[1.5 / 40, 1 / 30, 10 / 40, 3 / 30], [2 / 40, 2.25 / 30, 5 / 40, 4 / 30]],
                               rtol=0, atol=1e-15)
    # what FiftyOne reads back is a real Detection, usable by its own tools
    det = view.first().ground_truth.detections[0]
    assert isinstance(det, fo.Detection) and det.label == "cat" and det["iscrowd"] is True
    assert dataset.count_values("ground_truth.detections.label") == {"cat": 2, "dog": 1}


def test_names_overwrite_and_persistence(local_frame):
    raw, folder = local_frame
    dataset = to_fiftyone(raw, images_dir=folder, name="named", persistent=True)
    assert dataset.persistent is True
    with pytest.raises(ValueError, match="named.*overwrite=True"):
        to_fiftyone(raw, images_dir=folder, name="named")
    again = to_fiftyone(raw.iloc[:2], images_dir=folder, name="named", overwrite=True)
    assert len(again) == 1 and fo.load_dataset("named").count() == 1
    unnamed = [to_fiftyone(raw, images_dir=folder) for _ in range(2)]
    assert unnamed[0].name != unnamed[1].name


def test_bad_input_is_refused_before_anything_is_made(local_frame):
    raw, folder = local_frame
    before = set(fo.list_datasets())
    with pytest.raises(aion.FormatError, match="'w' row 0: negative box size"):
        to_fiftyone(raw.assign(w=[-1, 5, 20, None]), images_dir=folder)
    with pytest.raises(ValueError, match="method"):
        to_fiftyone(raw, images_dir=folder, method="fast")
    assert set(fo.list_datasets()) == before


def test_fetch_images_reads_relative_paths_from_the_exports_folder(local_frame, tmp_path):
    raw, folder = local_frame
    images = raw.drop_duplicates("file_name")
    paths, missing = fetch_images(images, relative_to=folder)
    assert paths == [str(folder / n) for n in images["file_name"]]
    assert missing == {}
    paths, missing = fetch_images(images.assign(file_name=["a.png", "nope.png", "c é.png"]),
                                  relative_to=folder)
    assert missing == {"nope.png": "no such file"}


@pytest.mark.parametrize("fmt, atol", [("csv", 1e-9), ("yolo", 1e-3), ("pascal_voc", 1.0)])
def test_every_export_format_gives_the_same_samples_and_boxes(fmt, atol, coco_export, fo_client, tmp_path):
    export = fo_client.datasets.export(coco_export.result.dataset_id, fmt)
    dataset = to_fiftyone(export.download_url, client=fo_client, cache_dir=tmp_path, name=f"fmt-{fmt}")
    reference = to_fiftyone(coco_export.path, client=fo_client, cache_dir=tmp_path, name="fmt-coco")
    assert len(dataset) == len(coco_export.doc["images"])
    assert dataset.count("ground_truth.detections") == len(coco_export.doc["annotations"])
    per_image = {}
    for name, ds in (("got", dataset), ("want", reference)):
        view = ds.sort_by("image_id")
        for image_id, rel, labels, w, h in zip(*view.values(["image_id", "ground_truth.detections.bounding_box",
                                                              "ground_truth.detections.label",
                                                              "metadata.width", "metadata.height"])):
            # boxes within an image may come in another order: sort them by label and position
            boxes = sorted((lab, b[0] * w, b[1] * h, b[2] * w, b[3] * h) for lab, b in zip(labels, rel))
            per_image.setdefault(image_id, {})[name] = boxes
    for image_id, both in per_image.items():
        assert [b[0] for b in both["got"]] == [b[0] for b in both["want"]], image_id
        np.testing.assert_allclose(np.array([b[1:] for b in both["got"]]).reshape(-1, 4),
                                   np.array([b[1:] for b in both["want"]]).reshape(-1, 4), rtol=0, atol=atol)
    assert sorted(dataset.values("filepath")) == sorted(reference.values("filepath"))


def test_images_of_two_datasets_with_the_same_ids_stay_apart(local_frame):
    raw, folder = local_frame
    one = raw.assign(dataset_id="first", image_id=[1, 1, 2, 3])
    two = raw.iloc[:2].assign(dataset_id="second", image_id=[1, 1], category=["bird", "bird"])
    dataset = to_fiftyone(pd.concat([one, two], ignore_index=True), images_dir=folder)
    assert len(dataset) == 4
    assert dataset.count_values("aion_dataset_id") == {"first": 3, "second": 1}
    second = dataset.match(fo.ViewField("aion_dataset_id") == "second").first()
    assert second.ground_truth.detections[0].label == "bird" and len(second.ground_truth.detections) == 2
    assert dataset.count("ground_truth.detections") == 5
