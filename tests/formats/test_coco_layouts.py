"""COCO as people lay it out: JSON + images folders, folders of split files, files without boxes.

Every tree is written by code into tmp_path; the frame is checked box for box against pycocotools
reading each JSON file on its own (the split, the image's path below the root and its size added
by hand from the tree's description).
"""
from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from aion_pandas.errors import FormatError
from aion_pandas.formats import CORE_COLUMNS, LossyConversionWarning, read_coco, write_coco
from aion_pandas.formats.lossy import MissingImageSizeWarning

from .helpers import write_png, zip_bytes

CATEGORIES = [{"id": 0, "name": "objects", "supercategory": "none"},  # Roboflow's parent class: no box
              {"id": 1, "name": "cat", "supercategory": "objects"},
              {"id": 2, "name": "dog", "supercategory": "objects"}]
IMAGES = [("a.png", (64, 48)), ("same.png", (32, 32)), ("c.png", (20, 10))]  # c.png has no box


def coco_doc(first_id: int, *, sizes: bool = True, seed: int = 0) -> dict:
    images = [{"id": first_id + i, "file_name": name, **({"width": w, "height": h} if sizes else {})}
              for i, (name, (w, h)) in enumerate(IMAGES)]
    anns = []
    for i, image in enumerate(images[:-1]):
        for k in range(1 + (i + seed) % 2):
            anns.append({"id": len(anns) + 1, "image_id": image["id"], "category_id": 1 + (k + seed) % 2,
                         "bbox": [1.5 + k, 2 + seed, 3, 4.25], "area": 12.75, "iscrowd": 0})
    return {"images": images, "annotations": anns, "categories": CATEGORIES}


def write_split(root: Path, json_rel: str, images_rel: str, **doc_options) -> None:
    path = root / json_rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(coco_doc(**doc_options)))
    for name, (w, h) in IMAGES:
        write_png(root / images_rel / name, w, h)


# layout -> the files of its tree: (JSON below the root, its images' folder below the root, split)
LAYOUTS = {
    "coco": [("annotations/instances_train2017.json", "train2017", "train"),
             ("annotations/instances_val2017.json", "val2017", "val")],
    "roboflow": [("train/_annotations.coco.json", "train", "train"),
                 ("valid/_annotations.coco.json", "valid", "val"),
                 ("test/_annotations.coco.json", "test", "test")],
    "fiftyone": [("labels.json", "data", None)],
    "fiftyone splits": [("train/labels.json", "train/data", "train"), ("val/labels.json", "val/data", "val")],
    "images folder": [("annotations.json", "images", None)],
}


def make_tree(root: Path, layout: str, *, sizes: bool = True, same_ids: bool = True) -> list:
    files = LAYOUTS[layout]
    for k, (json_rel, images_rel, _) in enumerate(files):
        write_split(root, json_rel, images_rel, first_id=0 if same_ids else 100 * k, sizes=sizes, seed=k)
    return files


def by_pycocotools(root: Path, files: list) -> list[tuple]:
    """(split, path below the root, width, height, sorted boxes) per image, from pycocotools."""
    from pycocotools.coco import COCO

    known = dict(IMAGES)
    rows = []
    for json_rel, images_rel, split in files:
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(str(root / json_rel))
        for image in coco.dataset["images"]:
            boxes = sorted((coco.cats[a["category_id"]]["name"], *map(float, a["bbox"]))
                           for a in coco.imgToAnns[image["id"]])
            w, h = image.get("width"), image.get("height")
            if w is None:
                w, h = known[image["file_name"]]
            rows.append((split, f"{images_rel}/{image['file_name']}", w, h, tuple(boxes)))
    return sorted(rows, key=repr)


def by_frame(frame: pd.DataFrame) -> list[tuple]:
    rows = []
    split = frame["split"] if "split" in frame.columns else pd.Series(pd.NA, index=frame.index)
    for (s, name), group in frame.groupby([split.fillna("-"), frame["file_name"]], sort=False):
        boxes = group[group["x"].notna()]
        rows.append((None if s == "-" else s, name, int(group["width"].iloc[0]), int(group["height"].iloc[0]),
                     tuple(sorted(zip(boxes["category"].astype(str), boxes["x"], boxes["y"], boxes["w"], boxes["h"])))))
    return sorted(rows, key=repr)


