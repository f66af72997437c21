"""``df.aion.to_fiftyone`` delegates to ``aion_pandas.fiftyone.to_fiftyone`` with the loaded frame."""
from __future__ import annotations

import uuid

import pytest

import aion_pandas as aion

pytestmark = pytest.mark.fiftyone


def test_to_fiftyone_makes_one_sample_per_image_with_every_box(own_client):
    fo = pytest.importorskip("fiftyone")
    df = aion.datasets(status="ready", client=own_client).head(1)
    boxes = df.aion.load("coco")
    name = f"client-test-{uuid.uuid4().hex[:8]}"
    dataset = df.aion.to_fiftyone("coco", name=name)
    try:
        assert dataset.name == name and len(dataset) == int(df["successful_items"].iloc[0])
        assert dataset.count("ground_truth.detections") == int(boxes["x"].notna().sum())
        labels = sorted(dataset.distinct("ground_truth.detections.label"))
        assert labels == sorted(boxes["category"].dropna().astype(str).unique())
    finally:
        fo.delete_dataset(name)
