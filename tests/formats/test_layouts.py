"""YOLO datasets as people keep them: folders and zips in the Ultralytics, Darknet and loose layouts.

Each layout is a small tree written here; the reader's boxes are checked against an independent
parse (the standard library reading the label files and Pillow the image sizes), folder and zip
alike, and against FiftyOne's own importer where it has one.
"""
from __future__ import annotations

import os
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageOps

import aion_pandas as aion
from aion_pandas.errors import FormatError
from aion_pandas.formats.lossy import UnplacedAnnotationWarning

# image: (path, width, height, label path or None, label text, split)
_IMAGES = [("a.jpg", 100, 50, "0 0.5 0.5 0.2 0.2\n1 0.1 0.1 0.1 0.1\n", "train"),
           ("b.png", 200, 100, "1 0.5 0.5 0.5 0.5\n", "val"),
           ("c.png", 20, 10, None, "val"),
           ("d.jpg", 64, 64, "0 0.25 0.75 0.5 0.5 0.9\n", "test")]


def _image(path: Path, width: int, height: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height)).save(path)


def _text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def ultralytics(root: Path) -> dict[str, tuple[str, str | None]]:
    _text(root / "data.yaml", "path: .\ntrain: images/train\nval: images/val\ntest: [images/test]\n"
                              "names:\n  0: cat\n  1: dog\n")
    out = {}
    for name, w, h, label, split in _IMAGES:
        _image(root / "images" / split / name, w, h)
        if label is not None:
            _text(root / "labels" / split / (Path(name).stem + ".txt"), label)
        out[f"images/{split}/{name}"] = (f"labels/{split}/{Path(name).stem}.txt" if label else None, split)
    return out


def ultralytics_lists(root: Path) -> dict[str, tuple[str, str | None]]:
    """data.yaml names as a list; splits as list files of image paths."""
    _text(root / "data.yaml", "train: train.txt\nval: val.txt\ntest: test.txt\nnames: [cat, dog]\n")
    out, lists = {}, {"train": [], "val": [], "test": []}
    for name, w, h, label, split in _IMAGES:
        _image(root / "images" / name, w, h)
        if label is not None:
            _text(root / "labels" / (Path(name).stem + ".txt"), label)
        lists[split].append(f"./images/{name}")
        out[f"images/{name}"] = (f"labels/{Path(name).stem}.txt" if label else None, split)
    for split, lines in lists.items():
        _text(root / f"{split}.txt", "\n".join(lines) + "\n")
    return out


def darknet(root: Path) -> dict[str, tuple[str, str | None]]:
    """As CVAT and Darknet lay it out: obj.data points at data/..., the files are at the root."""
    _text(root / "obj.data", "classes = 2\ntrain = data/train.txt\nvalid = data/valid.txt\n"
                             "names = data/obj.names\nbackup = backup/\n")
    _text(root / "obj.names", "cat\ndog\n")
    out, lists = {}, {"train": [], "valid": []}
    for name, w, h, label, split in _IMAGES:
        folder = "obj_train_data" if split == "train" else "obj_valid_data"
        _image(root / folder / name, w, h)
        if label is not None:
            _text(root / folder / (Path(name).stem + ".txt"), label)
        lists["train" if split == "train" else "valid"].append(f"data/{folder}/{name}")
        out[f"{folder}/{name}"] = (f"{folder}/{Path(name).stem}.txt" if label else None,
                                   "train" if split == "train" else "val")
    for split, lines in lists.items():
        _text(root / f"{split}.txt", "\n".join(lines) + "\n")
    return out


def loose(root: Path) -> dict[str, tuple[str, str | None]]:
    """Label files with classes.txt, the images in another folder (paired by stem)."""
    _text(root / "classes.txt", "cat\ndog\n")
    out = {}
    for name, w, h, label, _ in _IMAGES:
        _image(root / "pictures" / name, w, h)
        if label is not None:
            _text(root / "annotations" / (Path(name).stem + ".txt"), label)
        out[f"pictures/{name}"] = (f"annotations/{Path(name).stem}.txt" if label else None, None)
    return out


LAYOUTS = {"ultralytics": ultralytics, "ultralytics_lists": ultralytics_lists, "darknet": darknet,
           "loose": loose}


