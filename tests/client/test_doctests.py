"""The examples in the client modules' docstrings run (those marked SKIP need a service)."""
from __future__ import annotations

import doctest
import importlib
import tempfile
from pathlib import Path

import pandas as pd
import pytest

import aion_pandas as aion

MODULES = ["config", "errors", "records", "pages", "frames", "plots", "accessor", "client", "client.core",
           "client.retries", "client.downloads", "client.sync_client", "client.async_client",
           "client.datasets", "client.batches", "client.cache", "image_cache"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"aion_pandas.{name}")
    result = doctest.testmod(module, extraglobs={"aion": aion, "pd": pd, "tempfile": tempfile, "Path": Path},
                             optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
