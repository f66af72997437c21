"""The notebooks: their kept outputs are clean, and they run top to bottom under nbval.

nbval runs them in a subprocess against a fresh embedded service (a new ``AION_PANDAS_HOME``, so
``aion.connect()`` starts one with demo data, as on a fresh machine) with ``--nbval-lax``: every cell
must run without error, and the cells marked ``# NBVAL_CHECK_OUTPUT`` must print what they printed
when the notebooks were executed (ids, times, ports and paths sanitized by ``sanitize.cfg``).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from service_backends import free_port

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
NOTEBOOKS = ["quickstart.ipynb", "fiftyone.ipynb", "formats.ipynb", "scale.ipynb"]
#: an API key as the service makes them ("aion_" + 40 url-safe characters), or a bearer header
KEY_LIKE = re.compile(r"aion_[A-Za-z0-9_-]{30,}|Bearer\s+\S+")


def _outputs(nb: dict) -> list[str]:
    texts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            texts.append(json.dumps(out))
    return texts


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_kept_outputs_are_complete_and_show_no_key(name):
    nb = json.loads((ROOT / "notebooks" / name).read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{name} has no code"
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{name}: run it top to bottom once, outputs kept"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{name} keeps an error output: {errors[0].get('ename')}"
    assert any(c.get("outputs") for c in code), f"{name} has no outputs"
    leaks = [m.group(0)[:12] for text in _outputs(nb) for m in [KEY_LIKE.search(text)] if m]
    assert not leaks, f"{name}: an output shows something key-like: {leaks[0]}..."
    checked = [c for c in code if "NBVAL_CHECK_OUTPUT" in "".join(c["source"])]
    assert checked and all(c.get("outputs") for c in checked), f"{name}: checked cells need outputs"


def _stop_service(home: Path) -> None:
    """Stop the embedded service the notebooks started (its pid is in server.json)."""
    info = home / "server.json"
    if not info.exists():
        return
    pid = json.loads(info.read_text()).get("pid")
    try:
        os.kill(int(pid), signal.SIGTERM)
    except (ProcessLookupError, TypeError, ValueError):
        return
    for _ in range(100):
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


@pytest.mark.fiftyone
@pytest.mark.slow
def test_notebooks_run_top_to_bottom_under_nbval(tmp_path):
    pytest.importorskip("nbval")
    home = tmp_path / "aion-home"
    (tmp_path / "tmp").mkdir()
    env = dict(os.environ)
    env.update({
        "TMPDIR": str(tmp_path / "tmp"),                    # what the notebooks write goes with the test
        "AION_PANDAS_HOME": str(home),                      # a fresh embedded service with demo data
        "AION_PANDAS_CACHE_DIR": str(tmp_path / "cache"),
        "FIFTYONE_DEFAULT_APP_PORT": str(free_port()),     # never attach to another running App
        "TQDM_DISABLE": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    })
    for name in ("AIONVISION_API_KEY", "AIONVISION_BASE_URL"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
           "--nbval-sanitize-with", str(HERE / "sanitize.cfg"), "--nbval-cell-timeout", "300",
           "-o", "addopts=", "-o", "testpaths=",
           *[str(ROOT / "notebooks" / n) for n in NOTEBOOKS]]
    try:
        proc = subprocess.run(cmd, cwd=ROOT / "notebooks", env=env, capture_output=True, text=True,
                              timeout=900)
    finally:
        _stop_service(home)
    report = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, report
    assert re.search(r"\b\d+ passed\b", proc.stdout) and "failed" not in proc.stdout, report
    key = (home / "api_key").read_text().strip()
    assert key and key not in proc.stdout and key not in proc.stderr
