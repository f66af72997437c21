"""Property-based API checks: schemathesis runs every check it has (``--checks all``) in every phase
(examples, coverage, fuzzing, stateful: the links it infers between operations) against /openapi.json.

Among the checks: no 5xx; documented status codes, content types and headers; bodies match the schema;
schema-valid requests accepted and schema-violating ones refused; ``Allow`` on 405 lists the documented
methods; an unauthenticated request refused; a deleted resource gone. It runs against a service of its own
(fuzzing creates batches and datasets), bounded in examples and with a fixed seed.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aion_pandas.embedded import start_server_process

FUZZ_KEY = "aion_fuzz_tenant_key_0123456789"


@pytest.fixture(scope="module")
def fuzz_service(tmp_path_factory):
    proc, info = start_server_process(tmp_path_factory.mktemp("fuzz"), demo=True,
                                      api_keys=(FUZZ_KEY, "aion_fuzz_other_key"), detached=False)
    yield info
    proc.terminate()
    proc.wait(timeout=15)


def test_api_conforms_to_its_schema_with_every_check(fuzz_service, tmp_path):
    root = fuzz_service["base_url"].rsplit("/api/", 1)[0]
    cli = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [str(cli), "run", f"{root}/openapi.json", "--checks", "all",
         "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", "20", "--seed", "7",
         "-H", f"Authorization: Bearer {FUZZ_KEY}", "--no-color", "--request-timeout", "60",
         "--report", "junit", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,  # its cache (.schemathesis/) stays out of the repo
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"})
    out = result.stdout + result.stderr
    assert "Tested: 17" in out or "Tested:" in out, out[-3000:]
    assert result.returncode == 0, out[-6000:]
    assert " 0 failures" in out or "failures" not in out.split("SUMMARY", 1)[-1], out[-3000:]
    assert FUZZ_KEY not in out  # schemathesis filters the Authorization header in what it prints
