"""The demo data's deliberate problems, found through the real service in every format; show() fetches
the demo's pixels through the client."""
from __future__ import annotations

import warnings

import pytest

import aion_pandas as aion
from aion_pandas.formats.schema import FORMATS
from aion_pandas.server.demo import PROBLEMS


@pytest.fixture
def ready(demo_client):
    return aion.datasets(client=demo_client, status="ready")


def load(ready, name: str, fmt: str, client):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ready[ready["name"] == name].aion.load(fmt, client=client, progress=False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_park_dataset_has_the_four_planted_problems_and_the_others_none(ready, demo_client, fmt):
    park = load(ready, "Park Scenes dataset", fmt, demo_client)
    found = park.aion.check()
    assert sorted(found["kind"].astype(str)) == sorted(PROBLEMS)
    assert found["image_id"].nunique() == 4                      # each in an image of its own
    row = found.set_index("kind").loc["partly_outside"]
    assert row["x"] + row["w"] == pytest.approx(park.loc[row["row"], "width"] + 15, abs=1e-3)
    assert found.set_index("kind").loc["too_small", "w"] == pytest.approx(1.0, abs=1e-3)
    for name in ("Street Scenes dataset", "Warehouse Safety dataset"):
        assert load(ready, name, fmt, demo_client).aion.check().empty, name


def test_the_street_dataset_has_one_natural_overlap_below_the_default_iou(ready, demo_client):
    street = load(ready, "Street Scenes dataset", "coco", demo_client)
    found = street.aion.check(iou=0.85)
    assert found["kind"].tolist() == ["near_duplicate"] and found["message"].str.startswith("IoU 0.88").all()


def test_show_fetches_the_demo_images_through_the_client(ready, demo_client):
    park = load(ready, "Park Scenes dataset", "coco", demo_client)
    fig = park.aion.show(n=4, category="person", client=demo_client, progress=False)
    assert len(fig.axes) == 4 and "with 'person'" in fig._suptitle.get_text()
    sizes = park.drop_duplicates("file_name").set_index(park.drop_duplicates("file_name")["file_name"]
                                                        .str.rsplit("/", n=1).str[-1])
    for ax in fig.axes:
        height, width, _ = ax.images[0].get_array().shape
        assert (width, height) == (sizes.loc[ax.get_title(), "width"], sizes.loc[ax.get_title(), "height"])
        assert not ax.texts                                       # every image was fetched
        assert len(ax.patches) == (park["file_name"].str.endswith("/" + ax.get_title()) & park["x"].notna()).sum()
    assert list((demo_client.cache_dir / "images").rglob("*.jpg"))   # into the client's image cache
