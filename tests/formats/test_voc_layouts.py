"""Pascal VOC as people keep it: the devkit tree, a bare folder of XML files, nested roots; and
every reader's ``part=(k, n)`` partitions adding up to the whole read."""
from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import aion_pandas as aion
from aion_pandas.errors import FormatError

# stem: (width, height, [(name, xmin, ymin, xmax, ymax, difficult)], split)
_DOCS = {"000005": (500, 375, [("chair", 263, 211, 324, 339, 0), ("chair", 165, 264, 253, 372, 1)], "train"),
         "000007": (500, 333, [("car", 141, 50, 500, 330, 0)], "val"),
         "000009": (500, 375, [("horse", 69, 172, 270, 330, 0), ("person", 150, 141, 229, 284, 0)], "test"),
         "000012": (500, 333, [], "val")}


def _xml(stem: str, width: int, height: int, objects: list[tuple]) -> str:
    body = "".join(
        f"<object><name>{n}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>{d}</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>"
        f"<ymax>{y2}</ymax></bndbox></object>" for n, x1, y1, x2, y2, d in objects)
    return (f"<annotation><folder>VOC2007</folder><filename>{stem}.jpg</filename><size>"
            f"<width>{width}</width><height>{height}</height><depth>3</depth></size>{body}</annotation>")


def devkit(root: Path, year: str = "VOC2007") -> Path:
    base = root / "VOCdevkit" / year
    (base / "Annotations").mkdir(parents=True)
    (base / "ImageSets" / "Main").mkdir(parents=True)
    (base / "JPEGImages").mkdir()
    for stem, (w, h, objects, _) in _DOCS.items():
        (base / "Annotations" / f"{stem}.xml").write_text(_xml(stem, w, h, objects))
        (base / "JPEGImages" / f"{stem}.jpg").write_bytes(b"")
    for split in ("train", "val", "test"):
        stems = [s for s, doc in _DOCS.items() if doc[3] == split]
        (base / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(stems) + "\n")
    (base / "ImageSets" / "Main" / "chair_train.txt").write_text("000005  1\n")  # per class: ignored
    return root


def bare(root: Path) -> Path:
    root.mkdir(parents=True)
    for stem, (w, h, objects, _) in _DOCS.items():
        (root / f"{stem}.xml").write_text(_xml(stem, w, h, objects))
    return root


