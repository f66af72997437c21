"""Fixtures of the analysis tests: the clean frame, and a demo service of our own (loading exports
creates them, which must not change the shared service's counts)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from aion_pandas.client import Client

from .helpers import clean


@pytest.fixture
def clean_frame() -> pd.DataFrame:
    return clean()


@pytest.fixture(scope="session")
def analysis_service(launch_service, tmp_path_factory: pytest.TempPathFactory):
    return launch_service(tmp_path_factory.mktemp("analysis-service"))


@pytest.fixture
def demo_client(analysis_service, tmp_path: Path) -> Client:
    with Client(analysis_service.api_key, analysis_service.base_url, cache_dir=tmp_path / "cache",
                backoff=0.01) as c:
        yield c
