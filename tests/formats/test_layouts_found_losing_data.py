"""Layouts that, tried as users keep them, lost or shifted data without a word; each now reads whole
or is refused, naming the file."""
from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

import aion_pandas as aion
from aion_pandas.errors import FormatError
from aion_pandas.formats.csv import read_csv
from aion_pandas.formats.lossy import MissingImageSizeWarning
from aion_pandas.formats.voc import write_voc
from aion_pandas.formats.yolo import write_yolo

from .helpers import boxes_by_image, write_quietly, zip_bytes

_LABEL = "0 0.5 0.5 0.2 0.4\n"


def _jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("writer", [write_yolo, write_voc])
def test_our_export_unzipped_and_zipped_again_under_its_folder_reads_the_same(sample_frame, writer):
    data = write_quietly(writer, sample_frame)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # what "compress the folder" gives after an unzip
        again = zip_bytes({f"export/{info.filename}": archive.read(info) for info in archive.infolist()})
    original, rezipped = aion.read_export(data), aion.read_export(again)
    assert boxes_by_image(rezipped) == boxes_by_image(original)
    assert rezipped["image_id"].tolist() == original["image_id"].tolist()  # the manifest's ids, not 1..n
    assert rezipped["image_url"].tolist() == original["image_url"].tolist()


def test_macos_metadata_files_in_a_zip_are_not_images_nor_labels():
    members = {"ds/a.jpg": _jpeg(200, 100), "ds/a.txt": _LABEL, "classes.txt": "cat\n",
               "__MACOSX/ds/._a.jpg": b"\x00\x05\x16\x07", "__MACOSX/ds/._a.txt": b"\x00\x05\x16\x07"}
    frame = aion.read_export(zip_bytes(members))
    assert frame[["file_name", "category", "x", "w"]].values.tolist() == [["ds/a.jpg", "cat", 80.0, 40.0]]


def test_a_blank_line_in_classes_txt_keeps_the_indices_after_it():
    members = {"a.jpg": _jpeg(200, 100), "a.txt": "2 0.5 0.5 0.2 0.4\n", "classes.txt": "cat\n\ndog\n\n"}
    frame = aion.read_export(zip_bytes(members))
    assert frame["category"].tolist() == ["dog"]  # not shifted onto a class past the names
    assert list(frame["category"].cat.categories) == ["cat", "1", "dog"]  # the blank one named by its index


def test_a_label_file_named_like_a_list_file_beside_its_image_is_read():
    members = {"classes.txt": "cat\n", "train.jpg": _jpeg(200, 100), "train.txt": _LABEL,
               "b.jpg": _jpeg(200, 100), "b.txt": _LABEL}
    frame = aion.read_export(zip_bytes(members))
    assert frame.dropna(subset=["x"])["file_name"].tolist() == ["b.jpg", "train.jpg"]
    # classes.txt stays the class list, even beside an image named classes.png
    members = {"classes.txt": "cat\n", "classes.jpg": _jpeg(200, 100), "b.jpg": _jpeg(200, 100), "b.txt": _LABEL}
    assert aion.read_export(zip_bytes(members)).dropna(subset=["x"])["category"].tolist() == ["cat"]


def test_a_csv_header_with_blanks_around_its_names_is_refused_not_read_without_boxes():
    with pytest.raises(FormatError, match=r"<bytes> line 1: the header's ' file_name' has blanks around"):
        read_csv(b"image_id, file_name, category, x, y, w, h\n1, a.jpg, cat, 1, 2, 3, 4\n")


def test_a_pose_dataset_is_refused_its_keypoints_not_read_as_a_polygon():
    members = {"data.yaml": "kpt_shape: [4, 2]\nnames: [tiger]\n", "images/a.jpg": _jpeg(200, 100),
               "labels/a.txt": "0 .5 .5 .2 .4 .45 .35 .55 .35 .55 .65 .45 .65\n"}
    with pytest.raises(FormatError, match=r"<bytes>: data.yaml: a pose dataset \(kpt_shape\) is not read"):
        aion.read_export(zip_bytes(members))


_CSV = b"image_id,file_name,category,x,y,w,h\n1,a.jpg,cat,1,2,3,4\n"


def test_a_zip_or_folder_holding_one_csv_reads_it(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "labels.csv").write_bytes(_CSV)
    (tmp_path / "one.zip").write_bytes(zip_bytes({"export/labels.csv": _CSV}))
    for path in (tmp_path / "folder", tmp_path / "one.zip"):
        frame = aion.read_export(path)
        assert frame[["file_name", "category", "x"]].values.tolist() == [["a.jpg", "cat", 1.0]]
    (tmp_path / "two.zip").write_bytes(zip_bytes({"a.csv": _CSV, "b.csv": _CSV}))
    with pytest.raises(FormatError, match=r"two.zip: 2 CSV files, not one: \['a.csv', 'b.csv'\]"):
        aion.read_export(tmp_path / "two.zip")  # (it parsed the zip's own bytes as CSV)