def _expected(split: bool) -> list[tuple]:
    """An independent parse: ElementTree over the documents written above."""
    out = []
    for stem, (w, h, objects, name_split) in _DOCS.items():
        root = ET.fromstring(_xml(stem, w, h, objects))
        for obj in root.iter("object"):
            box = [float(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
            out.append((root.findtext("filename"), obj.findtext("name"), box[0], box[1],
                        box[2] - box[0], box[3] - box[1], obj.findtext("difficult") == "1",
                        name_split if split else None))
    return sorted(out)


def _got(frame: pd.DataFrame) -> list[tuple]:
    boxes = frame[frame["x"].notna()]
    split = boxes["split"] if "split" in boxes else [None] * len(boxes)
    return sorted((f, str(c), x, y, w, h, bool(d), None if pd.isna(s) else s) for f, c, x, y, w, h, d, s in
                  zip(boxes["file_name"], boxes["category"], boxes["x"], boxes["y"], boxes["w"],
                      boxes["h"], boxes["difficult"], split))


def _zip(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return dest


@pytest.mark.parametrize("container", ["folder", "zip"])
@pytest.mark.parametrize("layout, splits", [(devkit, True), (bare, False)])
def test_each_voc_layout_reads_box_for_box(tmp_path, layout, splits, container):
    root = layout(tmp_path / "ds")
    source = root if container == "folder" else _zip(root, tmp_path / "ds.zip")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = aion.read_export(source)
    assert frame.attrs["format"] == "pascal_voc"
    assert _got(frame) == _expected(splits)
    assert frame["image_id"].tolist()[-1] == 4 and "000012.jpg" in set(frame["file_name"])  # no object: kept
    assert ("split" in frame) == splits


def test_two_devkit_years_in_one_folder_keep_their_own_splits(tmp_path):
    devkit(tmp_path / "ds", "VOC2007")
    devkit(tmp_path / "ds", "VOC2012")
    frame = aion.read_export(tmp_path / "ds")
    assert frame["image_id"].nunique() == 8
    assert frame.groupby("split", observed=True)["image_id"].nunique().to_dict() == \
        {"test": 2, "train": 2, "val": 4}


def test_only_trainval_listed_leaves_the_split_unknown(tmp_path):
    root = devkit(tmp_path / "ds")
    main = root / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main"
    for split in ("train", "val", "test"):
        (main / f"{split}.txt").unlink()
    (main / "trainval.txt").write_text("\n".join(_DOCS) + "\n")
    assert "split" not in aion.read_export(root)


def test_voc_without_any_xml_or_any_object_is_an_error(tmp_path):
    root = tmp_path / "ds"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(_xml("a", 10, 10, []))
    with pytest.raises(FormatError, match="the 1 annotation files hold no object with a box"):
        aion.read_voc(root)
    (root / "Annotations" / "a.xml").unlink()
    (root / "JPEGImages").mkdir()
    (root / "JPEGImages" / "a.jpg").write_bytes(b"")
    with pytest.raises(FormatError, match=r"no Pascal VOC annotation files \(.xml\) found"):
        aion.read_voc(root)


def test_a_classes_txt_past_the_size_limit_is_refused_not_ignored(tmp_path):
    root = bare(tmp_path / "ds")
    (root / "classes.txt").write_text("cat\n" * (5 << 20))  # 20 MiB
    with pytest.raises(FormatError, match=r"classes.txt: larger than 16,777,216 bytes"):
        aion.read_voc(root)


@pytest.mark.fiftyone
def test_fiftyone_s_voc_importer_reads_the_same_folder_to_the_same_boxes(tmp_path):
    import fiftyone as fo

    root = tmp_path / "voc"
    (root / "labels").mkdir(parents=True)
    (root / "data").mkdir()
    for stem, (w, h, objects, _) in _DOCS.items():
        (root / "labels" / f"{stem}.xml").write_text(_xml(stem, w, h, objects))
        (root / "data" / f"{stem}.jpg").write_bytes(b"")
    ours = aion.read_export(root)
    dataset = fo.Dataset.from_dir(dataset_dir=str(root), dataset_type=fo.types.VOCDetectionDataset,
                                  label_field="gt")
    try:
        theirs = sorted((Path(s.filepath).name, d.label, round(d.bounding_box[0] * s.metadata.width, 3),
                         round(d.bounding_box[1] * s.metadata.height, 3))
                        for s in dataset for d in (s.gt.detections if s.gt else []))
        mine = sorted((f, str(c), round(x, 3), round(y, 3)) for f, c, x, y in
                      ours[ours["x"].notna()][["file_name", "category", "x", "y"]].itertuples(index=False))
        assert mine == theirs and len(theirs) == 5
    finally:
        dataset.delete()


@pytest.mark.parametrize("fmt", ["yolo", "pascal_voc"])
@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_parts_add_up_to_the_whole_read(tmp_path, sample_frame, fmt, n):
    from aion_pandas.formats import LossyConversionWarning

    path = tmp_path / f"x.{fmt}.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LossyConversionWarning)
        aion.write_export(sample_frame, path, fmt)
    reader = aion.read_yolo if fmt == "yolo" else aion.read_voc
    whole = reader(path)
    parts = [reader(path, part=(k, n)) for k in range(n)]
    joined = pd.concat(parts, ignore_index=True)
    pd.testing.assert_frame_equal(joined.astype(whole.dtypes), whole.reset_index(drop=True))
    with pytest.raises(ValueError, match="part must be"):
        reader(path, part=(n, n))
