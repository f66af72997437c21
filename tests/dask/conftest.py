"""Fixtures of the Dask tests: a real 2-process LocalCluster and a demo service of their own.

The cluster is started here, in an importable module, as worker processes re-import what starts
them. ``dask_client`` makes it the active client for one test; tests without it compute on Dask's
default scheduler.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

import aion_pandas as aion
from aion_pandas.client import Client, set_default_client

KEY = "aion_dask_tests_tenant_one_0123456789abcd"
OTHER_KEY = "aion_dask_tests_tenant_two_9876543210dcba"


@pytest.fixture(scope="session")
def dask_service(launch_service, tmp_path_factory: pytest.TempPathFactory):
    """A demo service of our own (its exports do not change the shared service's counts)."""
    return launch_service(tmp_path_factory.mktemp("dask-service"), api_keys=(KEY, OTHER_KEY))


@pytest.fixture
def api(dask_service, tmp_path: Path) -> Client:
    set_default_client(None)
    with Client(dask_service.api_key, dask_service.base_url, cache_dir=tmp_path / "cache", backoff=0.01) as c:
        yield c
    set_default_client(None)


@pytest.fixture
def datasets(api) -> pd.DataFrame:
    """The service's datasets frame (three ready, one failed)."""
    return aion.datasets(client=api)


@pytest.fixture
def ready(datasets) -> pd.DataFrame:
    return datasets[datasets["status"] == "ready"]


@pytest.fixture(scope="session")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.WARNING) as running:
        yield running


@pytest.fixture
def dask_client(cluster):
    """A distributed client of the cluster, active for the test."""
    from distributed import Client as DaskClient
    with DaskClient(cluster) as client:
        yield client
