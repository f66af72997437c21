"""The examples in the storage modules' docstrings run (real SQLite files in temp dirs)."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["aion_pandas.server.database", "aion_pandas.server.store", "aion_pandas.server.tables",
           "aion_pandas.server.export_storage", "aion_pandas.server.auth", "aion_pandas.server.settings",
           "aion_pandas.server.worker", "aion_pandas.server.legacy_sqlite", "aion_pandas.cli_deploy"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
