"""Fixtures of the panel tests: a client of the shared demo service and a panel on it."""
from __future__ import annotations

import shutil
import tempfile
import time
from typing import Callable

import pytest


@pytest.fixture
def client(service):
    from aion_pandas.client import Client

    with Client(service.api_key, service.base_url, max_retries=1) as c:
        yield c


@pytest.fixture
def panel(client):
    from aion_pandas.widgets import panel as make_panel

    p = make_panel(client)
    assert p.wait_idle(60)
    yield p
    p.close()


def _wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def select_rows():
    """``select_rows(panel, ids)``: select rows as the browser does, one rectangle per row in the grid's
    ``selections``, at their places in the grid's visible order."""
    def select(panel, ids: list[str]) -> None:
        grid = panel.view.control("table")
        order = [str(i) for i in grid.get_visible_data().index]
        last = len(grid.data.columns) - 1
        grid.selections = [{"r1": order.index(i), "r2": order.index(i), "c1": 0, "c2": last} for i in ids]

    return select


@pytest.fixture
def wait_for():
    """``wait_for(condition, timeout=30, what=...)``: poll until truthy (background threads update the state)."""
    return _wait_for


@pytest.fixture
def page():
    """A page of a fresh headless Chromium (1280 x 1500) that reaches loopback only."""
    from playwright.sync_api import sync_playwright

    from browser_support import open_chromium, require_chromium

    require_chromium()
    profile = tempfile.mkdtemp(prefix="aion-chromium-")
    try:
        with sync_playwright() as pw:
            context = open_chromium(pw, profile, {"width": 1280, "height": 1500})
            try:
                yield context.new_page()
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