def _expected(root: Path, layout: dict[str, tuple[str, str | None]]) -> list[tuple]:
    """The boxes by an independent parse: the label lines split by hand, sizes from Pillow."""
    names = ["cat", "dog"]
    rows = []
    for image, (label, split) in layout.items():
        with Image.open(root / image) as im:
            width, height = im.size
        for line in (root / label).read_text().splitlines() if label else []:
            cls, cx, cy, w, h, *score = line.split()
            bw, bh = float(w) * width, float(h) * height
            rows.append((Path(image).name, names[int(cls)], round(float(cx) * width - bw / 2, 6),
                         round(float(cy) * height - bh / 2, 6), round(bw, 6), round(bh, 6), split))
    return sorted(rows)


def _got(frame: pd.DataFrame) -> list[tuple]:
    boxes = frame[frame["x"].notna()]
    split = boxes["split"] if "split" in boxes else pd.Series([None] * len(boxes), index=boxes.index)
    return sorted((Path(f).name, str(c), round(x, 6), round(y, 6), round(w, 6), round(h, 6),
                   None if pd.isna(s) else s)
                  for f, c, x, y, w, h, s in zip(boxes["file_name"], boxes["category"], boxes["x"],
                                                 boxes["y"], boxes["w"], boxes["h"], split))


