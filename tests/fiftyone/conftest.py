"""Fixtures of the FiftyOne tests: a demo service of their own (they export, which changes the shared
service's statistics), a client on it, one COCO export of a ready demo dataset, and clean-up of every
FiftyOne dataset a test makes (the database itself is the temp one tests/conftest.py points at)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

fo = pytest.importorskip("fiftyone")

KEY = "aion_fiftyone_tests_tenant_0123456789ab"
OTHER_KEY = "aion_fiftyone_tests_other_ba9876543210"


@dataclasses.dataclass
class Export:
    """A COCO export of one demo dataset: its record, the file downloaded, and its JSON."""
    result: object
    path: Path
    doc: dict


@pytest.fixture(scope="session")
def fo_service(launch_service, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The base URL of a demo service of the FiftyOne tests' own."""
    return launch_service(tmp_path_factory.mktemp("fiftyone-service"), api_keys=(KEY, OTHER_KEY)).base_url


@pytest.fixture(scope="session")
def fo_client(fo_service, tmp_path_factory):
    from aion_pandas.client import Client

    client = Client(KEY, fo_service, cache_dir=tmp_path_factory.mktemp("fiftyone-cache"))
    yield client
    client.close()


@pytest.fixture(scope="session")
def coco_export(fo_client, tmp_path_factory) -> Export:
    """The COCO export of the smallest ready demo dataset that has boxes and images without boxes."""
    import json

    ready = [d for d in fo_client.datasets.list(status="ready", limit=100)]
    assert ready, "the demo service has no ready dataset"
    dataset = min(ready, key=lambda d: d.total_items)
    result = fo_client.datasets.export(dataset.id, "coco")
    path = fo_client.datasets.download(result, tmp_path_factory.mktemp("fiftyone-export"), progress=False)
    return Export(result, Path(path), json.loads(Path(path).read_bytes()))


@pytest.fixture(autouse=True)
def _delete_new_datasets():
    """Every FiftyOne dataset a test makes is deleted afterwards."""
    before = set(fo.list_datasets())
    yield
    for name in set(fo.list_datasets()) - before:
        fo.delete_dataset(name)
