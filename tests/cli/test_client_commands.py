"""`aion-pandas datasets | export | stats` against a real service, as a user runs them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


def _run(service, *args: str, key: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "AIONVISION_BASE_URL": service.base_url,
           "AIONVISION_API_KEY": key or service.api_key}
    return subprocess.run([sys.executable, "-m", "aion_pandas", *args], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def own_service(launch_service, tmp_path_factory):
    """A demo service of this module's own: the exports made here must not change the shared one's counts."""
    return launch_service(tmp_path_factory.mktemp("cli-service"))


def _ready_ids(service) -> list[str]:
    out = _run(service, "datasets", "--status", "ready", "--json")
    assert out.returncode == 0, out.stderr
    return [record["id"] for record in json.loads(out.stdout)]


def test_datasets_lists_the_tenants_datasets(own_service):
    out = _run(own_service, "datasets")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "4 dataset(s)"  # the demo's 3 ready + 1 failed
    assert sum(" ready " in line for line in lines) == 3
    assert len(_ready_ids(own_service)) == 3


def test_export_downloads_the_file_with_the_size_the_service_reports(own_service, tmp_path: Path):
    dataset = _ready_ids(own_service)[0]
    out = _run(own_service, "export", dataset, "--format", "yolo", "--dest", str(tmp_path))
    assert out.returncode == 0, out.stderr
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and zipfile.is_zipfile(files[0])
    assert f"{files[0].stat().st_size:,} bytes" in out.stdout
    names = zipfile.ZipFile(files[0]).namelist()
    assert "data.yaml" in names and any(n.startswith("labels/") for n in names)
    assert own_service.api_key not in out.stdout + out.stderr


def test_export_csv_with_a_delimiter(own_service, tmp_path: Path):
    dataset = _ready_ids(own_service)[0]
    out = _run(own_service, "export", dataset, "--format", "csv", "--delimiter", ";", "--dest", str(tmp_path))
    assert out.returncode == 0, out.stderr
    header = next(tmp_path.iterdir()).read_text(encoding="utf-8").splitlines()[0]
    assert ";" in header and "," not in header


def test_stats_json_counts_the_exports_made(own_service, tmp_path: Path):
    before = json.loads(_run(own_service, "stats", "--json").stdout)["export_statistics"]["total_exports"]
    dataset = _ready_ids(own_service)[0]
    assert _run(own_service, "export", dataset, "--format", "coco", "--dest", str(tmp_path)).returncode == 0
    out = _run(own_service, "stats", "--days", "7", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["export_statistics"]["total_exports"] == before + 1
    text = _run(own_service, "stats")
    assert "(30 days)" in text.stdout and "pascal_voc" in text.stdout


@pytest.mark.parametrize("args, code", [
    (("export", "00000000-0000-0000-0000-000000000000", "--format", "coco"), "NOT_FOUND"),
    (("stats", "--days", "0"), "VALIDATION_ERROR"),
])
def test_errors_are_one_line_with_the_code_and_exit_1(own_service, tmp_path: Path, args, code):
    out = _run(own_service, *args)
    assert out.returncode == 1
    assert code in out.stderr and "Traceback" not in out.stderr
    assert own_service.api_key not in out.stderr


def test_a_bad_key_is_refused_without_showing_it(own_service):
    bad = "aion_wrong_key_0000000000000000"
    out = _run(own_service, "datasets", key=bad)
    assert out.returncode == 1
    assert "INVALID_API_KEY" in out.stderr and bad not in out.stderr