def _zip_of(folder: Path, dest: Path, top: str | None) -> Path:
    with zipfile.ZipFile(dest, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                archive.write(path, f"{top}/{name}" if top else name)
    return dest


@pytest.mark.parametrize("container", ["folder", "zip", "zip with a top folder"])
@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_each_layout_reads_box_for_box_with_splits(tmp_path, name, container):
    root = tmp_path / "dataset"
    layout = LAYOUTS[name](root)
    source = root if container == "folder" else _zip_of(
        root, tmp_path / "dataset.zip", "dataset" if "top" in container else None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing unplaced, no size missing
        frame = aion.read_export(source)
    assert frame.attrs["format"] == "yolo"
    assert _got(frame) == _expected(root, layout)
    assert frame["image_id"].nunique() == len(_IMAGES)  # c.png, with no label file, is kept
    kept = frame.drop_duplicates("image_id").set_index(frame.drop_duplicates("image_id")["file_name"]
                                                       .map(lambda f: Path(f).name))
    assert kept.loc["c.png", ["width", "height"]].tolist() == [20, 10]
    assert list(frame["category"].cat.categories) == ["cat", "dog"]


def test_the_same_reads_through_read_yolo_and_read_export(tmp_path):
    layout = ultralytics(tmp_path / "ds")
    a = aion.read_yolo(tmp_path / "ds")
    b = aion.read_export(str(tmp_path / "ds") + "/")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    assert len(layout) == 4


@pytest.mark.parametrize("container", ["folder", "zip"])
def test_yolo_labels_in_a_folder_named_like_voc_s_are_yolo_not_an_empty_frame(tmp_path, container):
    root = tmp_path / "ds"
    _text(root / "obj.names", "cat\ndog\n")
    _text(root / "Annotations" / "a.txt", "0 0.5 0.5 0.2 0.2\n")
    _text(root / "Annotations" / "b.txt", "1 0.5 0.5 0.2 0.2\n")
    source = root if container == "folder" else _zip_of(root, tmp_path / "ds.zip", None)
    with pytest.warns(UserWarning, match="2 boxes on 2 images have no image size"):
        frame = aion.read_export(source)
    assert frame.attrs["format"] == "yolo"
    assert frame["category"].astype(str).tolist() == ["cat", "dog"]


def test_annotation_files_that_yield_no_box_are_an_error_not_an_empty_frame(tmp_path):
    root = tmp_path / "ds"
    _text(root / "classes.txt", "cat\n")
    _text(root / "labels" / "a.txt", "")
    with pytest.raises(FormatError, match="the 1 label files hold no box"):
        aion.read_export(root)
    shutil.rmtree(root / "labels")
    _text(root / "notes" / "readme.md", "nothing here")
    with pytest.raises(FormatError, match="no YOLO label files"):
        aion.read_yolo(root)


@pytest.mark.parametrize("name, orientation", [("a.jpg", 1), ("a.jpg", 3), ("a.jpg", 6), ("a.jpg", 8),
                                               ("a.jpg", 5), ("a.tif", 6), ("a.webp", 8), ("a.png", 6)])
def test_image_sizes_are_as_shown_after_the_exif_orientation(tmp_path, name, orientation):
    root = tmp_path / "ds"
    exif = Image.Exif()
    exif[0x0112] = orientation  # 5 to 8: stored 100 x 40, shown turned a quarter
    (root / "images").mkdir(parents=True)
    Image.new("RGB", (100, 40)).save(root / "images" / name, exif=exif)
    _text(root / "labels" / "a.txt", "0 0.5 0.5 0.5 0.25\n")
    with Image.open(root / "images" / name) as opened:
        shown = ImageOps.exif_transpose(opened).size  # Pillow's own reading of the orientation
    row = aion.read_export(root).iloc[0]
    assert (row["width"], row["height"]) == shown == ((40, 100) if orientation >= 5 else (100, 40))
    assert (row["w"], row["h"]) == (shown[0] * 0.5, shown[1] * 0.25)


def test_a_damaged_exif_block_leaves_the_size_as_stored(tmp_path):
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    Image.new("RGB", (100, 40)).save(root / "images" / "a.jpg", dpi=(72, 72), exif=b"Exif\x00\x00not TIFF")
    with Image.open(root / "images" / "a.jpg") as opened, pytest.raises(SyntaxError):
        opened.getexif()  # what Pillow does with it
    _text(root / "labels" / "a.txt", "0 0.5 0.5 0.5 0.25\n")
    row = aion.read_export(root).iloc[0]
    assert (row["width"], row["height"], row["w"]) == (100, 40, 50.0)


def test_stray_text_files_outside_labels_are_named_in_a_warning(tmp_path):
    root = tmp_path / "ds"
    ultralytics(root)
    _text(root / "extra" / "x.txt", "0 0.5 0.5 0.1 0.1\n")
    with pytest.warns(UnplacedAnnotationWarning, match=r"1 .txt files are outside labels/.*extra/x.txt"):
        frame = aion.read_export(root)
    assert frame["x"].notna().sum() == 4


def test_a_label_beside_an_image_is_named_in_a_warning_when_labels_holds_the_labels(tmp_path):
    root = tmp_path / "ds"
    ultralytics(root)
    _text(root / "images" / "train" / "a.txt", "0 0.5 0.5 0.1 0.1\n")  # beside images/train/a.jpg
    with pytest.warns(UnplacedAnnotationWarning, match=r"1 .txt files are outside labels/.*"
                                                        r"images/train/a.txt"):
        frame = aion.read_export(root)
    assert frame["x"].notna().sum() == 4  # the boxes of labels/ only


def test_list_files_under_a_hidden_folder_keep_their_dot(tmp_path):
    root = tmp_path / "ds"
    want = ultralytics_lists(root)
    (root / ".lists").mkdir()
    for split in ("train", "val", "test"):
        (root / f"{split}.txt").rename(root / ".lists" / f"{split}.txt")
    _text(root / "data.yaml", "train: ./.lists/train.txt\nval: ./.lists/val.txt\n"
                              "test: ./.lists/test.txt\nnames: [cat, dog]\n")
    frame = aion.read_export(root).drop_duplicates("file_name")
    assert dict(zip(frame["file_name"], frame["split"])) == \
        {image.removeprefix("images/"): split for image, (_, split) in want.items()}


def test_a_folder_round_trips_through_our_folder_layout_with_splits(tmp_path):
    ultralytics(tmp_path / "ds")
    first = aion.read_export(tmp_path / "ds")
    aion.write_export(first, tmp_path / "out", "yolo")
    assert (tmp_path / "out" / "labels" / "train" / "a.txt").is_file()
    assert (tmp_path / "out" / "labels" / "val" / "c.txt").read_text() == ""
    assert "val: images/val" in (tmp_path / "out" / "data.yaml").read_text()
    again = aion.read_export(tmp_path / "out")
    cols = ["file_name", "split", "width", "height", "category", "x", "y", "w", "h", "score"]
    pd.testing.assert_frame_equal(first[cols].reset_index(drop=True), again[cols].reset_index(drop=True),
                                  check_exact=False, atol=1e-3)


def test_a_link_out_of_the_folder_is_refused(tmp_path):
    root = tmp_path / "ds"
    ultralytics(root)
    outside = tmp_path / "secret.txt"
    outside.write_text("0 0.5 0.5 0.1 0.1\n")
    os.symlink(outside, root / "labels" / "train" / "z.txt")
    with pytest.raises(FormatError, match="labels/train/z.txt: the file is a link out of the folder"):
        aion.read_export(root)


@pytest.mark.fiftyone
@pytest.mark.parametrize("split", ["train", "val"])
def test_fiftyone_s_yolov5_importer_reads_the_same_folder_to_the_same_boxes(tmp_path, split):
    import fiftyone as fo

    root = tmp_path / "ds"
    ultralytics(root)
    ours = aion.read_export(root)
    ours = ours[(ours["split"] == split) & ours["x"].notna()]
    dataset = fo.Dataset.from_dir(dataset_dir=str(root), dataset_type=fo.types.YOLOv5Dataset,
                                  yaml_path="data.yaml", split=split, label_field="gt")
    try:
        theirs = []
        for sample in dataset:
            width, height = Image.open(sample.filepath).size
            for d in (sample.gt.detections if sample.gt else []):
                x, y, w, h = d.bounding_box
                theirs.append((Path(sample.filepath).name, d.label, round(x * width, 3),
                               round(y * height, 3), round(w * width, 3), round(h * height, 3)))
        mine = [(Path(f).name, str(c), round(x, 3), round(y, 3), round(w, 3), round(h, 3))
                for f, c, x, y, w, h in ours[["file_name", "category", "x", "y", "w", "h"]]
                .itertuples(index=False)]
        assert sorted(mine) == sorted(theirs) and theirs
        assert np.isfinite([t[2] for t in theirs]).all()
    finally:
        dataset.delete()


def test_folder_limits_bound_the_file_count_and_each_file_read_not_the_images_on_disk(tmp_path):
    from aion_pandas.formats.safety import Limits

    root = tmp_path / "ds"
    ultralytics(root)
    frame = aion.read_yolo(root, limits=Limits(max_total_bytes=1_000))  # images on disk: no bomb
    assert frame["x"].notna().sum() == 4
    with pytest.raises(FormatError, match="the folder holds more than 5 files"):
        aion.read_yolo(root, limits=Limits(max_members=5))
    with pytest.raises(FormatError, match=r": (data.yaml|labels/train/a.txt): the file is larger than the limit of 10 bytes"):
        aion.read_yolo(root, limits=Limits(max_member_bytes=10))


@pytest.mark.parametrize("stem", ["test", "train", "classes_of_mine", "readme"])
def test_an_image_named_like_a_list_file_keeps_its_boxes(tmp_path, stem):
    frame = pd.DataFrame({"file_name": [f"{stem}.jpg", "a.jpg"], "width": [100, 100],
                          "height": [50, 50], "category": ["cat", "cat"], "x": [10.0, 20.0],
                          "y": [5.0, 5.0], "w": [20.0, 20.0], "h": [10.0, 10.0]})
    for dest in (tmp_path / "x.zip", tmp_path / "folder"):
        aion.write_export(frame, dest, "yolo")
        back = aion.read_export(dest)
        assert back["x"].tolist() == [20.0, 10.0] or sorted(back["x"]) == [10.0, 20.0]
        assert back["x"].notna().all()


def test_read_export_honours_the_limits_given(tmp_path):
    from aion_pandas.formats.safety import Limits

    ultralytics(tmp_path / "ds")
    with pytest.raises(FormatError, match="larger than the limit of 10 bytes"):
        aion.read_export(tmp_path / "ds", limits=Limits(max_member_bytes=10))
    with pytest.raises(FormatError, match="holds 8 members, more than the limit of 5"):
        aion.read_export(_zip_of(tmp_path / "ds", tmp_path / "ds.zip", None), limits=Limits(max_members=5))
