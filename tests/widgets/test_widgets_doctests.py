"""The examples in the widgets modules' docstrings run."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["aion_pandas.widgets.state", "aion_pandas.widgets.grid", "aion_pandas.widgets.jobs", "aion_pandas.widgets.render", "aion_pandas.widgets.rows",
           "aion_pandas.widgets.view", "aion_pandas.widgets.controller", "aion_pandas.widgets.panel",
           "aion_pandas.widgets"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
