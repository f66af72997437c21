"""The panel with nothing but the hosted API's routes (a stub of its openapi.json), and its polling under 429s."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "contracts"))
sys.path.insert(0, str(TESTS / "client"))

from fault_proxy import FaultProxy  # noqa: E402
from hosted_stub import BATCH, KEY, RUNNING, HostedStub  # noqa: E402

from aion_pandas.client import Client  # noqa: E402
from aion_pandas.widgets.controller import NO_BATCH_LIST  # noqa: E402


@pytest.fixture
def hosted_panel(tmp_path):
    from aion_pandas.widgets import panel as make_panel

    with HostedStub() as stub, Client(KEY, stub.base_url, max_retries=0, cache_dir=tmp_path) as client:
        p = make_panel(client)
        assert p.wait_idle(30)
        yield p, stub
        p.close()


def test_without_a_batch_list_the_create_tab_takes_a_typed_id(hosted_panel, wait_for):
    panel, stub = hosted_panel
    view = panel.view
    assert panel.state.error == "" and panel.state.batches == []
    assert panel.state.batches_note == NO_BATCH_LIST
    assert "no GET /batches" in view.control("batch-note").value and view.control("batch-note").layout.display is None
    assert view.control("batch").layout.display == "none" and view.control("batch-id").description == "Batch id"
    view.control("batch-id").value = f"  {BATCH.upper()} "  # pasted, with spaces
    view.control("name").value = "from the hosted API"
    view.control("create").click()
    assert panel.wait_idle(30) and panel.state.error == ""
    calls = [(m, p) for m, p, _ in stub.requests]
    assert calls.index(("GET", f"/api/v2/batch/{BATCH}")) < calls.index(("POST", "/api/v2/datasets"))
    [new_id] = stub.datasets
    # the row turns ready first and the poller drops the id from `watching` after its round: wait for both
    row = wait_for(lambda: (r := panel.state.row(new_id)) and r["status"] == "ready" and not panel.state.watching
                   and r, timeout=30, what="the new dataset to be polled to ready and no longer watched")
    assert row["name"] == "from the hosted API"


def test_a_typed_batch_that_is_still_running_is_refused_with_its_status(hosted_panel):
    panel, stub = hosted_panel
    panel.view.control("batch-id").value = RUNNING
    panel.view.control("name").value = "too early"
    panel.view.control("create").click()
    assert panel.wait_idle(30)
    assert panel.state.error.startswith(f"Batch {RUNNING} is processing") and stub.datasets == {}


def test_pending_datasets_keep_being_polled_through_429s(service, tmp_path, wait_for):
    """The poller waits out each 429's Retry-After and keeps the row, also when the client does not retry."""
    from aion_pandas.widgets import panel as make_panel

    batch_id = None
    with FaultProxy(service.root_url) as proxy, \
            Client(service.api_key, proxy.base_url, max_retries=0, cache_dir=tmp_path) as client:
        batch_id = client.batches.list(status="completed")[0].batch_id
        panel = make_panel(client)
        try:
            assert panel.wait_idle(30)
            proxy.fail(429, times=3, method="GET", path="/datasets/", retry_after="1")
            panel.view.control("batch-id").value = batch_id
            panel.view.control("name").value = "polled through 429s"
            panel.view.control("create").click()
            assert panel.wait_idle(30)
            new_id = panel.state.selected_ids[0]
            row = wait_for(lambda: (r := panel.state.row(new_id)) and r["status"] == "ready" and r, timeout=30,
                           what="the dataset to be polled to ready")
            assert row["status"] == "ready" and not panel.state.error
            polls = proxy.seen(f"/datasets/{new_id}")
            assert [s.action for s in polls[:4]] == ["fail", "fail", "fail", "forward"]
            assert all(b.at - a.at >= 0.95 for a, b in zip(polls, polls[1:4]))  # Retry-After waited each time
        finally:
            panel.close()
