"""Fixtures of the client tests.

Read-only tests use the shared ``service``. Tests that create datasets or exports use
``own_service``: the same real service (``python -m aion_pandas serve --demo``) started for this
folder, so the shared service's statistics stay what other parts' tests expect.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fault_proxy import FaultProxy  # noqa: E402

from aion_pandas.client import Client, set_default_client  # noqa: E402

KEY = "aion_client_tests_tenant_one_0123456789"
OTHER_KEY = "aion_client_tests_tenant_two_9876543210"


@pytest.fixture(scope="session")
def own_service(launch_service, tmp_path_factory: pytest.TempPathFactory):
    """A demo service of our own (two tenants) for tests that create datasets and exports."""
    return launch_service(tmp_path_factory.mktemp("client-service"), api_keys=(KEY, OTHER_KEY))


@pytest.fixture(autouse=True)
def _no_default_client():
    """Every test starts without a default client (``connect()`` sets one)."""
    set_default_client(None)
    yield
    set_default_client(None)


@pytest.fixture
def client(service, tmp_path: Path) -> Client:
    """A client of the shared service (read-only use), with its own cache dir."""
    with Client(service.api_key, service.base_url, cache_dir=tmp_path / "cache", backoff=0.01) as c:
        yield c


@pytest.fixture
def own_client(own_service, tmp_path: Path) -> Client:
    """A client of ``own_service`` (first tenant), with its own cache dir."""
    with Client(own_service.api_key, own_service.base_url, cache_dir=tmp_path / "cache", backoff=0.01) as c:
        yield c


@pytest.fixture
def proxy(own_service):
    """A fault-injecting proxy in front of ``own_service``."""
    with FaultProxy(own_service.root_url) as p:
        yield p


@pytest.fixture
def proxied_client(proxy, own_service, tmp_path: Path) -> Client:
    """A client that talks to ``own_service`` through ``proxy`` (fast backoff, 3 retries, 5 s timeout)."""
    with Client(own_service.api_key, proxy.base_url, cache_dir=tmp_path / "cache", timeout=5, max_retries=3,
                backoff=0.01) as c:
        yield c
