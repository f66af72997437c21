"""FiftyOne's own COCO importer and exporter agree with our COCO reader and writer, box for box."""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

from aion_pandas.formats import LossyConversionWarning, read_coco, write_coco

pytestmark = pytest.mark.fiftyone


@pytest.fixture(scope="module")
def fo():
    import fiftyone

    return fiftyone


def _touch_images(root: Path, names) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def test_fiftyone_importer_reads_our_coco_to_the_same_boxes(fo, sample_frame, tmp_path):
    labels = tmp_path / "labels.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)
        write_coco(sample_frame, labels)
    _touch_images(tmp_path / "data", sample_frame["file_name"].unique())
    dataset = fo.Dataset.from_dir(dataset_type=fo.types.COCODetectionDataset,
                                  data_path=str(tmp_path / "data"), labels_path=str(labels),
                                  label_types="detections", label_field="gt")
    try:
        assert len(dataset) == 3  # the image without boxes is a sample too
        seen = 0
        for sample in dataset:
            name = Path(sample.filepath).relative_to((tmp_path / "data").resolve()).as_posix()
            rows = sample_frame[(sample_frame["file_name"] == name) & sample_frame["x"].notna()]
            dets = sample.gt.detections if sample.gt is not None else []
            assert len(dets) == len(rows), name
            width, height = int(rows["width"].iloc[0]) if len(rows) else 0, \
                int(rows["height"].iloc[0]) if len(rows) else 0
            ours = sorted((r.category, r.x, r.y, r.w, r.h, r.score, bool(r.iscrowd)) for r in rows.itertuples())
            theirs = sorted((d.label, d.bounding_box[0] * width, d.bounding_box[1] * height,
                             d.bounding_box[2] * width, d.bounding_box[3] * height, d.confidence,
                             bool(d.iscrowd)) for d in dets)
            for a, b in zip(ours, theirs):
                assert a[0] == b[0] and a[5] == b[5] and a[6] == b[6]
                assert all(math.isclose(u, v, abs_tol=1e-9) for u, v in zip(a[1:5], b[1:5]))
            seen += len(dets)
        assert seen == 5
        assert sorted(dataset.default_classes or dataset.info.get("classes", [])) == \
            sorted(["cat", "chien", "自転車", "root"])
    finally:
        dataset.delete()


def test_we_read_fiftyone_exported_coco_to_the_same_boxes(fo, tmp_path):
    dataset = fo.Dataset()
    specs = {
        "a/一.jpg": (640, 480, [("cat", [0.1, 0.2, 0.3, 0.4], 0.9), ("dog", [0.5, 0.5, 0.25, 0.125], None)]),
        "b.jpg": (100, 50, []),
        "c/d/e.png": (333, 500, [("dog", [0.0, 0.0, 1.0, 1.0], 0.5)]),
    }
    try:
        for name, (width, height, dets) in specs.items():
            sample = fo.Sample(filepath=str(tmp_path / "media" / name),
                               metadata=fo.ImageMetadata(width=width, height=height))
            sample["gt"] = fo.Detections(detections=[
                fo.Detection(label=label, bounding_box=box, confidence=score) for label, box, score in dets])
            dataset.add_sample(sample)
        labels = tmp_path / "fo_labels.json"
        dataset.export(dataset_type=fo.types.COCODetectionDataset, labels_path=str(labels),
                       label_field="gt", export_media=False, rel_dir=str(tmp_path / "media"))
        frame = read_coco(labels)
        assert sorted(frame["file_name"].unique()) == sorted(specs)  # every image, the empty one too
        for name, (width, height, dets) in specs.items():
            rows = frame[(frame["file_name"] == name) & frame["x"].notna()]
            assert len(rows) == len(dets), name
            assert set(rows["width"]) <= {width} and set(rows["height"]) <= {height}
            got = sorted((r.category, r.x, r.y, r.w, r.h) for r in rows.itertuples())
            want = sorted((label, b[0] * width, b[1] * height, b[2] * width, b[3] * height)
                          for label, b, _ in dets)
            for g, w in zip(got, want):
                assert g[0] == w[0] and all(math.isclose(u, v, abs_tol=1e-6) for u, v in zip(g[1:], w[1:]))
        scored = frame[frame["score"].notna()]
        assert sorted(scored["score"]) == [0.5, 0.9]
    finally:
        dataset.delete()


