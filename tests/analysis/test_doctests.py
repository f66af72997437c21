"""The examples in the analysis modules' docstrings run (those marked SKIP need files or a service)."""
from __future__ import annotations

import doctest
import importlib

import pandas as pd
import pytest

import aion_pandas as aion

MODULES = ["analysis", "analysis._frame", "analysis.checks", "analysis.summaries", "analysis.comparison",
           "plots_annotations"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"aion_pandas.{name}")
    result = doctest.testmod(module, extraglobs={"aion": aion, "pd": pd},
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
