"""The examples in the formats modules' docstrings run."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import aion_pandas.formats

MODULES = ["aion_pandas.formats"] + sorted(
    f"aion_pandas.formats.{m.name}" for m in pkgutil.iter_modules(aion_pandas.formats.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted or name in _WITHOUT_EXAMPLES


_WITHOUT_EXAMPLES: set[str] = set()
