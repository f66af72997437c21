"""``connect()``: environment settings, and the embedded local service when nothing is configured."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

import aion_pandas as aion
from aion_pandas.client import set_default_client


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    """A data dir of our own for the embedded service; the service started in it is stopped after."""
    home = tmp_path / "aion-home"
    monkeypatch.setenv("AION_PANDAS_HOME", str(home))
    monkeypatch.delenv("AION_PANDAS_CACHE_DIR", raising=False)
    yield home
    info_path = home / "server.json"
    if info_path.exists():
        pid = json.loads(info_path.read_text())["pid"]
        try:
            os.kill(pid, signal.SIGTERM)  # only the service this test started (its recorded pid)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:  # our child (the embedded service is started by this process): reap it
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done != pid
    except ChildProcessError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def test_connect_with_nothing_configured_starts_the_local_service(fresh_home, capsys):
    client = aion.connect()
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "using the local service at http://127.0.0.1:" in out[0]
    assert "started it" in out[0] and str(fresh_home) in out[0]
    info = json.loads((fresh_home / "server.json").read_text())
    assert client.base_url == info["base_url"] and aion.default_client() is client
    key = (fresh_home / "api_key").read_text().strip()
    assert key not in out[0] and key not in repr(client) and client.settings.api_key.reveal() == key
    assert client.cache_dir == fresh_home / "cache"
    df = aion.datasets()  # the default client, the demo data
    assert (df["status"] == "ready").sum() >= 3

    again = aion.connect()  # reuses the running service
    line = capsys.readouterr().out.strip()
    assert "already running" in line and again.base_url == client.base_url
    assert json.loads((fresh_home / "server.json").read_text())["pid"] == info["pid"]

    set_default_client(None)  # default_client() connects on first use
    default = aion.default_client()
    assert aion.default_client() is default and default.base_url == client.base_url
    assert "already running" in capsys.readouterr().out


def test_connect_reads_the_environment(service, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("AIONVISION_API_KEY", service.api_key)
    monkeypatch.setenv("AIONVISION_BASE_URL", service.base_url)
    monkeypatch.setenv("AION_PANDAS_CACHE_DIR", str(tmp_path / "c"))
    client = aion.connect(timeout=5, max_retries=1)
    assert capsys.readouterr().out == ""  # nothing to announce
    assert client.base_url == service.base_url and client.cache_dir == tmp_path / "c"
    assert (client.settings.timeout, client.settings.max_retries) == (5.0, 1)
    assert service.api_key not in repr(client) and client.datasets.list().total_count >= 3
