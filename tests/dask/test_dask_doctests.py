"""The examples in the Dask and Parquet modules' docstrings run (those marked SKIP need a service)."""
from __future__ import annotations

import doctest
import importlib

import pandas as pd
import pytest

MODULES = ["dask_frames", "dask_compute", "export_parts", "parquet", "worker_memory"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"aion_pandas.{name}")
    result = doctest.testmod(module, extraglobs={"pd": pd}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if name == "dask_frames":
        assert result.attempted >= 3