@pytest.mark.parametrize("layout", ["coco", "roboflow", "fiftyone", "fiftyone splits", "images folder"])
def test_fiftyone_importer_on_each_file_of_a_layout_sees_our_boxes(fo, tmp_path, layout):
    from .test_coco_layouts import make_tree

    files = make_tree(tmp_path, layout)
    frame = read_coco(tmp_path)
    for json_rel, images_rel, split in files:
        dataset = fo.Dataset.from_dir(dataset_type=fo.types.COCODetectionDataset,
                                      data_path=str(tmp_path / images_rel), labels_path=str(tmp_path / json_rel),
                                      label_types="detections", label_field="gt")
        try:
            theirs = {}
            for sample in dataset:
                name = Path(sample.filepath).resolve().relative_to(tmp_path.resolve()).as_posix()
                w, h = sample.metadata.width, sample.metadata.height  # from the JSON's sizes
                dets = sample.gt.detections if sample.gt is not None else []
                theirs[name] = sorted((d.label, *(round(v * s, 6) for v, s in zip(d.bounding_box, (w, h, w, h))))
                                      for d in dets)
        finally:
            dataset.delete()
        ours = frame[frame["split"].fillna("-") == (split or "-")]
        mine = {name: sorted((str(r.category), round(r.x, 6), round(r.y, 6), round(r.w, 6), round(r.h, 6))
                             for r in rows[rows["x"].notna()].itertuples())
                for name, rows in ours.groupby("file_name")}
        assert mine == theirs, json_rel
        assert sum(map(len, mine.values())) == 3


def test_we_read_a_fiftyone_exported_folder(fo, tmp_path):
    from .helpers import fiftyone_export

    sizes = {"a.png": (64, 48), "b.png": (40, 30), "c.png": (20, 20)}
    boxes = {"a.png": [("cat", [0.25, 0.5, 0.5, 0.25])], "b.png": [], "c.png": [("dog", [0, 0, 1, 1]),
                                                                            ("cat", [0.5, 0.5, 0.25, 0.25])]}
    out = fiftyone_export(fo, tmp_path, sizes, boxes, fo.types.COCODetectionDataset)
    assert (out / "labels.json").is_file() and (out / "data").is_dir()
    frame = read_coco(out)
    assert sorted(frame["file_name"].unique()) == [f"data/{n}" for n in sorted(sizes)]
    assert frame["split"].isna().all()
    for name, (w, h) in sizes.items():
        rows = frame[(frame["file_name"] == f"data/{name}")]
        assert (rows["width"] == w).all() and (rows["height"] == h).all()
        got = sorted((r.category, r.x, r.y, r.w, r.h) for r in rows[rows["x"].notna()].itertuples())
        want = sorted((label, b[0] * w, b[1] * h, b[2] * w, b[3] * h) for label, b in boxes[name])
        assert len(got) == len(want)
        for g, e in zip(got, want):
            assert g[0] == e[0] and all(math.isclose(u, v, abs_tol=1e-6) for u, v in zip(g[1:], e[1:]))


def test_a_folder_read_goes_to_fiftyone_with_its_root(fo, tmp_path):
    from aion_pandas.fiftyone import to_fiftyone

    from .test_coco_layouts import make_tree

    make_tree(tmp_path, "roboflow")
    frame = read_coco(tmp_path)
    dataset = to_fiftyone(frame, images_dir=frame.attrs["root"], progress=False)
    try:
        assert len(dataset) == 9 and dataset.info["missing_images"] == []
        assert all(Path(p).is_file() for p in dataset.values("filepath"))
        assert dataset.count("ground_truth.detections") == int(frame["x"].notna().sum())
    finally:
        dataset.delete()
