"""Fixtures of the format tests (frames are made by code in :mod:`helpers`)."""
from __future__ import annotations

import pandas as pd
import pytest

from .helpers import make_frame


@pytest.fixture
def sample_frame() -> pd.DataFrame:
    return make_frame()
