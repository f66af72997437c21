"""`import-batch --coco`: items made from the canonical frame of read_coco, with read_coco's refusals."""
from __future__ import annotations

import json

import pytest

from aion_pandas.errors import FormatError
from aion_pandas.server.coco_import import items_from_coco, items_from_frame
from aion_pandas.formats import read_coco


def _doc(annotations, images=None):
    return {"images": images or [{"id": 7, "file_name": "d\\one.jpg", "width": 40, "height": 30},
                                 {"id": 9, "file_name": "two.jpg"}],
            "annotations": annotations,
            "categories": [{"id": 3, "name": "apple"}, {"id": 4, "name": "pear"}]}


@pytest.mark.parametrize("annotations, want", [
    ([], {"d/one.jpg": [], "two.jpg": []}),
    ([{"image_id": 9, "category_id": 4, "bbox": [5, 5, 4, 4], "score": 0.25},
      {"image_id": 7, "category_id": 3, "bbox": [1, 2, 10, 5]}],
     {"d/one.jpg": [("apple", 1.0, 1.0, 2.0, 10.0, 5.0)], "two.jpg": [("pear", 0.25, 5.0, 5.0, 4.0, 4.0)]}),
    # a box without area is left out; one past the top-left corner is clipped there
    ([{"image_id": 7, "category_id": 3, "bbox": [1, 2, 0, 5]},
      {"image_id": 7, "category_id": 4, "bbox": [-3, -1, 10, 5]}],
     {"d/one.jpg": [("pear", 1.0, 0.0, 0.0, 10.0, 5.0)], "two.jpg": []}),
])
def test_items_box_for_box(annotations, want):
    items = items_from_coco(_doc(annotations))
    assert [i.file_name for i in items] == ["d/one.jpg", "two.jpg"]  # images order
    assert {i.file_name: sorted(i.detections) for i in items} == {k: sorted(v) for k, v in want.items()}
    assert [(i.width, i.height, i.status) for i in items] == [(40, 30, "completed"), (None, None, "completed")]


@pytest.mark.parametrize("doc, words", [
    (_doc([{"image_id": 7, "category_id": 5, "bbox": [0, 0, 1, 1]}]), "$.annotations[0]: category_id 5 is not in categories"),
    (_doc([{"image_id": 7, "category_id": 3, "bbox": [0, 0, -1, 1]}]), "$.annotations[0]: negative box size"),
    (_doc([{"image_id": 7, "category_id": 3, "bbox": [0, 0, 1]}]), "$.annotations[0].bbox"),
    (_doc([], images=[{"id": 1}]), "`file_name` - at `$.images[0]`"),
    ({"annotations": []}, "`images`"),
])
def test_refusals_are_read_coco_s(doc, words):
    with pytest.raises(FormatError) as info:
        items_from_coco(doc)
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)  # the CLI reports ValueErrors and exits 2


def test_a_file_reads_to_the_same_items_as_its_dict(tmp_path):
    doc = _doc([{"image_id": 7, "category_id": 3, "bbox": [1, 2, 10, 5], "score": 0.5}])
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(doc))
    assert items_from_frame(read_coco(path)) == items_from_coco(doc)
