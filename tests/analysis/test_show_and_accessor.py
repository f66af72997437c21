"""frame.aion.show(): a grid of images with their boxes, from a folder; df.aion on annotation frames."""
from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image

import aion_pandas  # noqa: F401  (registers df.aion)

from .helpers import CLEAN, frame_of


@pytest.fixture
def images_dir(tmp_path):
    for name, size, colour in (("a.jpg", (100, 80), (200, 30, 30)), ("b.jpg", (200, 100), (30, 200, 30))):
        Image.new("RGB", size, colour).save(tmp_path / name)
    return tmp_path   # c.jpg is missing


def rectangles(ax) -> list[tuple[float, float, float, float]]:
    return [(p.get_x(), p.get_y(), p.get_width(), p.get_height()) for p in ax.patches]


def test_show_draws_each_image_with_its_boxes(clean_frame, images_dir):
    fig = clean_frame.aion.show(n=9, images_dir=images_dir, seed=None)
    assert fig._suptitle.get_text() == "3 of 3 images"
    a, b, c = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["a.jpg", "b.jpg", "c.jpg"]
    assert a.images[0].get_array().shape == (80, 100, 3) and b.images[0].get_array().shape == (100, 200, 3)
    assert a.images[0].get_array()[0, 0].astype(int).tolist() == pytest.approx([200, 30, 30], abs=4)  # its pixels
    assert rectangles(a) == [(10.0, 10.0, 30.0, 20.0), (50.0, 40.0, 50.0, 40.0), (12.0, 40.0, 30.0, 20.0)]
    assert rectangles(b) == [(0.0, 0.0, 20.0, 10.0), (150.0, 50.0, 10.0, 10.0)]
    assert a.patches[0].get_edgecolor() == a.patches[2].get_edgecolor() != a.patches[1].get_edgecolor()
    # a missing image is a grey frame of its size saying so
    assert c.images[0].get_array().shape == (50, 50, 3) and [t.get_text() for t in c.texts] == ["image not found"]


def test_show_picks_images_with_a_category_and_a_fixed_sample(clean_frame, images_dir):
    fig = clean_frame.aion.show(category="owl", images_dir=images_dir)
    assert fig._suptitle.get_text() == "1 of 1 images with 'owl'"
    assert [ax.get_title() for ax in fig.axes] == ["b.jpg"]
    assert [p.get_linewidth() for p in fig.axes[0].patches] == [1.8, 1.8]   # the chosen class stands out
    twice = [[ax.get_title() for ax in clean_frame.aion.show(n=2, images_dir=images_dir).axes] for _ in range(2)]
    assert twice[0] == twice[1] and len(twice[0]) == 2
    with pytest.raises(ValueError, match="category 'yak' is not a class of the frame"):
        clean_frame.aion.show(category="yak", images_dir=images_dir)


def test_accessor_works_on_annotation_frames_with_or_without_dataset_ids(clean_frame):
    bare = clean_frame.drop(columns=["dataset_id"])
    assert bare.aion.ids == [] and bare.aion.check().empty and bare.aion.summary().boxes == 5
    assert clean_frame.aion.ids == ["ds"]
    with pytest.raises(AttributeError, match="needs dataset ids: a column 'id' or 'dataset_id'.*"
                                             "or a canonical annotation frame with columns image_id"):
        pd.DataFrame({"name": ["x"]}).aion
    assert pd.DataFrame({"dataset_id": ["a", None, "a"]}).aion.ids == ["a"]   # a datasets frame still


def test_accessor_methods_on_a_datasets_frame_say_what_they_need():
    with pytest.raises(ValueError, match="summary needs a canonical annotation frame"):
        pd.DataFrame({"id": ["d1"], "name": ["x"]}).aion.summary()


def test_the_checked_rows_can_be_dropped(clean_frame):
    frame = frame_of(CLEAN + [CLEAN[0], (2, "b.jpg", 200, 100, "owl", 190.0, 0.0, 30.0, 10.0, 0.5)])
    found = frame.aion.check()
    fixed = frame.drop(found["row"].dropna())
    assert len(found) == 2 and fixed.aion.check().empty and len(fixed) == len(CLEAN)


def test_show_draws_a_box_past_the_edge_whole_and_names_the_classes(images_dir):
    frame = frame_of([(1, "a.jpg", 100, 80, "cat", 90.0, -5.0, 30.0, 20.0, None),
                      (1, "a.jpg", 100, 80, "dog", 10.0, 10.0, 10.0, 10.0, None)])
    fig = frame.aion.show(images_dir=images_dir)
    ax = fig.axes[0]
    assert ax.get_xlim() == (-0.5, 120.0) and ax.get_ylim() == (79.5, -5.0)   # the pixels, and the box
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["cat", "dog"]