@pytest.mark.parametrize("linked", ["labels.json", "data/a.png", "data/more"])
def test_a_link_out_of_the_folder_is_refused_naming_it(tmp_path, linked):
    """One rule for every file of the folder, as YOLO and VOC have it: JSON, image or folder."""
    outside = tmp_path / "outside"
    write_split(outside, "labels.json", ".", first_id=0)
    root = tmp_path / "root"
    make_tree(root, "fiftyone", sizes=False)
    target = outside if linked == "data/more" else outside / Path(linked).name
    if (root / linked).exists():
        (root / linked).unlink()
    (root / linked).symlink_to(target)
    with pytest.raises(FormatError, match=rf"root: {linked}: the file is a link out of the folder"):
        read_coco(root)


def test_a_link_inside_the_folder_is_read(tmp_path):
    make_tree(tmp_path, "fiftyone", sizes=False)
    (tmp_path / "data" / "a.png").rename(tmp_path / "a.png")
    (tmp_path / "data" / "a.png").symlink_to(tmp_path / "a.png")
    frame = read_coco(tmp_path)
    assert frame.loc[frame["file_name"] == "data/a.png", "width"].unique().tolist() == [64]


@pytest.mark.parametrize("sizes", [True, False], ids=["sizes in the JSON", "sizes from the images"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_folder_reads_box_for_box(tmp_path, layout, sizes):
    files = make_tree(tmp_path, layout, sizes=sizes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every image found and measured: no warning
        frame = read_coco(tmp_path)
    assert by_frame(frame) == by_pycocotools(tmp_path, files)
    assert list(frame.columns[:len(CORE_COLUMNS)]) == list(CORE_COLUMNS)
    assert str(frame["split"].dtype) == "string"
    assert frame.attrs["root"] == str(tmp_path.resolve()) and frame.attrs["format"] == "coco"
    assert list(frame["category"].cat.categories) == ["objects", "cat", "dog"]  # by id; 'objects' kept
    assert frame["image_id"].nunique() == 3 * len(files)  # ids of several files made unique
    assert frame.groupby("image_id")["file_name"].nunique().eq(1).all()
    for name in frame["file_name"].unique():
        assert (tmp_path / name).is_file()  # the path below the root is where the image is


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_one_json_file_finds_its_images(tmp_path, layout):
    files = make_tree(tmp_path, layout, sizes=False)
    json_rel, images_rel, _ = files[0]
    frame = read_coco(tmp_path / json_rel)
    assert "split" not in frame.columns  # one file: no split
    root = Path(frame.attrs["root"])
    assert root == (tmp_path / json_rel).parent.resolve() or root == tmp_path.resolve()
    want = [(None, (tmp_path / row[1]).resolve().relative_to(root).as_posix(), *row[2:])
            for row in by_pycocotools(tmp_path, files[:1])]
    assert by_frame(frame) == sorted(want, key=repr)


def test_ids_kept_when_unique_across_files(tmp_path):
    make_tree(tmp_path, "roboflow", same_ids=False)
    frame = read_coco(tmp_path)
    assert sorted(frame["image_id"].unique()) == [0, 1, 2, 100, 101, 102, 200, 201, 202]


def test_images_dir_given(tmp_path):
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "x.json").write_text(json.dumps(coco_doc(1, sizes=False)))
    for name, (w, h) in IMAGES:
        write_png(tmp_path / "pixels" / name, w, h)
    frame = read_coco(tmp_path / "ann" / "x.json", images_dir=tmp_path / "pixels")
    assert frame.attrs["root"] == str((tmp_path / "pixels").resolve())
    assert sorted(frame.drop_duplicates("file_name")[["file_name", "width", "height"]].itertuples(index=False)) == \
        sorted((n, w, h) for n, (w, h) in IMAGES)
    with pytest.raises(FormatError, match="images_dir is not a folder"):
        read_coco(tmp_path / "ann" / "x.json", images_dir=tmp_path / "nowhere")


def test_a_zip_with_images_dir_measures_no_image_outside_it(tmp_path):
    """A name leading out of images_dir (../) is not opened: its size stays unknown, with the warning."""
    doc = coco_doc(1, sizes=False)
    doc["images"][0]["file_name"] = "../outside.png"
    write_png(tmp_path / "outside.png", 64, 48)  # a real image, one level above images_dir
    for name, (w, h) in IMAGES[1:]:
        write_png(tmp_path / "pixels" / name, w, h)
    (tmp_path / "x.zip").write_bytes(zip_bytes({"annotations.json": json.dumps(doc).encode()}))
    with pytest.warns(MissingImageSizeWarning, match="1"):
        frame = read_coco(tmp_path / "x.zip", images_dir=tmp_path / "pixels")
    sizes = frame.drop_duplicates("file_name").set_index("file_name")[["width", "height"]]
    assert sizes.loc["../outside.png"].isna().all()
    assert sizes.loc["same.png"].tolist() == [32, 32] and sizes.loc["c.png"].tolist() == [20, 10]


def test_missing_and_unreadable_images_counted_in_one_warning(tmp_path):
    make_tree(tmp_path, "roboflow", sizes=False)
    (tmp_path / "train" / "a.png").unlink()
    (tmp_path / "valid" / "c.png").write_bytes(b"not an image")
    with pytest.warns(MissingImageSizeWarning) as caught:
        frame = read_coco(tmp_path)
    assert len(caught) == 1
    assert "2 of 9 images without a size in the JSON could not be measured (1 missing, 1 unreadable" in \
        str(caught[0].message)
    lacking = frame.loc[frame["width"].isna(), "file_name"].unique().tolist()
    assert sorted(lacking) == ["train/a.png", "valid/c.png"]
    assert frame["x"].notna().sum() == 9  # the boxes are all there


def test_other_tasks_and_other_json_skipped_with_a_warning(tmp_path):
    files = make_tree(tmp_path, "coco")
    (tmp_path / "annotations" / "captions_train2017.json").write_text(json.dumps(
        {"images": [], "annotations": [{"image_id": 0, "id": 1, "caption": "a cat"}]}))
    (tmp_path / "classes.json").write_text(json.dumps({"names": ["cat"]}))
    with pytest.warns(UserWarning, match=r"2 JSON files not read as COCO detection: "
                                         r"annotations/captions_train2017.json \(another COCO task\), "
                                         r"classes.json \(no images list\)"):
        frame = read_coco(tmp_path)
    assert by_frame(frame) == by_pycocotools(tmp_path, files)


def test_a_json_too_deep_in_a_folder_is_named_not_dropped(tmp_path):
    files = make_tree(tmp_path, "coco")
    write_split(tmp_path, "a/b/c/d/instances_extra.json", "a/b/c/d/images", first_id=500)
    with pytest.warns(UserWarning, match=r"1 JSON files not read as COCO detection: "
                                         r"a/b/c/d/instances_extra.json \(more than 3 folders down\)"):
        frame = read_coco(tmp_path)
    assert by_frame(frame) == by_pycocotools(tmp_path, files)  # what it read: the shallow files
    only_deep = tmp_path / "only_deep"
    write_split(only_deep, "a/b/c/d/instances.json", "a/b/c/d/images", first_id=0)
    with pytest.warns(UserWarning, match=r"more than 3 folders down"), \
            pytest.raises(FormatError, match="no COCO detection JSON in the folder"):
        read_coco(only_deep)


def _captions():
    return {"images": [{"id": 1, "file_name": "a.jpg"}],
            "annotations": [{"id": 1, "image_id": 1, "caption": "A cat on a mat."}]}


def _panoptic():
    return {"images": [{"id": 1, "file_name": "a.jpg"}], "categories": [{"id": 1, "name": "cat"}],
            "annotations": [{"image_id": 1, "file_name": "a.png",
                             "segments_info": [{"id": 5, "category_id": 1, "bbox": [0, 0, 1, 1]}]}]}


def _image_labels():
    return {"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
            "categories": [{"id": 1, "name": "cat"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1}, {"id": 2, "image_id": 2, "category_id": 1}]}


@pytest.mark.parametrize("doc, kind", [(_captions(), "captions"), (_panoptic(), "panoptic segmentation"),
                                       (_image_labels(), "image-level labels")])
@pytest.mark.parametrize("as_folder", [False, True])
def test_files_without_boxes_say_what_they_are(tmp_path, doc, kind, as_folder):
    path = tmp_path / "d" / "x.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError) as info:
        read_coco(path.parent if as_folder else path)
    message = str(info.value)
    assert f"this is a COCO {kind} file, not object detection" in message
    assert "read_coco reads detection files" in message and str(path) in message
    assert "missing required field" not in message  # not the decoder's own words


@pytest.mark.parametrize("docs, words", [
    ({"train/a.json": {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [], "categories": []}},
     "the COCO files of the folder hold no boxes"),
    ({"a.json": {"images": [], "annotations": []}, "b.json": {"images": []}}, "hold no boxes"),
    ({}, "no COCO detection JSON in the folder"),
    ({"notes.json": {"names": ["cat"]}}, "no COCO detection JSON in the folder"),
    ({"train/a.json": coco_doc(0), "val/a.json": {**coco_doc(0), "categories": [
        {"id": 0, "name": "objects"}, {"id": 1, "name": "dog"}, {"id": 2, "name": "cat"}]}},
     r"val/a.json: the category 'dog' has the id 2 in one file and 1 in this one"),
])
def test_a_folder_never_reads_to_nothing(tmp_path, docs, words):
    for rel, doc in docs.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(json.dumps(doc))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(FormatError, match=words):
            read_coco(tmp_path)


def test_a_file_without_boxes_still_reads_its_images(tmp_path):
    """One JSON file with images and no annotation is a valid COCO file (a test split): kept."""
    path = tmp_path / "image_info_test.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "categories": []}))
    frame = read_coco(path)
    assert frame["file_name"].tolist() == ["a.jpg"] and frame["x"].isna().all()
    assert list(frame.columns[:len(CORE_COLUMNS)]) == list(CORE_COLUMNS)


def test_writing_a_split_frame_as_coco_says_split_is_lost(tmp_path):
    make_tree(tmp_path, "roboflow")
    frame = read_coco(tmp_path)
    with pytest.warns(LossyConversionWarning, match=r"split \(9 images\)"):
        write_coco(frame, tmp_path / "all.json")
    again = read_coco(tmp_path / "all.json")
    assert by_frame(again) == [(None, *row[1:]) for row in by_frame(frame.drop(columns="split"))]


def test_nothing_outside_the_folder_is_opened(tmp_path):
    outside = tmp_path / "outside"
    write_split(outside, "x.json", ".", first_id=0)
    root = tmp_path / "root"
    make_tree(root, "fiftyone", sizes=False)
    (root / "linked.json").symlink_to(outside / "x.json")          # a JSON linked from outside
    doc = coco_doc(50, sizes=False)
    doc["images"][0]["file_name"] = "../../outside/a.png"          # a name that climbs out
    (root / "climb").mkdir()
    (root / "climb" / "labels.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=r"root: linked.json: the file is a link out of the folder"):
        read_coco(root)
    (root / "linked.json").unlink()
    with pytest.warns(MissingImageSizeWarning, match=r"3 of 6 images .*\(3 missing"):  # climb/ has no images
        frame = read_coco(root)
    assert sorted(frame["split"].isna().unique()) == [True]
    assert not frame["file_name"].str.contains("outside/x").any()
    climbed = frame[frame["file_name"].str.endswith("outside/a.png")]
    assert len(climbed) and climbed["width"].isna().all()           # listed, never measured


@pytest.mark.parametrize("sizes", [True, False], ids=["sizes in the JSON", "sizes from the images"])
@pytest.mark.parametrize("layout", ["coco", "roboflow", "fiftyone splits"])
def test_a_zip_of_a_layout_reads_as_its_folder(tmp_path, layout, sizes):
    import aion_pandas as aion

    tree = tmp_path / "tree"
    files = make_tree(tree / "export", layout, sizes=sizes)  # one top-level folder in the zip
    data = zip_bytes({p.relative_to(tree).as_posix(): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file()})
    (tmp_path / "export.zip").write_bytes(data)
    want = [(s, f"export/{name}", *rest) for s, name, *rest in by_pycocotools(tree / "export", files)]
    for frame in (read_coco(tmp_path / "export.zip"), read_coco(data), aion.read_export(tmp_path / "export.zip")):
        assert by_frame(frame) == sorted(want, key=repr)
        assert frame.attrs["format"] == "coco" and "root" not in frame.attrs  # no folder to point at


def test_a_zip_names_the_member_of_an_error(tmp_path):
    bad = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "category_id": 9,
                                                                        "bbox": [0, 0, 1, 1]}], "categories": []}
    data = zip_bytes({"d/train/_annotations.coco.json": json.dumps(bad)})
    with pytest.raises(FormatError) as info:
        read_coco(data)
    assert str(info.value) == "<bytes>: d/train/_annotations.coco.json: $.annotations[0]: category_id 9 " \
                              "is not in categories"