def test_a_coco_json_with_a_bom_reads_and_a_results_list_is_named(tmp_path):
    doc = b'{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [], "categories": []}'
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + doc)
    assert aion.read_export(tmp_path / "bom.json")["file_name"].tolist() == ["a.jpg"]
    (tmp_path / "results.json").write_bytes(b'[{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}]')
    with pytest.raises(FormatError, match=r"results.json: a COCO results file \(detections, no images\)"):
        aion.read_export(tmp_path / "results.json")  # (it was "malformed CSV")


def test_a_folder_left_by_unzip_skips_macos_metadata_too(tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "a.jpg").write_bytes(_jpeg(200, 100))
    (tmp_path / "ds" / "a.txt").write_text(_LABEL)
    (tmp_path / "classes.txt").write_text("cat\n")
    (tmp_path / "__MACOSX" / "ds").mkdir(parents=True)
    (tmp_path / "__MACOSX" / "ds" / "._a.jpg").write_bytes(b"\x00\x05\x16\x07")
    assert aion.read_export(tmp_path)["file_name"].tolist() == ["ds/a.jpg"]


def test_near_misses_of_the_new_rules_read_as_before():
    from aion_pandas.formats.safety import open_archive
    # a file and a folder of one name: no top folder to read from (it raised IndexError)
    assert open_archive(zip_bytes({"x": "1", "x/manifest.csv": "a"})).names == ["x", "x/manifest.csv"]
    # a list nested in a COCO document is not a results file
    with pytest.raises(FormatError) as caught:
        aion.read_export(b'{"images": [[1]], "annotations": []}')
    assert "results file" not in str(caught.value)
    # an empty kpt_shape is no pose dataset
    members = {"data.yaml": "kpt_shape:\nnames: [cat]\n", "images/a.jpg": _jpeg(200, 100), "labels/a.txt": _LABEL}
    assert aion.read_export(zip_bytes(members))["category"].tolist() == ["cat"]


def test_coco_annotations_without_their_images_keep_their_file_names():
    doc = (b'{"images": [{"id": 139, "file_name": "000000000139.jpg", "width": 640, "height": 426}],'
           b' "annotations": [{"id": 1, "image_id": 139, "category_id": 1, "bbox": [1, 2, 3, 4]}],'
           b' "categories": [{"id": 1, "name": "person"}]}')
    frame = aion.read_export(zip_bytes({"annotations/instances_val2017.json": doc}))  # as COCO ships them
    assert frame[["file_name", "split"]].values.tolist() == [["000000000139.jpg", "val"]]  # not annotations/...


# --- found by a new user's read of other tools' datasets (2026-12-06): each as a folder and as a zip


def _both(tmp_path, members: dict) -> list:
    """The members as a folder under ``tmp_path`` and as a zip: each read with read_export."""
    for name, data in members.items():
        path = tmp_path / "ds" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return [tmp_path / "ds", zip_bytes(members)]


def test_a_label_of_one_split_is_never_given_to_the_image_of_its_stem_in_another(tmp_path):
    members = {"data.yaml": "train: images/train\nval: images/val\nnames: [cat, dog]\n",
               "images/train/f1.jpg": _jpeg(64, 48),  # a background image: no label file
               "images/train/f2.jpg": _jpeg(64, 48), "labels/train/f2.txt": "0 0.5 0.5 0.5 0.5\n",
               "labels/val/f1.txt": "1 0.5 0.5 0.5 0.5\n"}  # its image not copied
    for source in _both(tmp_path, members):
        with pytest.warns(MissingImageSizeWarning, match="1 boxes on 1 images"):
            frame = aion.read_export(source).set_index("file_name")
        assert pd.isna(frame.loc["train/f1.jpg", "x"])  # no box of val/f1.txt
        assert frame.loc["val/f1", ["category", "split"]].tolist() == ["dog", "val"]
        assert pd.isna(frame.loc["val/f1", "width"])


