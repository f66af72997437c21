"""``load(engine="dask")`` on a real 2-process LocalCluster against the real service."""
from __future__ import annotations

import os
import pickle

import cloudpickle
import pandas as pd
import pytest

import aion_pandas as aion
from aion_pandas import errors
from aion_pandas.dask_frames import ExportPart, from_exports, meta_for, partitions_of
from aion_pandas.formats.schema import CORE_COLUMNS, EXTRA_COLUMNS

from dask_helpers import captured, sorted_rows, start_capture

FORMATS = ["coco", "csv", "yolo", "pascal_voc"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_dask_frame_equals_the_pandas_frame_row_for_row(ready, dask_client, fmt):
    pandas_frame = ready.aion.load(fmt, progress=False)
    classes = list(pandas_frame["category"].cat.categories)
    lazy = ready.aion.load(fmt, engine="dask", categories=classes, progress=False)
    assert lazy.npartitions == len(ready)
    table = partitions_of(lazy)
    assert table["dataset_id"].tolist() == list(ready.index)  # one partition per dataset, in order
    assert not any("signature" in s for s in table["source"])
    assert lazy.dtypes.to_dict() == meta_for(fmt, classes).dtypes.to_dict()
    for name, dtype in lazy.dtypes.items():  # the canonical dtypes, as the readers give them
        expected = {**CORE_COLUMNS, **EXTRA_COLUMNS}.get(name)
        if expected is not None:
            assert str(dtype) == expected, name
    computed = lazy.compute()
    assert computed.dtypes.to_dict() == lazy.dtypes.to_dict()
    # the CSV's exported_at is the time of each export: the dask path exports anew (the pandas path
    # may reuse its cached export), so that column is only checked to be there
    same = [c for c in pandas_frame.columns if c != "exported_at"]
    assert ("exported_at" in pandas_frame.columns) == (fmt == "csv")
    if fmt == "csv":
        assert computed["exported_at"].notna().all()
    pd.testing.assert_frame_equal(sorted_rows(computed, same), sorted_rows(pandas_frame, same))
    others = [c for c in computed.columns if c not in pandas_frame.columns]
    assert computed[others].isna().all().all()  # extras this format can carry that these exports lack
    for k, dataset_id in enumerate(ready.index):  # each partition holds its dataset, whole
        part = lazy.partitions[k].compute()
        assert set(part["dataset_id"]) == {dataset_id}
        assert len(part) == (pandas_frame["dataset_id"] == dataset_id).sum()


def test_without_categories_they_are_unknown_until_computed(ready):
    from dask.dataframe.utils import has_known_categories
    lazy = ready.aion.load("yolo", engine="dask", progress=False)
    assert not has_known_categories(lazy._meta["category"])
    computed = lazy.compute()  # no distributed client: Dask's default scheduler
    pandas_frame = ready.aion.load("yolo", progress=False)
    assert set(computed["category"].cat.categories) == set(pandas_frame["category"].cat.categories)
    left = sorted_rows(computed, list(pandas_frame.columns)).astype({"category": "string"})
    pd.testing.assert_frame_equal(left, sorted_rows(pandas_frame).astype({"category": "string"}))


def test_the_tasks_run_on_the_workers_not_here(ready, dask_client):
    import logging
    from dask_helpers import ListHandler
    pids = dask_client.run(start_capture)
    assert len(pids) == 2 and os.getpid() not in pids.values()
    here = ListHandler()
    logging.getLogger("aion_pandas.dask").addHandler(here)
    try:
        lazy = ready.aion.load("coco", engine="dask", progress=False)
        from distributed import get_task_stream
        with get_task_stream(dask_client) as stream:
            total = len(lazy.compute())
    finally:
        logging.getLogger("aion_pandas.dask").removeHandler(here)
    assert total > 0 and here.messages == []
    reads = [m for messages in dask_client.run(captured).values() for m in messages]
    for dataset_id in ready.index:
        assert sum(m.startswith(f"read dataset {dataset_id} ") for m in reads) == 1, reads
    ran_on = {task["worker"] for task in stream.data if "aion-read" in task["key"][0]}
    assert ran_on and ran_on <= set(pids)


def test_the_api_key_never_travels_to_a_worker(ready, dask_client, dask_service):
    key = dask_service.api_key
    lazy = ready.aion.load("csv", engine="dask", progress=False)
    graph = dict(lazy.__dask_graph__())
    shipped = cloudpickle.dumps(graph)
    assert key.encode() not in shipped and key[5:25].encode() not in shipped
    parts = [p for p in _parts_in(graph)]
    assert len(parts) == len(ready) and all(p.source.startswith(dask_service.root_url + "/exports/") for p in parts)
    assert all(key not in repr(vars(p)) for p in parts)
    assert "signature" not in repr(parts[0])
    environments = dask_client.run(lambda: dict(os.environ))
    assert all(key not in value for env in environments.values() for value in env.values())
    assert len(lazy.compute()) > 0
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(ready.aion.client())


def _parts_in(graph: dict) -> list[ExportPart]:
    found: list[ExportPart] = []

    def walk(obj, depth=0):
        if depth > 6:
            return
        if isinstance(obj, ExportPart):
            found.append(obj)
        elif isinstance(obj, (list, tuple)):
            for item in obj:
                walk(item, depth + 1)
        elif isinstance(obj, dict):
            for item in obj.values():
                walk(item, depth + 1)
        else:
            for attr in ("args", "kwargs", "iterables"):
                if hasattr(obj, attr):
                    walk(getattr(obj, attr), depth + 1)
    for task in graph.values():
        walk(task)
    return list({id(p): p for p in found}.values())


@pytest.mark.parametrize("engine", ["pandas", "dask"])
def test_a_dataset_that_cannot_export_raises_or_is_skipped_by_name(datasets, api, engine):
    ready_ids = list(datasets.index[datasets["status"] == "ready"][:2])
    failed_id = datasets.index[datasets["status"] == "failed"][0]
    frame = pd.DataFrame({"id": [ready_ids[0], failed_id, ready_ids[1]]})  # no status column: exported
    with pytest.raises(errors.ConflictError, match=f"409 DATASET_NOT_READY: dataset '{failed_id}'"):
        frame.aion.load("coco", engine=engine, client=api, progress=False)
    with pytest.warns(UserWarning, match=f"skipped 1 dataset.*export failed: {failed_id}: 409"):
        boxes = frame.aion.load("coco", engine=engine, errors="skip", client=api, progress=False)
    if engine == "dask":
        assert partitions_of(boxes)["dataset_id"].tolist() == ready_ids
        boxes = boxes.compute()
    assert set(boxes["dataset_id"]) == set(ready_ids)
    with pytest.raises(ValueError, match="errors must be 'raise' or 'skip'"):
        frame.aion.load("coco", engine=engine, errors="coerce", client=api)


def test_a_download_that_fails_on_a_worker_names_the_dataset(ready, api, dask_client):
    dataset_id = ready.index[0]
    export = api.datasets.export(dataset_id, "coco")
    forged = export.download_url.rsplit("=", 1)[0] + "=" + "0" * 64
    from dataclasses import replace
    lazy = from_exports([replace(export, download_url=forged)], "coco")
    with pytest.raises(errors.AionError, match=f"dataset {dataset_id} .*download failed \\(HTTP 40[13]\\)") as caught:
        lazy.compute()
    assert "signature" not in str(caught.value)


def test_a_class_outside_the_given_categories_is_an_error_naming_the_dataset(ready, dask_client):
    lazy = ready.head(1).aion.load("coco", engine="dask", categories=["zebra"], progress=False)
    with pytest.raises(errors.FormatError, match=f"dataset {ready.index[0]} .*not among categories"):
        lazy.compute()


def test_the_frame_computes_in_a_groupby(ready, dask_client):
    lazy = ready.aion.load("pascal_voc", engine="dask", progress=False)
    counts = lazy.groupby(["dataset_id", "category"], observed=True).size().compute()
    expected = ready.aion.load("pascal_voc", progress=False).groupby(["dataset_id", "category"],
                                                                     observed=True).size()

    def plain(series):
        frame = series.rename("n").reset_index().astype({"dataset_id": "string", "category": "string"})
        return frame.sort_values(["dataset_id", "category"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(plain(counts), plain(expected))
    assert plain(counts)["n"].sum() == ready.aion.load("pascal_voc", progress=False)["x"].notna().sum()


def test_engine_must_be_pandas_or_dask(ready):
    with pytest.raises(ValueError, match="engine must be 'pandas' or 'dask'"):
        ready.aion.load("coco", engine="spark")


def test_no_dataset_left_is_an_empty_frame_of_the_same_meta(datasets, api):
    failed = datasets[datasets["status"] == "failed"]
    with pytest.warns(UserWarning, match="not ready"):
        lazy = failed.aion.load("voc", engine="dask", progress=False)
    assert lazy.npartitions == 1 and partitions_of(lazy).empty
    computed = lazy.compute()
    assert computed.empty
    assert computed.dtypes.drop("category").to_dict() == meta_for("pascal_voc").dtypes.drop("category").to_dict()