def test_hidden_files_are_not_labels_but_a_hidden_list_named_by_the_yaml_is_read(tmp_path):
    members = {"data.yaml": "train: images/train\nnames: [cat]\n", "images/train/a.jpg": _jpeg(64, 48),
               "labels/train/a.txt": _LABEL, "labels/train/.ipynb_checkpoints/a-checkpoint.txt": _LABEL,
               "labels/train/._a.txt": b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X\xff\xff"}
    for source in _both(tmp_path, members):
        frame = aion.read_export(source)
        assert frame[["file_name", "category", "x"]].values.tolist() == [["train/a.jpg", "cat", 25.6]]


def test_a_bom_before_a_label_files_first_line_is_ignored(tmp_path):
    members = {"classes.txt": "cat\n", "a.jpg": _jpeg(100, 50), "a.txt": "\ufeff0 0.5 0.5 0.2 0.4\r\n"}
    for source in _both(tmp_path, members):
        assert aion.read_export(source)[["category", "x", "h"]].values.tolist() == [["cat", 40.0, 20.0]]


def test_roboflow_darknet_names_its_classes_in_darknet_labels_and_its_readme_is_no_label(tmp_path):
    members = {"train/_darknet.labels": "cat\ndog\nbird\n", "train/a.jpg": _jpeg(64, 48),
               "train/a.txt": "2 0.5 0.5 0.25 0.5\n", "README.dataset.txt": "# My dataset > 2024\nhttps://x\n",
               "README.roboflow.txt": "exported\n"}
    for source in _both(tmp_path, members):
        assert aion.read_export(source)[["file_name", "category"]].values.tolist() == [["train/a.jpg", "bird"]]


def test_the_only_yaml_names_the_classes_whatever_its_name(tmp_path):
    members = {"coco128.yaml": "path: .\ntrain: images/train\nnames:\n  0: cat\n  1: dog\n  2: bird\n",
               "images/train/a.jpg": _jpeg(64, 48), "labels/train/a.txt": "2 0.5 0.5 0.25 0.5\n"}
    for source in _both(tmp_path, members):
        assert aion.read_export(source)["category"].tolist() == ["bird"]
    two = {**members, "hyp.yaml": "lr0: 0.01\n"}  # which one is the dataset's is not guessed
    assert aion.read_export(zip_bytes(two))["category"].tolist() == ["2"]


def test_roboflow_yolov8_splits_keep_their_folder_in_the_file_name(tmp_path):
    members = {"data.yaml": "train: ../train/images\nval: ../valid/images\nnames: [cat]\n"}
    for split, size in (("train", (64, 48)), ("valid", (32, 32))):
        members |= {f"{split}/images/x.jpg": _jpeg(*size), f"{split}/labels/x.txt": _LABEL}
    for source in _both(tmp_path, members):
        frame = aion.read_export(source)
        assert frame[["file_name", "split", "width"]].values.tolist() == [["train/x.jpg", "train", 64],
                                                                          ["valid/x.jpg", "val", 32]]


_VOC = ("<annotation><filename>{}</filename>{}<object><name>cat</name><bndbox><xmin>1</xmin><ymin>2</ymin>"
        "<xmax>30</xmax><ymax>40</ymax></bndbox></object></annotation>")


@pytest.mark.parametrize("xml, jpeg", [("{}.xml", "{}.jpg"),  # LabelImg: beside the images
                                       ("VOC2007/Annotations/{}.xml", "VOC2007/JPEGImages/{}.jpg")])
def test_voc_images_without_an_annotation_file_are_rows_and_sizes_come_from_their_headers(tmp_path, xml, jpeg):
    members = {xml.format("a"): _VOC.format("a.jpg", "<size><width>64</width><height>48</height></size>"),
               xml.format("b"): _VOC.format("b.jpg", ""),  # no <size>: the image's header says it
               **{jpeg.format(stem): _jpeg(64 + i, 48) for i, stem in enumerate("abcd")}}  # c, d: not annotated
    for source in _both(tmp_path / xml[:3], members):
        frame = aion.read_export(source)
        assert frame[["file_name", "width"]].values.tolist() == [["a.jpg", 64], ["b.jpg", 65], ["c.jpg", 66],
                                                                 ["d.jpg", 67]]
        assert frame["x"].notna().tolist() == [True, True, False, False]


def test_one_file_of_a_dataset_is_refused_saying_to_pass_its_folder(tmp_path):
    members = {"data.yaml": "train: images/train\nnames: [cat]\n", "images/train/a.jpg": _jpeg(64, 48),
               "labels/train/a.txt": _LABEL, "a.xml": _VOC.format("a.jpg", "")}
    _both(tmp_path, members)
    for name in ("data.yaml", "a.xml", "labels/train/a.txt"):
        with pytest.raises(FormatError, match="one file of a dataset: pass the folder that holds it"):
            aion.read_export(tmp_path / "ds" / name)
    with pytest.raises(FormatError, match=r"not a readable zip .*\(a dataset in a folder: pass the folder\)"):
        aion.read_yolo(tmp_path / "ds" / "data.yaml")
